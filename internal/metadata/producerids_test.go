package metadata

import (
	"context"
	"errors"
	"math"
	"slices"
	"sync"
	"testing"
)

// allocate takes n IDs from a, failing tb on an error.
func allocate(tb testing.TB, a *ProducerIDAllocator, n int) []int64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	ids := make([]int64, 0, n)
	for range n {
		id, err := a.NextProducerID(ctx)
		if err != nil {
			tb.Fatalf("NextProducerID after %d IDs: %v", len(ids), err)
		}
		ids = append(ids, id)
	}
	return ids
}

// checkUnique fails t when ids repeat one.
func checkUnique(t *testing.T, ids []int64) {
	t.Helper()
	sorted := slices.Sorted(slices.Values(ids))
	for i := 1; i < len(sorted); i++ {
		if sorted[i] == sorted[i-1] {
			t.Fatalf("producer ID %d handed out twice", sorted[i])
		}
	}
}

func TestProducerIDAllocatorConcurrent(t *testing.T) {
	s := openReady(t, testConfig(t, t.TempDir()))
	const blockSize, goroutines, each = 7, 8, 40 // small blocks: many proposals, many callers waiting
	a := NewProducerIDAllocator(s, 1, blockSize)
	got := make([][]int64, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() { got[g] = allocate(t, a, each) })
	}
	wg.Wait()
	var all []int64
	for _, ids := range got {
		if !slices.IsSorted(ids) {
			t.Fatalf("one caller's IDs do not increase: %v", ids)
		}
		all = append(all, ids...)
	}
	checkUnique(t, all)
	// Blocks are taken only when needed and never skipped: the IDs are 0..n-1, and the
	// Image's next block starts at the end of the last one taken.
	if max := slices.Max(all); max != goroutines*each-1 {
		t.Fatalf("highest ID %d, want %d", max, goroutines*each-1)
	}
	if next := s.Image().NextProducerID(); next < goroutines*each || next > goroutines*each+blockSize {
		t.Fatalf("NextProducerID %d after %d IDs in blocks of %d", next, goroutines*each, blockSize)
	}
}

