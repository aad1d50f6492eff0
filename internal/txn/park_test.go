package txn

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// TestInitParksUntilAbortCompletes: InitProducerId during a transaction aborts it and,
// instead of answering CONCURRENT_TRANSACTIONS, waits for the abort and bumps again,
// which is what the client's retry would have got.
func TestInitParksUntilAbortCompletes(t *testing.T) {
	c := newTestCoordinator(t, &memStore{}, time.Now)
	req := InitRequest{TransactionalID: "c", Timeout: time.Minute, ProducerID: -1, ProducerEpoch: -1}
	pe, err := c.InitProducerID(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddPartitions(ctx, "c", pe.ID, pe.Epoch, []TopicPartition{{"t", 0}}); err != nil {
		t.Fatal(err)
	}
	next, err := c.InitProducerID(ctx, req)
	if err != nil || next.ID != pe.ID || next.Epoch != pe.Epoch+2 {
		t.Fatalf("init during a transaction: %+v %v, want epoch %d", next, err, pe.Epoch+2)
	}
}

// beginAndCommit opens a transaction of id and commits it with the completion record
// (write index gate) held back by the returned channel; it returns once that write
// has begun, so the completer is inside it.
func beginAndCommit(t *testing.T, c *Coordinator, store *memStore, id string) (ProducerIDAndEpoch, chan struct{}) {
	t.Helper()
	pe := beginTxn(t, c, id)
	gate := make(chan struct{})
	store.mu.Lock()
	held := store.writes + 1 // after PrepareCommit
	store.gates = map[int]chan struct{}{held: gate}
	store.mu.Unlock()
	t.Cleanup(func() {
		select {
		case <-gate:
		default:
			close(gate) // a failed test must not leave the completer stuck for Close
		}
	})
	if err := c.EndTxn(ctx, id, pe.ID, pe.Epoch, true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		store.mu.Lock()
		defer store.mu.Unlock()
		return store.writes > held
	})
	return pe, gate
}

// TestAddPartitionsParksOnCompletion: the next transaction's AddPartitions waits for
// the previous one's CompleteCommit and then succeeds.
func TestAddPartitionsParksOnCompletion(t *testing.T) {
	store := &memStore{}
	c := newTestCoordinatorWith(t, store, time.Now, Settings{ConcurrentWait: 2 * time.Second})
	pe, gate := beginAndCommit(t, c, store, "p")
	done := make(chan error, 1)
	go func() { done <- c.AddPartitions(ctx, "p", pe.ID, pe.Epoch, []TopicPartition{{"t", 1}}) }()
	select {
	case err := <-done:
		t.Fatalf("AddPartitions answered %v before the completion was written", err)
	case <-time.After(20 * time.Millisecond):
	}
	close(gate)
	if err := <-done; err != nil {
		t.Fatalf("parked AddPartitions: %v", err)
	}
	if st := stateOf(t, c, "p").State; st != Ongoing {
		t.Fatalf("state %s, want Ongoing", st)
	}
}

// TestConcurrentTransactionsWhileCompletionStalls: while the completion record's write
// waits for replication (held here), the id's requests park for ConcurrentWait and
// then answer CONCURRENT_TRANSACTIONS, as Kafka does while a transaction is prepared;
// they do not wait for the write. Before, the completer held the id's lock across the
// write, so they waited as long as it took (up to the write timeout).
func TestConcurrentTransactionsWhileCompletionStalls(t *testing.T) {
	const bound = 500 * time.Millisecond // ConcurrentWait (20 ms) plus scheduling slack under -race
	store := &memStore{}
	c := newTestCoordinator(t, store, time.Now) // the default ConcurrentWait
	pe, gate := beginAndCommit(t, c, store, "q")
	requests := map[string]func() error{
		"AddPartitions": func() error { return c.AddPartitions(ctx, "q", pe.ID, pe.Epoch, []TopicPartition{{"t", 1}}) },
		"EndTxn":        func() error { return c.EndTxn(ctx, "q", pe.ID, pe.Epoch, true) },
		"InitProducerID": func() error {
			_, err := c.InitProducerID(ctx, InitRequest{TransactionalID: "q", Timeout: time.Minute, ProducerID: -1, ProducerEpoch: -1})
			return err
		},
	}
	type answer struct {
		name string
		err  error
		took time.Duration
	}
	answers := make(chan answer, len(requests))
	for name, req := range requests {
		go func() {
			start := time.Now()
			err := req()
			answers <- answer{name, err, time.Since(start)}
		}()
	}
	timeout := time.After(bound)
	for range requests {
		select {
		case a := <-answers:
			if !errors.Is(a.err, ErrConcurrentTransactions) {
				t.Errorf("%s during the completion write: %v, want CONCURRENT_TRANSACTIONS", a.name, a.err)
			}
			t.Logf("%s answered in %v", a.name, a.took)
		case <-timeout:
			t.Fatalf("a request was not answered within %v while the completion write was held: it waits for the write", bound)
		}
	}
	if d := stateOf(t, c, "q"); d.State != PrepareCommit {
		t.Fatalf("state %s during the completion write, want PrepareCommit (not yet durable)", d.State)
	}
	close(gate)
	waitFor(t, func() bool { return stateOf(t, c, "q").State == CompleteCommit })
	if err := c.AddPartitions(ctx, "q", pe.ID, pe.Epoch, []TopicPartition{{"t", 1}}); err != nil {
		t.Fatalf("AddPartitions after the completion: %v", err)
	}
}

