package txn

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nagare-dev/nagare/internal/metadata"
)

// memStore is a shard's storage in memory: what was written, replayable.
type memStore struct {
	mu      sync.Mutex
	batches [][]byte
	next    int64
	fail    error
	writes  int                   // writes begun
	gates   map[int]chan struct{} // the write with this index waits for its channel
}

func (m *memStore) write(batch []byte, _ time.Time) error {
	m.mu.Lock()
	gate := m.gates[m.writes]
	m.writes++
	m.mu.Unlock()
	if gate != nil {
		<-gate
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	b := append([]byte(nil), batch...)
	b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7] = byte(m.next>>56), byte(m.next>>48), byte(m.next>>40), byte(m.next>>32), byte(m.next>>24), byte(m.next>>16), byte(m.next>>8), byte(m.next)
	m.next++
	m.batches = append(m.batches, b)
	return nil
}

func (m *memStore) replay(_ context.Context, fn func(offset int64, r record) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range m.batches {
		if _, err := decodeBatches(b, fn); err != nil {
			return err
		}
	}
	return nil
}

type counterIDs struct{ next atomic.Int64 }

func (c *counterIDs) NextProducerID(context.Context) (int64, error) { return c.next.Add(1) + 999, nil }

type emptyMetadata struct{ img *metadata.Image }

func (e emptyMetadata) Image() *metadata.Image { return e.img }

// newTestCoordinator serves one state partition from store; markers go nowhere (the
// empty image knows no topics, so they are dropped and transactions complete at once).
func newTestCoordinator(t *testing.T, store *memStore, now func() time.Time) *Coordinator {
	t.Helper()
	return newTestCoordinatorWith(t, store, now, Settings{})
}

// newTestCoordinatorWith is newTestCoordinator with settings other than the timeouts.
func newTestCoordinatorWith(t *testing.T, store *memStore, now func() time.Time, set Settings) *Coordinator {
	t.Helper()
	return newTestCoordinatorShards(t, []*memStore{store}, now, set)
}

