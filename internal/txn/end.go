package txn

import (
	"context"
	"errors"
	"fmt"
	"time"
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

// startCompletionLocked writes the markers of t's prepared state in the background,
// then CompleteCommit or CompleteAbort. It stops when the shard is unloaded: the next
// coordinator finds the prepared state when it loads and completes it.
func (c *Coordinator) startCompletionLocked(s *shard, t *transaction) {
	t.completing = true
	prepared := t.cur
	c.goBackground(func() { c.complete(s, t, prepared) })
}

func (c *Coordinator) complete(s *shard, t *transaction, prepared txnState) {
	commit := prepared.state == PrepareCommit
	m := marker{producerID: prepared.producerID, producerEpoch: prepared.producerEpoch, commit: commit,
		coordinatorEpoch: s.leaderEpoch, partitions: prepared.partitions}
	if err := c.markers.send(s.ctx, m); err != nil {
		if !errors.Is(err, context.Canceled) {
			c.logger.Warn("transaction markers abandoned", "transactional_id", t.id, "err", err)
		}
		c.clearCompleting(t, prepared)
		return
	}
	for {
		done, err := c.writeComplete(s, t, prepared)
		if done {
			return
		}
		c.logger.Warn("writing transaction completion", "transactional_id", t.id, "err", err)
		select {
		case <-s.ctx.Done():
			c.clearCompleting(t, prepared)
			return
		case <-time.After(c.cfg.Settings.MarkerBackoff):
		}
	}
}

// writeComplete writes CompleteCommit or CompleteAbort if t is still in the state the
// markers were written for. done is false when the write failed and may be retried.
func (c *Coordinator) writeComplete(s *shard, t *transaction, prepared txnState) (done bool, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	cur := t.cur
	if t.removed || cur.producerID != prepared.producerID || cur.producerEpoch != prepared.producerEpoch || cur.state != prepared.state {
		t.completing = false
		return true, nil
	}
	now := c.now()
	next := cur
	next.state, next.partitions, next.updateTime = ifElse(cur.state == PrepareCommit, CompleteCommit, CompleteAbort), nil, now
	if err := s.writeState(t.id, &next, now); err != nil {
		if errors.Is(err, ErrNotCoordinator) {
			return true, nil // the next coordinator completes it
		}
		return false, err
	}
	t.cur, t.completing = next, false
	return true, nil
}

func (c *Coordinator) clearCompleting(t *transaction, prepared txnState) {
	t.mu.Lock()
	if t.cur.producerEpoch == prepared.producerEpoch && t.cur.state == prepared.state {
		t.completing = false
	}
	t.mu.Unlock()
}
