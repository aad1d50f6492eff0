package readpath

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// coldFile writes size bytes to a new file and evicts it from the page cache, skipping
// the test where that cannot be done (other systems, tmpfs).
func coldFile(t testing.TB, dir string, size int) *os.File {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	f, err := os.CreateTemp(dir, "segment-*.log")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 31)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := Evict(f); err != nil {
		t.Skipf("cannot evict: %v", err)
	}
	return f
}

func newTestPool(t testing.TB, cfg Config) *Pool {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	p, err := NewPool(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestFeatureTestPicksBestMethod(t *testing.T) {
	p := newTestPool(t, Config{Enabled: true})
	want := MethodCachestat
	if runtime.GOOS != "linux" {
		want = MethodNone
	}
	// cachestat needs Linux 6.5; on older kernels the feature test falls back, which
	// this test accepts as long as the choice is a real method.
	if p.Method() != want && (runtime.GOOS != "linux" || p.Method() == MethodNone) {
		t.Fatalf("method = %s, want %s", p.Method(), want)
	}
	if _, err := NewPool(Config{Method: "bogus", Dir: t.TempDir()}); !errors.Is(err, ErrUnknownMethod) {
		t.Fatalf("unknown method: err = %v", err)
	}
}

// Each method must say an evicted file is not resident and a read one is; a range half
// read is resident in its read half only.
func TestResidencyMethods(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("residency checks are Linux-only")
	}
	const size = 1 << 20
	for _, m := range methodPreference {
		t.Run(string(m), func(t *testing.T) {
			dir := t.TempDir()
			p, err := NewPool(Config{Enabled: true, Method: m, Dir: dir, Workers: 1})
			if err != nil {
				t.Skipf("method unavailable here: %v", err)
			}
			defer p.Close()
			f := coldFile(t, dir, size)
			whole := Range{File: f, Offset: 0, Length: size}
			if p.Resident(whole) {
				t.Fatal("evicted file reported resident")
			}
			half := Range{File: f, Offset: 0, Length: size / 2}
			if _, err := f.ReadAt(make([]byte, size/2), 0); err != nil {
				t.Fatal(err)
			}
			if !p.Resident(half) {
				t.Fatal("read half reported not resident")
			}
			// Readahead may have loaded some of the rest; evict again to be sure.
			if err := Evict(f); err != nil {
				t.Fatal(err)
			}
			if _, err := f.ReadAt(make([]byte, size/2), 0); err != nil {
				t.Fatal(err)
			}
			if err := fadviseDontNeed(f, size/2, size/2); err == nil && p.Resident(whole) {
				t.Fatal("half-evicted file reported wholly resident")
			}
			if _, err := f.ReadAt(make([]byte, size), 0); err != nil {
				t.Fatal(err)
			}
			if !p.Resident(whole) || !p.Resident(Range{File: f, Offset: 12345, Length: 100_000}) {
				t.Fatal("read file reported not resident")
			}
			st := p.Stats()
			if st.ColdChecks < 2 || st.ResidentChecks < 2 || st.CheckErrors != 0 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// Warm-up with the real loader (sendfile to /dev/null) makes an evicted range resident.
func TestWarmLoadsColdRange(t *testing.T) {
	dir := t.TempDir()
	p := newTestPool(t, Config{Enabled: true, Dir: dir, Workers: 2, ChunkBytes: 64 << 10})
	if p.Method() == MethodNone {
		t.Skip("no residency method here")
	}
	const size = 3<<20 + 1000
	f := coldFile(t, dir, size)
	r := Range{File: f, Offset: 4096 + 7, Length: size - 4096 - 7}
	if p.Resident(r) {
		t.Fatal("evicted range reported resident")
	}
	job := p.Warm(Tenant{ClientID: "c"}, []Range{r})
	select {
	case <-job.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("warm-up did not finish")
	}
	if err := job.Err(); err != nil {
		t.Fatal(err)
	}
	if job.Ready(0) != r.Length {
		t.Fatalf("ready %d of %d", job.Ready(0), r.Length)
	}
	if !p.Resident(r) {
		t.Fatal("warmed range reported not resident")
	}
	if st := p.Stats(); st.Bytes != r.Length || st.Jobs != 1 {
		t.Fatalf("stats %+v", st)
	}
	var loads uint64
	for _, n := range p.WarmUpLatency().Snapshot() {
		loads += n
	}
	if loads == 0 || p.QueueWait().Snapshot() == ([HistogramBuckets]uint64{}) {
		t.Fatal("warm-up and queue-wait histograms are empty")
	}
}

// A disabled pool checks nothing and never warms.
func TestDisabledPool(t *testing.T) {
	dir := t.TempDir()
	p := newTestPool(t, Config{Enabled: false, Dir: dir})
	f, err := os.Create(filepath.Join(dir, "x"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !p.Resident(Range{File: f, Offset: 0, Length: 1 << 20}) {
		t.Fatal("disabled pool reported a range cold")
	}
	job := p.Warm(Tenant{}, []Range{{File: f, Length: 10}})
	<-job.Done()
	if !errors.Is(job.Err(), ErrClosed) {
		t.Fatalf("err = %v", job.Err())
	}
}
