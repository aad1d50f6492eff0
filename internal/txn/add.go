package txn

import (
	"context"
	"fmt"
)

// withTransaction runs fn with the existing transaction of id locked, looking again
// when it was removed meanwhile.
func (c *Coordinator) withTransaction(ctx context.Context, id string, fn func(s *shard, t *transaction) error) error {
	if id == "" {
		return fmt.Errorf("%w: empty transactional id", ErrInvalidRequest)
	}
	parks := 0
	for range maxLookups {
		s, t, err := c.transactionFor(ctx, id, false)
		if err != nil {
			return err
		}
		if t.removed {
			t.mu.Unlock()
			continue
		}
		err = fn(s, t)
		idle, ok := parkable(t, err)
		t.mu.Unlock()
		if ok && parks < maxParks && c.park(ctx, idle) {
			parks++
			continue // run again, as the client's retry would
		}
		return err
	}
	return fmt.Errorf("%w: transactional id %q keeps being removed", ErrCoordinatorNotAvailable, id)
}

// checkProducerLocked is the check every client request of a transaction starts with.
func checkProducerLocked(t *transaction, producerID int64, epoch int16) error {
	switch {
	case t.cur.producerID != producerID:
		return fmt.Errorf("%w: %q has producer id %d, not %d", ErrInvalidProducerIDMapping, t.id, t.cur.producerID, producerID)
	case t.cur.producerEpoch != epoch:
		return fmt.Errorf("%w: epoch %d, %q is at %d", ErrProducerFenced, epoch, t.id, t.cur.producerEpoch)
	case t.completing || t.cur.state == PrepareCommit || t.cur.state == PrepareAbort:
		return ErrConcurrentTransactions
	}
	return nil
}

// AddPartitions is Kafka's handleAddPartitionsToTransaction (AddPartitionsToTxn, and
// AddOffsetsToTxn with the group's __consumer_offsets partition): the partitions join
// the transaction, which starts if none was ongoing; the new state is written first.
func (c *Coordinator) AddPartitions(ctx context.Context, id string, producerID int64, epoch int16, partitions []TopicPartition) error {
	return c.withTransaction(ctx, id, func(s *shard, t *transaction) error {
		if err := checkProducerLocked(t, producerID, epoch); err != nil {
			return err
		}
		cur := t.cur
		if cur.state == Ongoing {
			all := true
			for _, tp := range partitions {
				all = all && cur.hasPartition(tp)
			}
			if all {
				return nil
			}
		}
		if !canMove(cur.state, Ongoing) {
			return fmt.Errorf("%w: cannot add partitions in state %s", ErrInvalidTxnState, cur.state)
		}
		now := c.now()
		next := cur
		if cur.state != Ongoing {
			next.startTime = now
		}
		next.state, next.partitions, next.updateTime = Ongoing, cur.withPartitions(partitions), now
		if err := s.writeState(t.id, &next, now); err != nil {
			return err
		}
		t.cur = next
		return nil
	})
}

// VerifyPartitions is Kafka's handleVerifyPartitionsInTransaction (AddPartitionsToTxn
// v4 verifyOnly, the partition leaders' check of KIP-890): nothing is written; each
// partition is fine when it is in the ongoing transaction.
func (c *Coordinator) VerifyPartitions(ctx context.Context, id string, producerID int64, epoch int16, partitions []TopicPartition) ([]error, error) {
	errs := make([]error, len(partitions))
	err := c.withTransaction(ctx, id, func(_ *shard, t *transaction) error {
		if err := checkProducerLocked(t, producerID, epoch); err != nil {
			return err
		}
		for i, tp := range partitions {
			if t.cur.state != Ongoing || !t.cur.hasPartition(tp) {
				errs[i] = fmt.Errorf("%w: %s-%d is not in the transaction", ErrInvalidTxnState, tp.Topic, tp.Partition)
			}
		}
		return nil
	})
	return errs, err
}
