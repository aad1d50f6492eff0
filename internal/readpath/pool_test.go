package readpath

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// tenantFiles opens one small file per name, so a Load hook can tell tenants apart by
// the file it is asked to load.
func tenantFiles(t *testing.T, names ...string) (map[string]*os.File, map[*os.File]string) {
	t.Helper()
	dir := t.TempDir()
	byName, byFile := map[string]*os.File{}, map[*os.File]string{}
	for _, n := range names {
		f, err := os.Create(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		byName[n], byFile[f] = f, n
	}
	return byName, byFile
}

// gatedLoader records the order of loads and holds each until the gate opens.
type gatedLoader struct {
	byFile map[*os.File]string
	gate   chan struct{} // closed to let loads through
	mu     sync.Mutex
	order  []string // guarded by mu: the file name of each load, in start order
}

func (g *gatedLoader) load(f *os.File, offset, length int64) error {
	g.mu.Lock()
	g.order = append(g.order, g.byFile[f])
	g.mu.Unlock()
	<-g.gate
	return nil
}

func (g *gatedLoader) loads() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.order...)
}

func waitDone(t *testing.T, jobs ...*Job) {
	t.Helper()
	for _, j := range jobs {
		select {
		case <-j.Done():
		case <-time.After(30 * time.Second):
			t.Fatal("job did not finish")
		}
	}
}

// waitLoads waits until the loader has started n loads.
func waitLoads(t *testing.T, g *gatedLoader, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(g.loads()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d loads started, want %d", len(g.loads()), n)
		}
		time.Sleep(time.Millisecond)
	}
}

const testChunk = 4096

// One tenant's huge catch-up read must not starve another's small cold read: with one
// worker, the small job is served on the next turn, not after the huge one.
func TestPoolFairBetweenClients(t *testing.T) {
	files, byFile := tenantFiles(t, "huge", "small")
	g := &gatedLoader{byFile: byFile, gate: make(chan struct{})}
	p := newTestPool(t, Config{Enabled: true, Workers: 1, ChunkBytes: testChunk, Load: g.load, Resident: func(Range) bool { return false }})

	huge := p.Warm(Tenant{Principal: "User:a", ClientID: "catch-up"}, []Range{{File: files["huge"], Length: 1000 * testChunk}})
	waitLoads(t, g, 1) // the worker holds the huge job's first chunk
	small := p.Warm(Tenant{Principal: "User:b", ClientID: "tail"}, []Range{{File: files["small"], Length: 2 * testChunk}})
	close(g.gate)
	waitDone(t, small, huge)
	// The small job's two chunks load on the next two turns, after one more of the huge
	// job's 1000 chunks between them.
	order := g.loads()
	if strings.Join(order[:4], ",") != "huge,small,huge,small" {
		t.Fatalf("load order starts %v, want turns", order[:4])
	}
	if huge.Ready(0) != 1000*testChunk || small.Ready(0) != 2*testChunk {
		t.Fatalf("ready %d, %d", huge.Ready(0), small.Ready(0))
	}
}

// Principals are served in turn before clients: a principal behind many client ids gets
// no more turns than one with a single client, and its clients share its turns.
func TestPoolFairBetweenPrincipals(t *testing.T) {
	files, byFile := tenantFiles(t, "a1", "a2", "a3", "a4", "b", "first")
	g := &gatedLoader{byFile: byFile, gate: make(chan struct{})}
	p := newTestPool(t, Config{Enabled: true, Workers: 1, ChunkBytes: testChunk, Load: g.load})

	first := p.Warm(Tenant{Principal: "User:z", ClientID: "z"}, []Range{{File: files["first"], Length: testChunk}})
	waitLoads(t, g, 1) // hold the worker while the rest queue up
	var jobs []*Job
	for _, c := range []string{"a1", "a2", "a3", "a4"} {
		jobs = append(jobs, p.Warm(Tenant{Principal: "User:a", ClientID: c}, []Range{{File: files[c], Length: 100 * testChunk}}))
	}
	jobs = append(jobs, p.Warm(Tenant{Principal: "User:b", ClientID: "b"}, []Range{{File: files["b"], Length: 100 * testChunk}}))
	close(g.gate)
	waitDone(t, append(jobs, first)...)

	counts := map[string]int{}
	for _, n := range g.loads()[1:41] {
		counts[n]++
	}
	if counts["b"] != 20 {
		t.Fatalf("in 40 turns principal b got %d, want 20 (counts %v)", counts["b"], counts)
	}
	for _, c := range []string{"a1", "a2", "a3", "a4"} {
		if counts[c] != 5 {
			t.Fatalf("in 40 turns client %s got %d, want 5 (counts %v)", c, counts[c], counts)
		}
	}
}

