package txn

import (
	"context"
	"fmt"
	"time"
)

// ProducerIDAndEpoch is what InitProducerId answers.
type ProducerIDAndEpoch struct {
	ID    int64
	Epoch int16
}

// InitRequest is an InitProducerId with a transactional id. ProducerID and
// ProducerEpoch are -1 unless the producer is recovering its own id (KIP-360, v3+).
type InitRequest struct {
	TransactionalID string
	Timeout         time.Duration
	ProducerID      int64
	ProducerEpoch   int16
}

// maxLookups bounds retries of a lookup that keeps finding its transaction removed.
const maxLookups = 8

// InitProducerID is Kafka's TransactionCoordinator.handleInitProducerId: the id gets
// its producer id and a bumped epoch, which fences every older producer. An ongoing
// transaction of the old epoch is aborted first (with the epoch bumped, so its
// producer is fenced) and the caller answered CONCURRENT_TRANSACTIONS to retry.
func (c *Coordinator) InitProducerID(ctx context.Context, req InitRequest) (ProducerIDAndEpoch, error) {
	none := ProducerIDAndEpoch{ID: noProducerID, Epoch: noProducerEpoch}
	if req.TransactionalID == "" {
		return none, fmt.Errorf("%w: empty transactional id", ErrInvalidRequest)
	}
	if (req.ProducerID < 0) != (req.ProducerEpoch < 0) {
		return none, fmt.Errorf("%w: producer id and epoch must be given together", ErrInvalidRequest)
	}
	if req.Timeout <= 0 || req.Timeout > c.cfg.Settings.MaxTimeout {
		return none, fmt.Errorf("%w: %v, transaction.max.timeout.ms is %v", ErrInvalidTransactionTimeout, req.Timeout, c.cfg.Settings.MaxTimeout)
	}
	parks := 0
	for range maxLookups {
		s, t, err := c.transactionFor(ctx, req.TransactionalID, true)
		if err != nil {
			return none, err
		}
		pe, err, retry := c.initLocked(ctx, s, t, req)
		idle, parked := parkable(t, err)
		t.mu.Unlock()
		if parked && parks < maxParks && c.park(ctx, idle) {
			parks++
			continue // run again, as the client's retry would (bumping the epoch again)
		}
		if !retry {
			return pe, err
		}
	}
	return none, fmt.Errorf("%w: transactional id %q keeps being removed", ErrCoordinatorNotAvailable, req.TransactionalID)
}

// initLocked is prepareInitProducerIdTransit and its write; retry says t was removed.
func (c *Coordinator) initLocked(ctx context.Context, s *shard, t *transaction, req InitRequest) (pe ProducerIDAndEpoch, err error, retry bool) {
	pe = ProducerIDAndEpoch{ID: noProducerID, Epoch: noProducerEpoch}
	if t.removed {
		return pe, nil, true
	}
	cur := t.cur
	expected := req.ProducerID >= 0
	if t.completing {
		return pe, ErrConcurrentTransactions, false
	}
	if expected && !validRecovery(cur, req) {
		return pe, fmt.Errorf("%w: producer %d/%d is not this id's %d", ErrProducerFenced, req.ProducerID, req.ProducerEpoch, cur.producerID), false
	}
	now := c.now()
	var next txnState
	switch cur.state {
	case PrepareCommit, PrepareAbort:
		return pe, ErrConcurrentTransactions, false
	case Ongoing:
		next = fenceEpoch(cur, now)
		if err := s.writeState(t.id, &next, now); err != nil {
			return pe, err, false
		}
		t.cur = next
		c.startCompletionLocked(s, t)
		return pe, fmt.Errorf("%w: aborting the transaction of the previous epoch", ErrConcurrentTransactions), false
	case Empty, CompleteCommit, CompleteAbort:
		if epochExhausted(cur.producerEpoch) && (!expected || req.ProducerEpoch == cur.producerEpoch) {
			id, err := c.cfg.ProducerIDs.NextProducerID(ctx)
			if err != nil {
				return pe, fmt.Errorf("%w: allocating a producer id: %v", ErrCoordinatorNotAvailable, err), false
			}
			next = rotate(cur, id, expected, req.Timeout, now)
		} else if next, err = incrementEpoch(cur, expected, req.ProducerEpoch, req.Timeout, now); err != nil {
			return pe, err, false
		}
	default:
		return pe, fmt.Errorf("%w: %s in state %s", ErrInvalidTxnState, t.id, cur.state), false
	}
	if next.producerEpoch != cur.producerEpoch || next.producerID != cur.producerID || next.state != cur.state || next.timeout != cur.timeout {
		if err := s.writeState(t.id, &next, now); err != nil {
			return pe, err, false
		}
	}
	t.cur = next
	return ProducerIDAndEpoch{ID: next.producerID, Epoch: next.producerEpoch}, nil, false
}

