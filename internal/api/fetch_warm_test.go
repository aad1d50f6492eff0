package api

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nagare-dev/nagare/internal/log"
	"github.com/nagare-dev/nagare/internal/readpath"
)

const (
	warmTestChunk = 4096
	warmTestBatch = 1000 // the fake log's batch size: prefixes are whole multiples of it
)

// warmTest is a fetch response whose partitions are ranges of real files, a pool whose
// loads the test controls, and the warmFetch tying them together.
type warmTest struct {
	t     *testing.T
	resp  *fetchResponse
	pool  *readpath.Pool
	loads atomic.Int32
	allow atomic.Int32  // loads let through at once; the rest wait for gate
	gate  chan struct{} // closed: every load goes through
}

// newWarmTest makes one partition per length; the first `cold` of them are cold.
func newWarmTest(t *testing.T, allow int32, lengths ...int64) *warmTest {
	wt := &warmTest{t: t, gate: make(chan struct{}), resp: &fetchResponse{version: 12}}
	wt.allow.Store(allow)
	dir := t.TempDir()
	ft := fetchTopic{name: "t"}
	for i, n := range lengths {
		f, err := os.Create(filepath.Join(dir, "p"+string(rune('0'+i))))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		ft.partitions = append(ft.partitions, fetchPartition{partition: int32(i), records: log.FileRange{File: f, Position: 100, Length: n}})
	}
	wt.resp.topics = []fetchTopic{ft}
	pool, err := readpath.NewPool(readpath.Config{
		Enabled: true, Workers: 1, ChunkBytes: warmTestChunk, Dir: dir,
		Load: func(*os.File, int64, int64) error {
			if wt.loads.Add(1) > wt.allow.Load() {
				<-wt.gate
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		select {
		case <-wt.gate:
		default:
			close(wt.gate)
		}
		pool.Close()
	})
	wt.pool = pool
	return wt
}

// start queues the first `cold` partitions for warm-up with the given deadline; the
// others are resident.
func (wt *warmTest) start(cold int, deadline time.Time) *warmFetch {
	fc := &fetchCold{resp: wt.resp}
	w := &warmFetch{cold: fc, n: cold, deadline: deadline}
	var ranges []readpath.Range
	for j, p := range wt.resp.topics[0].partitions {
		if j >= cold {
			w.resident = w.resident || p.records.Length > 0
			continue
		}
		fc.parts = append(fc.parts, coldPartition{topic: 0, partition: j, fetchOffset: int64(j * 1000)})
		ranges = append(ranges, readpath.Range{File: p.records.File, Offset: p.records.Position, Length: p.records.Length})
	}
	// The fake log: whole 1000-byte batches from the range's start.
	orig := make([]log.FileRange, len(wt.resp.topics[0].partitions))
	for j, p := range wt.resp.topics[0].partitions {
		orig[j] = p.records
	}
	fc.read = func(c coldPartition, maxBytes int64) log.FileRange {
		r := orig[c.partition]
		return log.FileRange{File: r.File, Position: r.Position, Length: min(maxBytes/warmTestBatch*warmTestBatch, r.Length)}
	}
	w.job = wt.pool.Warm(readpath.Tenant{ClientID: "test"}, ranges)
	return w
}

func (wt *warmTest) lengths() []int64 {
	var n []int64
	for _, p := range wt.resp.topics[0].partitions {
		n = append(n, p.records.Length)
	}
	return n
}

func waitReturns(t *testing.T, w *warmFetch, ctx context.Context, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	done := make(chan struct{})
	go func() { w.wait(ctx); close(done) }()
	select {
	case <-done:
	case <-time.After(within):
		t.Fatalf("wait did not return within %v", within)
	}
	return time.Since(start)
}

func TestWarmFetchAllLoaded(t *testing.T) {
	wt := newWarmTest(t, 1000, 3*warmTestChunk+5, 2*warmTestChunk)
	w := wt.start(2, time.Now().Add(time.Minute))
	waitReturns(t, w, context.Background(), 10*time.Second)
	if got := wt.lengths(); got[0] != 3*warmTestChunk+5 || got[1] != 2*warmTestChunk {
		t.Fatalf("lengths %v, want the ranges untouched", got)
	}
}

// At the deadline a fetch answers with the whole batches already loaded, not later.
func TestWarmFetchDeadlineCutsToReady(t *testing.T) {
	wt := newWarmTest(t, 3, 10*warmTestChunk, 2*warmTestChunk)
	w := wt.start(2, time.Now().Add(100*time.Millisecond))
	took := waitReturns(t, w, context.Background(), 10*time.Second)
	if took > 2*time.Second {
		t.Fatalf("answered %v after a 100ms deadline", took)
	}
	// Three chunks of the first range loaded: 12288 bytes, so 12 whole 1000-byte batches.
	if got := wt.lengths(); got[0] != 12*warmTestBatch || got[1] != 0 {
		t.Fatalf("lengths %v, want [12000 0]", got)
	}
}

// With nothing loaded at the deadline, the fetch finishes its first cold range rather
// than answer empty, and drops the others.
func TestWarmFetchNothingReadyWaitsForFirstRange(t *testing.T) {
	wt := newWarmTest(t, 0, 2*warmTestChunk, 3*warmTestChunk)
	w := wt.start(2, time.Now()) // max_wait_ms 0
	done := make(chan struct{})
	go func() { w.wait(context.Background()); close(done) }()
	select {
	case <-done:
		t.Fatal("answered with nothing loaded")
	case <-time.After(50 * time.Millisecond):
	}
	close(wt.gate)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("wait did not return after the first range loaded")
	}
	if got := wt.lengths(); got[0] != 2*warmTestChunk || got[1] != 0 {
		t.Fatalf("lengths %v, want [8192 0]", got)
	}
	if wt.loads.Load() != 2 {
		t.Fatalf("%d loads, want only the first range's 2", wt.loads.Load())
	}
}

// A resident partition with records is enough to answer at the deadline.
func TestWarmFetchDeadlineSendsResidentPartitions(t *testing.T) {
	wt := newWarmTest(t, 0, 2*warmTestChunk, 5000)
	w := wt.start(1, time.Now().Add(20*time.Millisecond)) // partition 1 is resident
	waitReturns(t, w, context.Background(), 10*time.Second)
	if got := wt.lengths(); got[0] != 0 || got[1] != 5000 {
		t.Fatalf("lengths %v, want [0 5000]", got)
	}
}

// A closing connection ends the wait at once.
func TestWarmFetchContextEnds(t *testing.T) {
	wt := newWarmTest(t, 0, 2*warmTestChunk)
	w := wt.start(1, time.Now().Add(time.Minute))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	waitReturns(t, w, ctx, 10*time.Second)
}
