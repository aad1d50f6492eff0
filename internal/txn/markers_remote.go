package txn

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/interbroker"
)

// sendRemote writes the markers of every job to another broker in one
// WriteTxnMarkers, one marker per transaction, and reads each marker's answer.
func (m *markerSender) sendRemote(leader int32, jobs []markerJob) []jobResult {
	out := make([]jobResult, len(jobs))
	failAll := func() []jobResult {
		for i, j := range jobs {
			out[i].failed = j.parts
		}
		return out
	}
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	for _, j := range jobs {
		req.Markers = append(req.Markers, requestMarker(j))
	}
	kresp, err := m.clients.Request(m.c.ctx, leader, req)
	if err != nil {
		m.logSendError(leader, err)
		return failAll()
	}
	resp := kresp.(*kmsg.WriteTxnMarkersResponse)
	for i, j := range jobs {
		out[i].failed, out[i].err = m.failed(leader, answerOf(resp, i, j.comp.marker.producerID), j.parts)
	}
	return out
}

func requestMarker(j markerJob) kmsg.WriteTxnMarkersRequestMarker {
	mk := j.comp.marker
	rm := kmsg.NewWriteTxnMarkersRequestMarker()
	rm.ProducerID, rm.ProducerEpoch, rm.Committed, rm.CoordinatorEpoch = mk.producerID, mk.producerEpoch, mk.commit, mk.coordinatorEpoch
	for _, tp := range j.parts {
		if n := len(rm.Topics); n > 0 && rm.Topics[n-1].Topic == tp.Topic {
			rm.Topics[n-1].Partitions = append(rm.Topics[n-1].Partitions, tp.Partition)
			continue
		}
		t := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
		t.Topic, t.Partitions = tp.Topic, []int32{tp.Partition}
		rm.Topics = append(rm.Topics, t)
	}
	return rm
}

// answerOf finds the answer to the i-th marker: answers come in request order, and a
// producer id has at most one transaction completing, so its id finds it otherwise.
func answerOf(resp *kmsg.WriteTxnMarkersResponse, i int, producerID int64) *kmsg.WriteTxnMarkersResponseMarker {
	if i < len(resp.Markers) && resp.Markers[i].ProducerID == producerID {
		return &resp.Markers[i]
	}
	for k := range resp.Markers {
		if resp.Markers[k].ProducerID == producerID {
			return &resp.Markers[k]
		}
	}
	return nil
}

// failed reads one marker's answer the way Kafka's
// TransactionMarkerRequestCompletionHandler does: fencing stops, unsupported formats
// count as written, the rest (and partitions not answered) is retried.
func (m *markerSender) failed(leader int32, rm *kmsg.WriteTxnMarkersResponseMarker, parts []TopicPartition) ([]TopicPartition, error) {
	answered := map[TopicPartition]int16{}
	if rm != nil {
		for _, t := range rm.Topics {
			for _, p := range t.Partitions {
				answered[TopicPartition{Topic: t.Topic, Partition: p.Partition}] = p.ErrorCode
			}
		}
	}
	var retry []TopicPartition
	for _, tp := range parts {
		code, ok := answered[tp]
		switch {
		case !ok:
			retry = append(retry, tp)
		case code == 0, code == kerr.UnsupportedForMessageFormat.Code, code == kerr.UnsupportedVersion.Code:
		case code == kerr.InvalidProducerEpoch.Code, code == kerr.TransactionCoordinatorFenced.Code:
			return nil, fmt.Errorf("%w: %s-%d on broker %d: %v", errMarkersFenced, tp.Topic, tp.Partition, leader, kerr.ErrorForCode(code))
		default:
			m.c.logger.Debug("transaction marker not written", "broker", leader, "topic", tp.Topic, "partition", tp.Partition, "err", kerr.ErrorForCode(code))
			retry = append(retry, tp)
		}
	}
	return retry, nil
}

// logSendError says why markers did not reach a broker: loudly when retrying cannot
// help (authentication with the inter-broker listener failed, or the broker is not
// registered), quietly for a broker that is away, not at all when closing.
func (m *markerSender) logSendError(leader int32, err error) {
	switch {
	case m.c.ctx.Err() != nil:
	case interbroker.IsAuthError(err):
		m.c.logger.Warn("transaction markers: inter-broker authentication failed", "broker", leader, "err", err)
	case errors.Is(err, interbroker.ErrNotRegistered):
		m.c.logger.Warn("transaction marker client", "broker", leader, "err", err)
	default:
		m.c.logger.Debug("sending transaction markers", "broker", leader, "err", err)
	}
}