// validRecovery is Kafka's isValidProducerId: a KIP-360 caller must hold this id's
// producer id (its epoch is checked by the bump), or be retrying a rotation it never
// heard the answer to, or the id must be brand new.
func validRecovery(cur txnState, req InitRequest) bool {
	return cur.producerEpoch == noProducerEpoch || req.ProducerID == cur.producerID ||
		(req.ProducerID == cur.previousProducerID && epochExhausted(req.ProducerEpoch))
}

// incrementEpoch is Kafka's prepareIncrementProducerEpoch.
func incrementEpoch(cur txnState, expected bool, expectedEpoch int16, timeout time.Duration, now time.Time) (txnState, error) {
	next := cur
	next.state, next.partitions, next.startTime, next.timeout, next.updateTime = Empty, nil, time.Time{}, timeout, now
	switch {
	case !expected: // a new producer fences the previous one
		next.producerEpoch, next.lastProducerEpoch = cur.producerEpoch+1, noProducerEpoch
	case cur.producerEpoch == noProducerEpoch || expectedEpoch == cur.producerEpoch:
		next.producerEpoch, next.lastProducerEpoch = cur.producerEpoch+1, cur.producerEpoch
	case expectedEpoch == cur.lastProducerEpoch:
		// A retry of a bump that succeeded: answer the current epoch again.
	default:
		return cur, fmt.Errorf("%w: epoch %d is neither the current %d nor the last %d", ErrProducerFenced, expectedEpoch, cur.producerEpoch, cur.lastProducerEpoch)
	}
	return next, nil
}

// rotate is Kafka's prepareProducerIdRotation: a new producer id at epoch 0.
func rotate(cur txnState, id int64, expected bool, timeout time.Duration, now time.Time) txnState {
	next := cur
	next.previousProducerID, next.producerID, next.producerEpoch = cur.producerID, id, 0
	next.lastProducerEpoch = noProducerEpoch
	if expected {
		next.lastProducerEpoch = cur.producerEpoch
	}
	next.state, next.partitions, next.startTime, next.timeout, next.updateTime = Empty, nil, time.Time{}, timeout, now
	return next
}

// fenceEpoch is Kafka's prepareFenceProducerEpoch followed by the abort it leads to,
// in one state: PrepareAbort at the bumped epoch, so the old producer is fenced by
// the markers and by every later request.
func fenceEpoch(cur txnState, now time.Time) txnState {
	next := cur
	if next.producerEpoch < 1<<15-1 {
		next.producerEpoch++
	}
	next.lastProducerEpoch = noProducerEpoch
	next.state, next.updateTime = PrepareAbort, now
	return next
}

// transactionFor returns the transaction of id with its lock held; create makes an
// Empty one (at epoch -1, with a fresh producer id) when the id is new. With create
// unset, a missing id is ErrInvalidProducerIDMapping.
func (c *Coordinator) transactionFor(ctx context.Context, id string, create bool) (*shard, *transaction, error) {
	s, err := c.shardFor(id)
	if err != nil {
		return nil, nil, err
	}
	t, err := s.get(id)
	if err != nil {
		return nil, nil, err
	}
	if t == nil {
		if !create {
			return nil, nil, fmt.Errorf("%w: no transactional id %q", ErrInvalidProducerIDMapping, id)
		}
		pid, err := c.cfg.ProducerIDs.NextProducerID(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: allocating a producer id: %v", ErrCoordinatorNotAvailable, err)
		}
		fresh := &transaction{id: id, cur: txnState{producerID: pid, previousProducerID: noProducerID,
			producerEpoch: noProducerEpoch, lastProducerEpoch: noProducerEpoch, state: Empty, updateTime: c.now()}}
		if t, err = s.add(fresh); err != nil {
			return nil, nil, err
		}
	}
	t.mu.Lock()
	return s, t, nil
}