// TestStateWritesGroupCommit: concurrent transitions of different ids share batches,
// every one is durable when it returns, and replay gives each id its last state.
func TestStateWritesGroupCommit(t *testing.T) {
	store := &memStore{}
	c := newTestCoordinator(t, store, time.Now)
	ids := []string{"g0", "g1", "g2", "g3", "g4", "g5", "g6", "g7"}
	// Hold the first batch's write until every other id has queued its first record
	// behind it: those must then go out together, in one batch.
	gate := make(chan struct{})
	store.mu.Lock()
	store.gates = map[int]chan struct{}{store.writes: gate}
	store.mu.Unlock()
	sh, err := c.shardFor("g0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(gate) // also after 10 s, so a broken writer fails the check below, not hangs
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			sh.writer.mu.Lock()
			queued := len(sh.writer.queue)
			sh.writer.mu.Unlock()
			if queued == len(ids)-1 {
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() {
			for range 20 {
				if _, err := c.InitProducerID(ctx, InitRequest{TransactionalID: id, Timeout: time.Minute, ProducerID: -1, ProducerEpoch: -1}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	store.mu.Lock()
	batches := len(store.batches)
	store.mu.Unlock()
	if writes := len(ids) * 20; batches > writes-(len(ids)-2) {
		t.Fatalf("%d batches for %d writes: the %d records queued behind the held write did not share a batch",
			batches, writes, len(ids)-1)
	}
	t.Logf("%d writes in %d batches", len(ids)*20, batches)
	s := &shard{coord: c, store: store, ctx: ctx}
	txns, err := s.readAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if got := txns[id]; got == nil || got.cur.producerEpoch != 19 {
			t.Fatalf("%s replayed as %+v, want epoch 19", id, got)
		}
	}
}

// TestLeadershipMovesDuringCompletionWrite: the shard is unloaded while the completion
// record's write is held (the coordinator lost leadership). The unload does not wait
// for the write, the id's requests answer NOT_COORDINATOR at once, and whether the
// write then lands or fails, the next coordinator ends with exactly one CompleteCommit
// for the transaction: the one written, or its own after reloading PrepareCommit.
func TestLeadershipMovesDuringCompletionWrite(t *testing.T) {
	for _, landed := range []bool{true, false} {
		t.Run(ifElse(landed, "write lands", "write fails"), func(t *testing.T) {
			store := &memStore{}
			c := newTestCoordinator(t, store, time.Now)
			pe, gate := beginAndCommit(t, c, store, "m")
			sh, err := c.shardFor("m")
			if err != nil {
				t.Fatal(err)
			}
			unloaded := make(chan struct{})
			go func() { sh.unload(); close(unloaded) }()
			select {
			case <-unloaded:
			case <-time.After(500 * time.Millisecond):
				t.Fatal("unload waited for the held completion write")
			}
			if err := c.AddPartitions(ctx, "m", pe.ID, pe.Epoch, []TopicPartition{{"t", 1}}); !errors.Is(err, ErrNotCoordinator) {
				t.Fatalf("AddPartitions after the unload: %v, want NOT_COORDINATOR", err)
			}
			if !landed {
				store.mu.Lock()
				store.fail = errors.New("not the leader any more")
				store.mu.Unlock()
			}
			close(gate)
			c.Close() // the completer has finished with the held write
			store.mu.Lock()
			store.fail = nil
			store.mu.Unlock()

			next := newTestCoordinator(t, store, time.Now)
			waitFor(t, func() bool { return stateOf(t, next, "m").State == CompleteCommit })
			if n := completeRecords(t, store, "m"); n != 1 {
				t.Fatalf("%d CompleteCommit records for the transaction, want 1", n)
			}
		})
	}
}

// completeRecords counts the CompleteCommit records of id in store.
func completeRecords(t *testing.T, store *memStore, id string) int {
	t.Helper()
	n := 0
	err := store.replay(ctx, func(_ int64, r record) error {
		key, err := decodeKey(r.key)
		if err != nil || key != id || r.value == nil {
			return err
		}
		st, err := decodeState(r.value)
		if err == nil && st.state == CompleteCommit {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