// Jobs of one client load in the order they came.
func TestPoolFIFOWithinClient(t *testing.T) {
	files, byFile := tenantFiles(t, "one", "two")
	g := &gatedLoader{byFile: byFile, gate: make(chan struct{})}
	close(g.gate)
	p := newTestPool(t, Config{Enabled: true, Workers: 1, ChunkBytes: testChunk, Load: g.load})
	tenant := Tenant{ClientID: "c"}
	a := p.Warm(tenant, []Range{{File: files["one"], Length: 3 * testChunk}})
	b := p.Warm(tenant, []Range{{File: files["two"], Length: testChunk}})
	waitDone(t, a, b)
	if got := strings.Join(g.loads(), ","); got != "one,one,one,two" {
		t.Fatalf("order %s", got)
	}
}

// However many fetches wait, no more loads run at once than there are workers.
func TestPoolBoundsConcurrentLoads(t *testing.T) {
	const workers, fetches = 4, 64
	var running, peak atomic.Int64
	load := func(*os.File, int64, int64) error {
		n := running.Add(1)
		for {
			m := peak.Load()
			if n <= m || peak.CompareAndSwap(m, n) {
				break
			}
		}
		blockThread(2 * time.Millisecond)
		running.Add(-1)
		return nil
	}
	p := newTestPool(t, Config{Enabled: true, Workers: workers, ChunkBytes: testChunk, Load: load})
	files, _ := tenantFiles(t, "f")
	var wg sync.WaitGroup
	for i := range fetches {
		wg.Go(func() {
			job := p.Warm(Tenant{ClientID: strconv.Itoa(i)}, []Range{{File: files["f"], Length: 3 * testChunk}})
			<-job.Done()
			if job.Ready(0) != 3*testChunk {
				t.Errorf("fetch %d: ready %d", i, job.Ready(0))
			}
		})
	}
	wg.Wait()
	if peak.Load() > workers {
		t.Fatalf("%d loads ran at once with %d workers", peak.Load(), workers)
	}
	if got := p.Stats().Chunks; got != 3*fetches {
		t.Fatalf("%d chunks loaded, want %d", got, 3*fetches)
	}
}

// threadCount is the process's OS threads, from /proc; -1 where there is no /proc.
func threadCount() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return -1
}

// peakThreads runs f and returns the most OS threads seen while it ran.
func peakThreads(f func()) int {
	stop := make(chan struct{})
	peak := make(chan int)
	go func() {
		most := threadCount()
		tick := time.NewTicker(500 * time.Microsecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				peak <- max(most, threadCount())
				return
			case <-tick.C:
				most = max(most, threadCount())
			}
		}
	}()
	f()
	close(stop)
	return <-peak
}

// 64 concurrent cold fetches must not take 64 OS threads: each load blocks its thread in
// the kernel (as sendfile does on a cold page), and only the workers load. The same 64
// blocking calls made directly, as connection writers would without warm-up, do take a
// thread each; that half shows the measurement can see the difference.
func TestPoolBoundsOSThreads(t *testing.T) {
	if threadCount() < 0 {
		t.Skip("no /proc/self/status")
	}
	const workers, fetches, block = 4, 64, 20 * time.Millisecond
	p := newTestPool(t, Config{Enabled: true, Workers: workers, ChunkBytes: testChunk,
		Load: func(*os.File, int64, int64) error { blockThread(block); return nil }})
	files, _ := tenantFiles(t, "f")
	runtime.GC()
	base := threadCount()
	pooled := peakThreads(func() {
		var wg sync.WaitGroup
		for i := range fetches {
			wg.Go(func() {
				<-p.Warm(Tenant{ClientID: strconv.Itoa(i)}, []Range{{File: files["f"], Length: testChunk}}).Done()
			})
		}
		wg.Wait()
	})
	// Workers, plus the Ps' threads, the sampler, sysmon and a little slack.
	if limit := base + workers + runtime.GOMAXPROCS(0) + 4; pooled > limit {
		t.Fatalf("%d OS threads at peak under %d cold fetches (baseline %d, limit %d)", pooled, fetches, base, limit)
	}
	// Long enough that all 64 block at once even on a loaded machine.
	direct := peakThreads(func() {
		var wg sync.WaitGroup
		for range fetches {
			wg.Go(func() { blockThread(10 * block) })
		}
		wg.Wait()
	})
	t.Logf("OS threads: baseline %d, peak %d through the pool, %d blocking directly", base, pooled, direct)
	if direct < fetches {
		t.Fatalf("blocking directly peaked at %d threads; the sampler cannot see blocked threads", direct)
	}
}

// The same bound with real cold files and the real loader.
func TestPoolColdFilesBoundedThreads(t *testing.T) {
	if threadCount() < 0 {
		t.Skip("no /proc/self/status")
	}
	const workers, fetches, size = 4, 64, 256 << 10
	dir := t.TempDir()
	p := newTestPool(t, Config{Enabled: true, Workers: workers, Dir: dir, ChunkBytes: 64 << 10})
	if p.Method() == MethodNone {
		t.Skip("no residency method here")
	}
	var ranges []Range
	for range fetches {
		f := coldFile(t, dir, size)
		ranges = append(ranges, Range{File: f, Length: size})
	}
	base := threadCount()
	peak := peakThreads(func() {
		var wg sync.WaitGroup
		for i, r := range ranges {
			wg.Go(func() {
				if p.Resident(r) {
					t.Errorf("fetch %d: evicted range reported resident", i)
					return
				}
				job := p.Warm(Tenant{ClientID: fmt.Sprint(i % 8)}, []Range{r})
				<-job.Done()
				if err := job.Err(); err != nil || !p.Resident(r) {
					t.Errorf("fetch %d: warm-up: err %v, resident %t", i, err, p.Resident(r))
				}
			})
		}
		wg.Wait()
	})
	if limit := base + workers + runtime.GOMAXPROCS(0) + 4; peak > limit {
		t.Fatalf("%d OS threads at peak (baseline %d, limit %d)", peak, base, limit)
	}
}

