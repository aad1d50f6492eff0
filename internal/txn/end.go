package txn

import (
	"context"
	"fmt"
)

// EndTxn is Kafka's handleEndTransaction for a client: PrepareCommit or PrepareAbort
// is written, the caller is answered, and the markers are written in the background
// (requests meanwhile get CONCURRENT_TRANSACTIONS). A retry of an EndTxn that already
// completed is answered without error, as Kafka does.
func (c *Coordinator) EndTxn(ctx context.Context, id string, producerID int64, epoch int16, commit bool) error {
	return c.withTransaction(ctx, id, func(s *shard, t *transaction) error {
		cur := t.cur
		switch {
		case cur.producerID != producerID:
			return fmt.Errorf("%w: %q has producer id %d, not %d", ErrInvalidProducerIDMapping, id, cur.producerID, producerID)
		case cur.producerEpoch != epoch:
			return fmt.Errorf("%w: epoch %d, %q is at %d", ErrProducerFenced, epoch, id, cur.producerEpoch)
		}
		invalid := fmt.Errorf("%w: %s requested in state %s", ErrInvalidTxnState, endName(commit), cur.state)
		switch cur.state {
		case Ongoing:
			if t.completing {
				return ErrConcurrentTransactions
			}
			return c.prepareEndLocked(s, t, commit)
		case CompleteCommit:
			return ifElse(commit, nil, invalid)
		case CompleteAbort:
			return ifElse(!commit, nil, invalid)
		case PrepareCommit:
			return ifElse(commit, ErrConcurrentTransactions, invalid)
		case PrepareAbort:
			return ifElse(!commit, ErrConcurrentTransactions, invalid)
		default:
			return invalid
		}
	})
}

func endName(commit bool) string { return ifElse(commit, "commit", "abort") }

func ifElse[T any](cond bool, a, b T) T {
	if cond {
		return a
	}
	return b
}

// prepareEndLocked writes PrepareCommit or PrepareAbort and starts the markers.
func (c *Coordinator) prepareEndLocked(s *shard, t *transaction, commit bool) error {
	now := c.now()
	next := t.cur
	next.state, next.updateTime = ifElse(commit, PrepareCommit, PrepareAbort), now
	if err := s.writeState(t.id, &next, now); err != nil {
		return err
	}
	t.cur = next
	c.startCompletionLocked(s, t)
	return nil
}

// startCompletionLocked queues the markers of t's prepared state (markers.go), after
// which the completer writes CompleteCommit or CompleteAbort (complete.go); no
// goroutine of its own. It stops when the shard is unloaded: the next coordinator
// finds the prepared state when it loads and completes it.
func (c *Coordinator) startCompletionLocked(s *shard, t *transaction) {
	t.startCompleting()
	prepared := t.cur
	comp := &completion{s: s, t: t, prepared: prepared, marker: marker{producerID: prepared.producerID,
		producerEpoch: prepared.producerEpoch, commit: prepared.state == PrepareCommit, coordinatorEpoch: s.leaderEpoch}}
	c.markers.dispatch(comp, prepared.partitions)
}