// newTestCoordinatorShards serves len(stores) state partitions, partition i from
// stores[i].
func newTestCoordinatorShards(t *testing.T, stores []*memStore, now func() time.Time, set Settings) *Coordinator {
	t.Helper()
	set.MaxTimeout, set.IDExpiration = 15*time.Minute, time.Hour
	c := New(Config{Metadata: emptyMetadata{metadata.NewFSM(nil, nil).Image()}, ProducerIDs: &counterIDs{},
		Settings: set, Now: now})
	t.Cleanup(c.Close)
	for i, store := range stores {
		s := c.loadStore(int32(i), store, nil, 7)
		c.shards.Install(int32(i), len(stores), s)
		waitFor(t, func() bool { return s.Ready() == nil })
	}
	return c
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

func stateOf(t *testing.T, c *Coordinator, id string) Description {
	t.Helper()
	d, err := c.Describe(id)
	if err != nil {
		t.Fatalf("describe %s: %v", id, err)
	}
	return d
}

var ctx = context.Background()

func TestInitFencesAndBumps(t *testing.T) {
	c := newTestCoordinator(t, &memStore{}, time.Now)
	req := InitRequest{TransactionalID: "a", Timeout: time.Minute, ProducerID: -1, ProducerEpoch: -1}
	first, err := c.InitProducerID(ctx, req)
	if err != nil || first.Epoch != 0 {
		t.Fatalf("first init: %+v %v", first, err)
	}
	second, err := c.InitProducerID(ctx, req)
	if err != nil || second.ID != first.ID || second.Epoch != 1 {
		t.Fatalf("second init: %+v %v", second, err)
	}
	tp := []TopicPartition{{"t", 0}}
	if err := c.AddPartitions(ctx, "a", first.ID, first.Epoch, tp); !errors.Is(err, ErrProducerFenced) {
		t.Fatalf("old epoch add: %v, want fenced", err)
	}
	if err := c.AddPartitions(ctx, "a", first.ID+1, second.Epoch, tp); !errors.Is(err, ErrInvalidProducerIDMapping) {
		t.Fatalf("wrong id add: %v, want mapping", err)
	}
	if _, err := c.InitProducerID(ctx, InitRequest{TransactionalID: "a", Timeout: time.Hour}); !errors.Is(err, ErrInvalidTransactionTimeout) {
		t.Fatalf("timeout above max: %v", err)
	}
	// KIP-360: the current producer recovers with its id and epoch; the fenced one cannot.
	rec, err := c.InitProducerID(ctx, InitRequest{TransactionalID: "a", Timeout: time.Minute, ProducerID: second.ID, ProducerEpoch: second.Epoch})
	if err != nil || rec.Epoch != 2 {
		t.Fatalf("recovery: %+v %v", rec, err)
	}
	if _, err := c.InitProducerID(ctx, InitRequest{TransactionalID: "a", Timeout: time.Minute, ProducerID: first.ID, ProducerEpoch: first.Epoch}); !errors.Is(err, ErrProducerFenced) {
		t.Fatalf("fenced recovery: %v", err)
	}
}

func TestCommitAbortAndRetries(t *testing.T) {
	c := newTestCoordinator(t, &memStore{}, time.Now)
	pe, err := c.InitProducerID(ctx, InitRequest{TransactionalID: "b", Timeout: time.Minute, ProducerID: -1, ProducerEpoch: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.EndTxn(ctx, "b", pe.ID, pe.Epoch, true); !errors.Is(err, ErrInvalidTxnState) {
		t.Fatalf("end with no transaction: %v", err)
	}
	if err := c.AddPartitions(ctx, "b", pe.ID, pe.Epoch, []TopicPartition{{"t", 1}, {"t", 0}}); err != nil {
		t.Fatal(err)
	}
	if d := stateOf(t, c, "b"); d.State != Ongoing || len(d.Partitions) != 2 || d.StartTime.IsZero() {
		t.Fatalf("after add: %+v", d)
	}
	if err := c.EndTxn(ctx, "b", pe.ID, pe.Epoch, true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return stateOf(t, c, "b").State == CompleteCommit })
	if err := c.EndTxn(ctx, "b", pe.ID, pe.Epoch, true); err != nil {
		t.Fatalf("retried commit: %v", err)
	}
	if err := c.EndTxn(ctx, "b", pe.ID, pe.Epoch, false); !errors.Is(err, ErrInvalidTxnState) {
		t.Fatalf("abort after commit: %v", err)
	}
	if err := c.AddPartitions(ctx, "b", pe.ID, pe.Epoch, []TopicPartition{{"t", 2}}); err != nil {
		t.Fatal(err)
	}
	if err := c.EndTxn(ctx, "b", pe.ID, pe.Epoch, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return stateOf(t, c, "b").State == CompleteAbort })
}

func TestInitAbortsOngoingTransaction(t *testing.T) {
	c := newTestCoordinatorWith(t, &memStore{}, time.Now, Settings{ConcurrentWait: -1}) // no parking
	req := InitRequest{TransactionalID: "c", Timeout: time.Minute, ProducerID: -1, ProducerEpoch: -1}
	pe, err := c.InitProducerID(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddPartitions(ctx, "c", pe.ID, pe.Epoch, []TopicPartition{{"t", 0}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.InitProducerID(ctx, req); !errors.Is(err, ErrConcurrentTransactions) {
		t.Fatalf("init during a transaction: %v, want CONCURRENT_TRANSACTIONS", err)
	}
	var next ProducerIDAndEpoch
	waitFor(t, func() bool {
		var err error
		next, err = c.InitProducerID(ctx, req)
		return err == nil
	})
	// One bump fenced the old producer in the abort, the retry bumped again.
	if next.ID != pe.ID || next.Epoch != pe.Epoch+2 {
		t.Fatalf("after abort: %+v, was %+v", next, pe)
	}
}

func TestReloadAndTimeout(t *testing.T) {
	store := &memStore{}
	var clock atomic.Int64
	clock.Store(time.Now().UnixMilli())
	now := func() time.Time { return time.UnixMilli(clock.Load()) }
	c := newTestCoordinator(t, store, now)
	pe, err := c.InitProducerID(ctx, InitRequest{TransactionalID: "d", Timeout: time.Minute, ProducerID: -1, ProducerEpoch: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddPartitions(ctx, "d", pe.ID, pe.Epoch, []TopicPartition{{"t", 0}}); err != nil {
		t.Fatal(err)
	}
	c.Close()

	c2 := newTestCoordinator(t, store, now)
	if d := stateOf(t, c2, "d"); d.State != Ongoing || d.ProducerID != pe.ID || d.ProducerEpoch != pe.Epoch || len(d.Partitions) != 1 {
		t.Fatalf("reloaded: %+v", d)
	}
	clock.Add(int64(2 * time.Minute / time.Millisecond))
	c2.abortTimedOut()
	waitFor(t, func() bool { return stateOf(t, c2, "d").State == CompleteAbort })
	if d := stateOf(t, c2, "d"); d.ProducerEpoch != pe.Epoch+1 {
		t.Fatalf("timed-out abort did not bump the epoch: %+v", d)
	}
	if err := c2.EndTxn(ctx, "d", pe.ID, pe.Epoch, true); !errors.Is(err, ErrProducerFenced) {
		t.Fatalf("commit by the timed-out producer: %v", err)
	}
	clock.Add(int64(2 * time.Hour / time.Millisecond))
	c2.expireIDs()
	if _, err := c2.Describe("d"); !errors.Is(err, ErrTransactionalIDNotFound) {
		t.Fatalf("expired id: %v", err)
	}
	c2.Close()
	c3 := newTestCoordinator(t, store, now)
	if list, _ := c3.List(ListFilter{}); len(list) != 0 {
		t.Fatalf("tombstoned id came back: %+v", list)
	}
}
