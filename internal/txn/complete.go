package txn

import (
	"errors"
	"sync"
	"time"
)

// completer writes CompleteCommit/CompleteAbort for transactions whose markers are all
// written: one goroutine for the Coordinator, taking everything ready at once and
// writing one batch per shard, so completions that finish together cost one append
// and one replication wait. A failed write is tried again after the marker backoff;
// NOT_COORDINATOR leaves the transaction to the next coordinator.
type completer struct {
	c    *Coordinator
	wake chan struct{} // capacity 1

	mu    sync.Mutex
	ready []*completion // guarded by mu
}

func (c *Coordinator) startCompleter() {
	c.completer = &completer{c: c, wake: make(chan struct{}, 1)}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.completer.run()
	}()
}

func (cp *completer) push(comp *completion) {
	cp.mu.Lock()
	cp.ready = append(cp.ready, comp)
	cp.mu.Unlock()
	select {
	case cp.wake <- struct{}{}:
	default:
	}
}

func (cp *completer) take() []*completion {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	ready := cp.ready
	cp.ready = nil
	return ready
}

// run writes completions until the Coordinator closes; those left are abandoned.
func (cp *completer) run() {
	for {
		select {
		case <-cp.c.stop:
			for _, comp := range cp.take() {
				comp.abandon()
			}
			return
		case <-cp.wake:
		}
		byShard := map[*shard][]*completion{}
		for _, comp := range cp.take() {
			if comp.abandoned {
				comp.abandon()
				continue
			}
			byShard[comp.s] = append(byShard[comp.s], comp)
		}
		for s, comps := range byShard {
			cp.write(s, comps)
		}
	}
}

// write persists the completion records of one shard's transactions in one batch and
// only then makes them current. Unlike every other transition, no transaction's lock
// is held across the write: the write waits for the ISR (up to the write timeout), and
// a request for the id that came meanwhile would wait that long for the lock instead
// of parking for ConcurrentWait and answering CONCURRENT_TRANSACTIONS, as Kafka does
// while a transaction is prepared. That is safe because completing is set from the
// prepared write until here (Kafka's pendingState): every request and loop that would
// change the state refuses while it is set, so the state cannot move under the write,
// and the id still has one record in flight. The result is applied only if the
// transaction is still the one written (not removed by an unload: the next coordinator
// completes it from the log).
func (cp *completer) write(s *shard, comps []*completion) {
	now := cp.c.now()
	live, records := cp.collect(comps, now)
	if len(live) == 0 {
		return
	}
	err := s.writeRecords(records, now)
	if err != nil {
		err = storageError(err)
	}
	for _, comp := range live {
		cp.apply(comp, err, now)
	}
}

// collect returns the completions still to write and their records; those whose
// transaction moved on (removed, or no longer the prepared state) only stop completing.
func (cp *completer) collect(comps []*completion, now time.Time) ([]*completion, []record) {
	var live []*completion
	var records []record
	for _, comp := range comps {
		t := comp.t
		t.mu.Lock()
		if !comp.currentLocked() {
			t.stopCompleting()
			t.mu.Unlock()
			continue
		}
		live = append(live, comp)
		records = append(records, record{key: stateKey(t.id), value: stateValue(completed(t.cur, now))})
		t.mu.Unlock()
	}
	return live, records
}

// currentLocked says whether the transaction is still in the state the completion
// was prepared from and served here; t.mu is held.
func (comp *completion) currentLocked() bool {
	t, p := comp.t, comp.prepared
	return !t.removed && t.completing && t.cur.producerID == p.producerID &&
		t.cur.producerEpoch == p.producerEpoch && t.cur.state == p.state
}

// apply makes a written completion current, or arranges what follows a failed write.
func (cp *completer) apply(comp *completion, err error, now time.Time) {
	t := comp.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.removed {
		return // unloaded meanwhile (which woke parked requests): the next coordinator completes it
	}
	if !comp.currentLocked() {
		// Nothing changes a completing transaction, so this is a bug; memory keeps what
		// it has (a reload reads the log), and the id is not left completing forever.
		cp.c.logger.Error("transaction changed while its completion was written", "transactional_id", t.id,
			"state", t.cur.state, "epoch", t.cur.producerEpoch, "prepared_epoch", comp.prepared.producerEpoch)
		t.stopCompleting()
		return
	}
	switch {
	case err == nil:
		t.cur = completed(t.cur, now)
		t.stopCompleting()
	case errors.Is(err, ErrNotCoordinator):
		// The next coordinator completes it; unload wakes parked requests.
	default:
		cp.c.logger.Warn("writing transaction completion", "transactional_id", t.id, "err", err)
		time.AfterFunc(cp.c.cfg.Settings.MarkerBackoff, func() { cp.push(comp) })
	}
}

// completed is the state after a prepared one: CompleteCommit or CompleteAbort, with
// no partitions.
func completed(cur txnState, now time.Time) txnState {
	next := cur
	next.state, next.partitions, next.updateTime = ifElse(cur.state == PrepareCommit, CompleteCommit, CompleteAbort), nil, now
	return next
}
