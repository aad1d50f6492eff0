package txn

import (
	"errors"
	"sync"
	"time"
)

// stateWriter group-commits a shard's state records: while one batch is being written
// and replicated, the records of other ids queue up and go together in the next batch,
// one append and one high-watermark wait for all of them. There is no goroutine: the
// caller that finds nobody writing writes everything queued, then hands the turn to
// the first caller queued meanwhile. Each id holds its transaction's lock across its
// write (a completion record: its completing flag, complete.go), so an id has at most
// one record in flight and its records stay in order; a
// record counts only once its batch is replicated, and a failed batch fails every
// record in it.
type stateWriter struct {
	mu      sync.Mutex
	queue   []*stateWrite // guarded by mu
	writing bool          // guarded by mu: a caller is writing or has been handed the turn
}

// stateWrite is one caller's records and where its outcome goes.
type stateWrite struct {
	records []record
	done    chan error // buffered: the outcome, or errYourTurn
}

// errYourTurn hands the writer's turn to a queued caller; never returned.
var errYourTurn = errors.New("txn: your turn to write")

// writeRecords persists records (acks=all) in one batch, possibly with other ids'.
func (s *shard) writeRecords(records []record, now time.Time) error {
	w := &stateWrite{records: records, done: make(chan error, 1)}
	sw := &s.writer
	sw.mu.Lock()
	sw.queue = append(sw.queue, w)
	if sw.writing {
		sw.mu.Unlock()
		if err := <-w.done; !errors.Is(err, errYourTurn) {
			return err
		}
		sw.mu.Lock()
	}
	sw.writing = true
	batch := sw.queue
	sw.queue = nil
	sw.mu.Unlock()

	err := s.store.write(encodeBatch(flatten(batch), now), now)
	for _, o := range batch {
		if o != w {
			o.done <- err
		}
	}
	sw.mu.Lock()
	if len(sw.queue) > 0 {
		next := sw.queue[0]
		sw.mu.Unlock()
		next.done <- errYourTurn
	} else {
		sw.writing = false
		sw.mu.Unlock()
	}
	return err
}

func flatten(batch []*stateWrite) []record {
	if len(batch) == 1 {
		return batch[0].records
	}
	var out []record
	for _, w := range batch {
		out = append(out, w.records...)
	}
	return out
}
