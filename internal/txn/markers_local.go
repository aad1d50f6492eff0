package txn

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nagare-dev/nagare/internal/group"
	"github.com/nagare-dev/nagare/internal/log"
	"github.com/nagare-dev/nagare/internal/partition"
)

// OffsetMarkers learns the outcome of a transaction on a __consumer_offsets partition
// led here once its marker is replicated (Kafka's onTransactionCompleted), as the
// WriteTxnMarkers handler tells it; *group.Coordinator is one.
type OffsetMarkers interface {
	OnTransactionCompleted(partition int32, producerID int64, commit bool)
}

// localWait is a marker appended here whose replication is still to come.
type localWait struct {
	job   int
	tp    TopicPartition
	part  *partition.Partition
	epoch int32
	last  int64
}

// writeLocal appends the markers of partitions this broker leads directly, as the
// WriteTxnMarkers handler would (coordinator origin, acks=all), without the round trip
// through a client and this broker's own request path: the coordinator and the
// partition leaders are often the same broker. All markers are appended first, then
// replication is awaited once for the lot.
func (m *markerSender) writeLocal(jobs []markerJob) []jobResult {
	out := make([]jobResult, len(jobs))
	now := m.c.now()
	var waits []localWait
	for i, j := range jobs {
		mk := j.comp.marker
		lm := log.TxnMarker{ProducerID: mk.producerID, ProducerEpoch: mk.producerEpoch, CoordinatorEpoch: mk.coordinatorEpoch, Commit: mk.commit}
		for _, tp := range j.parts {
			w, err := m.appendLocal(tp, lm, now)
			switch {
			case errors.Is(err, errMarkersFenced):
				out[i].err = err
			case err != nil:
				m.c.logger.Debug("transaction marker not written", "topic", tp.Topic, "partition", tp.Partition, "err", err)
				out[i].failed = append(out[i].failed, tp)
			default:
				w.job, w.tp = i, tp
				waits = append(waits, w)
			}
		}
	}
	deadline := time.Now().Add(markerTimeout)
	for _, w := range waits {
		if err := awaitReplicated(w.part, w.epoch, w.last, time.Until(deadline)); err != nil {
			m.c.logger.Debug("transaction marker not replicated", "topic", w.tp.Topic, "partition", w.tp.Partition, "err", err)
			out[w.job].failed = append(out[w.job].failed, w.tp)
			continue
		}
		if w.tp.Topic == group.OffsetsTopic && m.c.cfg.OffsetMarkers != nil {
			mk := jobs[w.job].comp.marker
			m.c.cfg.OffsetMarkers.OnTransactionCompleted(w.tp.Partition, mk.producerID, mk.commit)
		}
	}
	return out
}

// markerTimeout bounds the wait for a marker's replication, as the WriteTxnMarkers
// handler's request.timeout.ms.
const markerTimeout = 30 * time.Second

// appendLocal appends one marker; a refused epoch is errMarkersFenced.
func (m *markerSender) appendLocal(tp TopicPartition, lm log.TxnMarker, now time.Time) (localWait, error) {
	p, ok := m.c.cfg.Partitions.Get(tp.Topic, tp.Partition)
	if !ok {
		return localWait{}, fmt.Errorf("%w: %s-%d not here", partition.ErrNotLeader, tp.Topic, tp.Partition)
	}
	epoch := p.LeaderEpoch()
	res, err := p.AppendTxnMarker(lm, now)
	switch {
	case errors.Is(err, log.ErrInvalidProducerEpoch), errors.Is(err, log.ErrTxnCoordinatorFenced):
		return localWait{}, fmt.Errorf("%w: %s-%d: %v", errMarkersFenced, tp.Topic, tp.Partition, err)
	case err != nil:
		return localWait{}, err
	}
	return localWait{part: p, epoch: epoch, last: res.LastOffset}, nil
}

// awaitReplicated waits until p's high watermark covers last (acks=all), or says why
// it will not: leadership moved, or timeout passed.
func awaitReplicated(p *partition.Partition, epoch int32, last int64, timeout time.Duration) error {
	err := p.AwaitCommitted(context.Background(), epoch, last, timeout)
	switch {
	case errors.Is(err, partition.ErrNotLeader):
		return fmt.Errorf("%w: leadership of %s-%d moved while waiting for replicas", ErrNotCoordinator, p.Topic(), p.Index())
	case errors.Is(err, partition.ErrNotReplicated):
		return fmt.Errorf("%w: replicas of %s-%d did not copy it in %v", ErrCoordinatorNotAvailable, p.Topic(), p.Index(), timeout)
	}
	return err
}
