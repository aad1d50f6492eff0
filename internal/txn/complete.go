package txn

import (
	"errors"
	"sync"
	"time"
)

// completer writes CompleteCommit/CompleteAbort for transactions whose markers are all
// written. Each shard with completions queued has one writer goroutine, started by the
// push that finds it without one and ended once its queue is empty: it takes
// everything queued for its shard at once and writes it as one batch, so completions
// that finish together cost one append and one replication wait, and those pushed
// while a write waits for the ISR go in the shard's next batch, in push order. Shards
// write independently, as their partitions replicate independently (their followers
// may be other brokers): one shard's slow write does not hold back another's
// completions. So there are at most as many writers as shards with work, each counted
// in the Coordinator's WaitGroup; at Close a writer abandons what is queued rather
// than write it. A failed write is tried again after the marker backoff (a push
// later); NOT_COORDINATOR leaves the transaction to the next coordinator.
type completer struct {
	c *Coordinator

	mu     sync.Mutex
	queues map[*shard][]*completion // guarded by mu: a shard is here while its writer runs
	closed bool                     // guarded by mu: set before Close waits for the writers
}

func newCompleter(c *Coordinator) *completer {
	return &completer{c: c, queues: map[*shard][]*completion{}}
}

// push queues comp for its shard, starting the shard's writer if it has none. It
// never blocks and takes no transaction's lock: it may run under one (markers.go's
// roundDone). Once the Coordinator is closed comp is dropped, still completing:
// nothing serves the id any more, and the next coordinator completes it from the log.
func (cp *completer) push(comp *completion) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if cp.closed {
		return
	}
	queued, running := cp.queues[comp.s]
	cp.queues[comp.s] = append(queued, comp)
	if running {
		return
	}
	cp.c.wg.Add(1) // under mu, before close: never after Close began to wait
	go func() {
		defer cp.c.wg.Done()
		cp.run(comp.s)
	}()
}

// take returns what is queued for s. When nothing is, s's writer ends (false): it
// leaves the map in the same critical section, so the next push starts another.
func (cp *completer) take(s *shard) ([]*completion, bool) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	comps := cp.queues[s]
	if len(comps) == 0 {
		delete(cp.queues, s)
		return nil, false
	}
	cp.queues[s] = nil // still present: the writer runs
	return comps, true
}

// close stops new writers; Close then waits for those running.
func (cp *completer) close() {
	cp.mu.Lock()
	cp.closed = true
	cp.mu.Unlock()
}

// run is s's writer: it writes s's completions until none is queued. Once the
// Coordinator closes, what it takes is abandoned instead.
func (cp *completer) run(s *shard) {
	for {
		comps, ok := cp.take(s)
		if !ok {
			return
		}
		closed := false
		select {
		case <-cp.c.stop:
			closed = true
		default:
		}
		live := comps[:0]
		for _, comp := range comps {
			if closed || comp.abandoned {
				comp.abandon()
				continue
			}
			live = append(live, comp)
		}
		if len(live) > 0 {
			cp.write(s, live)
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