// TestProducerIDAllocatorRestart checks the promise that matters: IDs handed out after a
// restart are new and higher, whether the log or a snapshot carries the allocation.
func TestProducerIDAllocatorRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.TrailingLogs = 1 // so that after the snapshot, the snapshot must carry NextProducerID
	var before []int64
	for restart := range 3 {
		s := openReady(t, cfg)
		ids := allocate(t, NewProducerIDAllocator(s, 1, 0), 1500) // crosses a block boundary
		if len(before) > 0 && ids[0] <= slices.Max(before) {
			t.Fatalf("restart %d: first ID %d, not above %d handed out before", restart, ids[0], slices.Max(before))
		}
		before = append(before, ids...)
		checkUnique(t, before)
		if restart == 1 {
			if err := s.raft.Snapshot().Error(); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// Each run took two blocks of the default size and left part of the second unused.
	if want := int64(3 * 2 * DefaultProducerIDBlockSize); slices.Max(before) >= want {
		t.Fatalf("highest ID %d, more than three runs of two blocks", slices.Max(before))
	}
}

// TestProducerIDAllocatorsRace runs two allocators on one store, as two nodes' brokers would
// share a quorum: both need a block at once, both propose the same start, and the loser must
// retry from the winner's end. Rounds keep the race to one block per allocator, so the loser
// wins its retry and the test does not depend on scheduling.
func TestProducerIDAllocatorsRace(t *testing.T) {
	s := openReady(t, testConfig(t, t.TempDir()))
	allocators := []*ProducerIDAllocator{NewProducerIDAllocator(s, 1, 1), NewProducerIDAllocator(s, 2, 1)}
	const rounds = 10
	firstIndex := s.raft.LastIndex()
	var all []int64
	for range rounds {
		ids := make([]int64, len(allocators))
		var wg sync.WaitGroup
		for i, a := range allocators {
			wg.Go(func() { ids[i] = allocate(t, a, 1)[0] })
		}
		wg.Wait()
		all = append(all, ids...)
	}
	checkUnique(t, all)
	if next := s.Image().NextProducerID(); next != int64(len(all)) {
		t.Fatalf("NextProducerID %d after %d blocks of 1", next, len(all))
	}
	// A refused proposal still takes a log entry: entries beyond the blocks are lost races.
	lost := int(s.raft.LastIndex()-firstIndex) - len(all)
	t.Logf("%d of %d rounds raced", lost, rounds)
	if lost < 0 || lost > rounds {
		t.Fatalf("%d lost proposals in %d rounds; at most one per round", lost, rounds)
	}
}

// raceQuorum is a producerIDQuorum over an in-memory Image that can lose races on demand:
// before applying a proposal it applies another node's block, which makes the proposal's
// start stale.
type raceQuorum struct {
	tb        testing.TB
	mu        sync.Mutex
	img       *Image
	lose      int   // proposals still to lose
	fail      error // returned by Propose without applying, when set
	proposals int
}

func (q *raceQuorum) Image() *Image {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.img
}

func (q *raceQuorum) Propose(ctx context.Context, rec Record) (uint64, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.proposals++
	if q.fail != nil {
		return 0, q.fail
	}
	if q.lose > 0 {
		q.lose--
		q.img = mustApply(q.tb, q.img, AllocateProducerIDs{NodeID: 99, Start: q.img.NextProducerID(), Count: 5})
	}
	next, err := q.img.apply(rec, q.img.Index()+1)
	if err != nil {
		return 0, err
	}
	q.img = next
	return next.Index(), nil
}

func TestProducerIDAllocatorRetries(t *testing.T) {
	ctx := context.Background()
	q := &raceQuorum{tb: t, img: emptyImage, lose: producerIDAttempts - 1}
	a := newProducerIDAllocator(q, 1, 10)
	// Lost every attempt but the last: the block starts after the other node's blocks.
	if id, err := a.NextProducerID(ctx); err != nil || id != 5*(producerIDAttempts-1) {
		t.Fatalf("NextProducerID = %d, %v; want %d", id, err, 5*(producerIDAttempts-1))
	}
	if q.proposals != producerIDAttempts {
		t.Fatalf("%d proposals, want %d", q.proposals, producerIDAttempts)
	}
	// Lost every attempt: a retriable error, and no ID.
	allocate(t, a, 9) // use up the block
	q.lose, q.proposals = producerIDAttempts, 0
	if id, err := a.NextProducerID(ctx); !errors.Is(err, ErrProducerIDsUnavailable) || q.proposals != producerIDAttempts {
		t.Fatalf("NextProducerID = %d, %v after %d proposals; want ErrProducerIDsUnavailable", id, err, q.proposals)
	}
	// The next call starts afresh and succeeds past every block taken so far.
	if id, err := a.NextProducerID(ctx); err != nil || id != q.Image().NextProducerID()-10 {
		t.Fatalf("NextProducerID after giving up = %d, %v", id, err)
	}

	// Refusals that are not lost races are returned at once: retrying cannot help.
	for _, fail := range []error{ErrNotController, ErrClosed, ErrInvalidRecord} {
		q := &raceQuorum{tb: t, img: emptyImage, fail: fail}
		if _, err := newProducerIDAllocator(q, 1, 10).NextProducerID(ctx); !errors.Is(err, fail) || q.proposals != 1 {
			t.Errorf("Propose failing with %v: NextProducerID = %v after %d proposals", fail, err, q.proposals)
		}
	}
	q = &raceQuorum{tb: t, img: emptyImage}
	if _, err := newProducerIDAllocator(q, -7, 10).NextProducerID(ctx); !errors.Is(err, ErrInvalidRecord) || q.proposals != 1 {
		t.Errorf("invalid node ID: NextProducerID = %v after %d proposals", err, q.proposals)
	}
}

// TestProducerIDAllocatorEdges covers the end of the ID space and a caller whose ctx ends
// while another holds the allocator.
func TestProducerIDAllocatorEdges(t *testing.T) {
	ctx := context.Background()
	q := &raceQuorum{tb: t, img: mustApply(t, emptyImage, AllocateProducerIDs{NodeID: 1, Start: 0, Count: math.MaxInt64 - 3})}
	a := newProducerIDAllocator(q, 1, 10)
	if ids := allocate(t, a, 3); !slices.Equal(ids, []int64{math.MaxInt64 - 3, math.MaxInt64 - 2, math.MaxInt64 - 1}) {
		t.Fatalf("last IDs %v", ids)
	}
	if id, err := a.NextProducerID(ctx); err == nil || errors.Is(err, ErrProducerIDsUnavailable) {
		t.Fatalf("NextProducerID past the last ID = %d, %v; want a non-retriable error", id, err)
	}

	a = newProducerIDAllocator(&raceQuorum{tb: t, img: emptyImage}, 1, 0)
	if a.blockSize != DefaultProducerIDBlockSize {
		t.Fatalf("block size %d, want the default", a.blockSize)
	}
	a.lock <- struct{}{} // another caller holds it, proposing slowly
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := a.NextProducerID(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("NextProducerID with a cancelled ctx while the allocator is busy: %v", err)
	}
	<-a.lock
	if id, err := a.NextProducerID(ctx); err != nil || id != 0 {
		t.Fatalf("NextProducerID once free = %d, %v", id, err)
	}
}