// CancelExcept keeps loading one range and stops the others; Ready tells how far each
// got.
func TestJobCancelExcept(t *testing.T) {
	files, byFile := tenantFiles(t, "r0", "r1", "r2")
	g := &gatedLoader{byFile: byFile, gate: make(chan struct{})}
	p := newTestPool(t, Config{Enabled: true, Workers: 1, ChunkBytes: testChunk, Load: g.load})
	job := p.Warm(Tenant{}, []Range{
		{File: files["r0"], Length: 3 * testChunk},
		{File: files["r1"], Length: 2*testChunk + 10},
		{File: files["r2"], Length: 5 * testChunk},
	})
	waitLoads(t, g, 1) // r0's first chunk is loading
	job.CancelExcept(1)
	close(g.gate)
	waitDone(t, job)
	if got := strings.Join(g.loads(), ","); got != "r0,r1,r1,r1" {
		t.Fatalf("loads %s", got)
	}
	if job.Ready(0) != testChunk || job.Ready(1) != 2*testChunk+10 || job.Ready(2) != 0 {
		t.Fatalf("ready %d %d %d", job.Ready(0), job.Ready(1), job.Ready(2))
	}
	if job.Err() != nil {
		t.Fatal(job.Err())
	}
}

// Ready counts only a gapless prefix, whatever order chunks finish in.
func TestJobReadyIsPrefix(t *testing.T) {
	files, _ := tenantFiles(t, "f")
	release := map[int64]chan struct{}{0: make(chan struct{}), testChunk: make(chan struct{})}
	started := make(chan int64, 2)
	p := newTestPool(t, Config{Enabled: true, Workers: 2, ChunkBytes: testChunk,
		Load: func(_ *os.File, off, _ int64) error { started <- off; <-release[off]; return nil }})
	job := p.Warm(Tenant{}, []Range{{File: files["f"], Length: 2 * testChunk}})
	<-started
	<-started
	close(release[testChunk])
	time.Sleep(20 * time.Millisecond)
	if got := job.Ready(0); got != 0 {
		t.Fatalf("ready %d with the first chunk still loading", got)
	}
	close(release[0])
	waitDone(t, job)
	if got := job.Ready(0); got != 2*testChunk {
		t.Fatalf("ready %d after both chunks", got)
	}
}

// A failed load ends its job with the error and loads nothing more of it.
func TestJobLoadError(t *testing.T) {
	files, _ := tenantFiles(t, "f")
	boom := errors.New("boom")
	var calls atomic.Int32
	p := newTestPool(t, Config{Enabled: true, Workers: 1, ChunkBytes: testChunk,
		Load: func(*os.File, int64, int64) error { calls.Add(1); return boom }})
	job := p.Warm(Tenant{}, []Range{{File: files["f"], Length: 10 * testChunk}})
	waitDone(t, job)
	if !errors.Is(job.Err(), boom) || calls.Load() != 1 || job.Ready(0) != 0 {
		t.Fatalf("err %v after %d loads, ready %d", job.Err(), calls.Load(), job.Ready(0))
	}
}

// Close finishes queued jobs with ErrClosed after the loads in progress.
func TestPoolClose(t *testing.T) {
	files, byFile := tenantFiles(t, "a", "b")
	g := &gatedLoader{byFile: byFile, gate: make(chan struct{})}
	p, err := NewPool(Config{Enabled: true, Workers: 1, ChunkBytes: testChunk, Load: g.load, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	a := p.Warm(Tenant{ClientID: "a"}, []Range{{File: files["a"], Length: 2 * testChunk}})
	waitLoads(t, g, 1)
	b := p.Warm(Tenant{ClientID: "b"}, []Range{{File: files["b"], Length: testChunk}})
	closed := make(chan struct{})
	go func() { p.Close(); close(closed) }()
	waitDone(t, b)
	if !errors.Is(b.Err(), ErrClosed) {
		t.Fatalf("queued job: err %v", b.Err())
	}
	close(g.gate)
	waitDone(t, a)
	<-closed
	if !errors.Is(a.Err(), ErrClosed) || a.Ready(0) != testChunk {
		t.Fatalf("job in progress: err %v, ready %d", a.Err(), a.Ready(0))
	}
	late := p.Warm(Tenant{}, []Range{{File: files["a"], Length: 1}})
	waitDone(t, late)
	if !errors.Is(late.Err(), ErrClosed) {
		t.Fatalf("job after close: err %v", late.Err())
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}
