package partition

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrNotReplicated is AwaitCommitted's error when the followers did not copy the write
// within the timeout.
var ErrNotReplicated = errors.New("partition: replicas did not copy the write in time")

// AwaitCommitted waits until the high watermark covers last, an offset this broker wrote
// as leader in epoch: an internal writer's acks=all (a coordinator's state record, a
// transaction marker). It returns ErrNotLeader (wrapped) when the leadership moved or the
// log closed, ErrNotReplicated after timeout, or ctx's error; the caller maps them to its
// protocol's errors. The wait wakes when the high watermark reaches last, not at every
// append.
func (p *Partition) AwaitCommitted(ctx context.Context, epoch int32, last int64, timeout time.Duration) error {
	if p.log.HighWatermark() > last {
		return nil
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		wake := p.log.WaitForHighWatermark(last + 1) // before the checks, so no move is missed
		switch {
		case p.log.HighWatermark() > last:
			wake.Stop()
			return nil
		case !p.IsLeader() || p.LeaderEpoch() != epoch || p.log.Closed():
			wake.Stop()
			return fmt.Errorf("%w: %s-%d moved from epoch %d", ErrNotLeader, p.topic, p.index, epoch)
		}
		select {
		case <-wake.Done():
		case <-deadline.C:
			wake.Stop()
			return fmt.Errorf("%w: %s-%d offset %d after %v", ErrNotReplicated, p.topic, p.index, last, timeout)
		case <-ctx.Done():
			wake.Stop()
			return ctx.Err()
		}
	}
}
