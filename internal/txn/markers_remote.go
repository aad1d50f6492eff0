package txn

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type markerClient struct {
	addr string
	cl   *kgo.Client
}

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
	cl, err := m.client(leader)
	if err != nil {
		m.c.logger.Warn("transaction marker client", "broker", leader, "err", err)
		return failAll()
	}
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	for _, j := range jobs {
		req.Markers = append(req.Markers, requestMarker(j))
	}
	// The seed is the leader itself: no metadata round trip, and never another broker.
	kresp, err := cl.SeedBrokers()[0].Request(m.c.ctx, req)
	if err != nil {
		if m.c.ctx.Err() == nil {
			m.c.logger.Debug("sending transaction markers", "broker", leader, "err", err)
		}
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

// client returns the client for a broker, made anew when its address changed.
func (m *markerSender) client(nodeID int32) (*kgo.Client, error) {
	b, ok := m.c.cfg.Metadata.Image().Broker(nodeID)
	if !ok {
		return nil, fmt.Errorf("broker %d is not registered", nodeID)
	}
	addr := net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errors.New("txn: closed")
	}
	if mc := m.clients[nodeID]; mc != nil {
		if mc.addr == addr {
			return mc.cl, nil
		}
		mc.cl.Close()
		delete(m.clients, nodeID)
	}
	opts := append([]kgo.Opt{kgo.SeedBrokers(addr),
		kgo.ClientID(fmt.Sprintf("nagare-txn-markers-%d", m.c.cfg.NodeID)),
		kgo.RequestRetries(0)}, m.c.cfg.ClientOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("client for broker %d at %s: %w", nodeID, addr, err)
	}
	m.clients[nodeID] = &markerClient{addr: addr, cl: cl}
	return cl, nil
}
