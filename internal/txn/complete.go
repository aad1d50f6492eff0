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
// only then makes them current. Each transaction's lock is held across the write, as
// for every transition; nothing that holds one waits for the completer.
func (cp *completer) write(s *shard, comps []*completion) {
	var live []*completion
	var records []record
	now := cp.c.now()
	for _, comp := range comps {
		t := comp.t
		t.mu.Lock()
		cur := t.cur
		if t.removed || cur.producerID != comp.prepared.producerID || cur.producerEpoch != comp.prepared.producerEpoch || cur.state != comp.prepared.state {
			t.stopCompleting()
			t.mu.Unlock()
			continue
		}
		next := completed(cur, now)
		live = append(live, comp)
		records = append(records, record{key: stateKey(t.id), value: stateValue(next)})
	}
	if len(live) == 0 {
		return
	}
	err := s.writeRecords(records, now)
	if err != nil {
		err = storageError(err)
	}
	for _, comp := range live {
		t := comp.t
		switch {
		case err == nil:
			t.cur = completed(t.cur, now)
			t.stopCompleting()
		case errors.Is(err, ErrNotCoordinator):
			// The next coordinator completes it; unload already woke parked requests.
		default:
			cp.c.logger.Warn("writing transaction completion", "transactional_id", t.id, "err", err)
			time.AfterFunc(cp.c.cfg.Settings.MarkerBackoff, func() { cp.push(comp) })
		}
		t.mu.Unlock()
	}
}

// completed is the state after a prepared one: CompleteCommit or CompleteAbort, with
// no partitions.
func completed(cur txnState, now time.Time) txnState {
	next := cur
	next.state, next.partitions, next.updateTime = ifElse(cur.state == PrepareCommit, CompleteCommit, CompleteAbort), nil, now
	return next
}
