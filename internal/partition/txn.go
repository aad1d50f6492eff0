package partition

import (
	"fmt"
	"time"

	"github.com/nagare-dev/nagare/internal/log"
)

// Appends that do not come from a producer: a transaction coordinator's markers and a
// coordinator's own transactional batches. Producer state checks their epochs but not
// their sequence numbers (Kafka's AppendOrigin.COORDINATOR).

// AppendTxnMarker writes a transaction's commit or abort marker, as the leader, for
// WriteTxnMarkers. Kafka appends markers with acks=all, so min.insync.replicas is
// checked first (ErrNotEnoughReplicas) and the caller waits for the high watermark.
func (p *Partition) AppendTxnMarker(m log.TxnMarker, now time.Time) (log.AppendResult, error) {
	if err := p.checkCoordinatorAppend(); err != nil {
		return log.AppendResult{}, err
	}
	res, err := p.log.AppendTxnMarker(m, log.AppendOptions{LeaderEpoch: p.LeaderEpoch(), Now: now})
	if err != nil {
		return res, err
	}
	p.afterCoordinatorAppend(res)
	return res, nil
}

// AppendAsCoordinator appends batches a coordinator on this broker built (the group
// coordinator's transactional offset commits), as the leader, with acks=all.
func (p *Partition) AppendAsCoordinator(records []byte, now time.Time) (log.AppendResult, error) {
	if err := p.checkCoordinatorAppend(); err != nil {
		return log.AppendResult{}, err
	}
	res, err := p.log.Append(records, log.AppendOptions{LeaderEpoch: p.LeaderEpoch(), Now: now, Origin: log.OriginCoordinator})
	if err != nil {
		return res, err
	}
	p.afterCoordinatorAppend(res)
	return res, nil
}

func (p *Partition) checkCoordinatorAppend() error {
	if !p.isLeader.Load() {
		return fmt.Errorf("%w: %s-%d (leader: %d)", ErrNotLeader, p.topic, p.index, p.leader.Load())
	}
	if minISR := p.topicConfig.Load().MinInsyncReplicas; int(p.replicas.Load()) < minISR {
		return fmt.Errorf("%w: %d in sync, min.insync.replicas=%d", ErrNotEnoughReplicas, p.replicas.Load(), minISR)
	}
	return nil
}

func (p *Partition) afterCoordinatorAppend(res log.AppendResult) {
	p.commitIfSoleISR()
	if !res.Duplicate {
		p.countAppended(0, res.RecordCount)
	}
}
