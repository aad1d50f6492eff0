package readpath

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for zero Config fields.
const (
	// DefaultChunkBytes is the unit of warm-up work and of fairness: a worker loads one
	// chunk, then the next tenant in turn gets the next worker. 1 MiB keeps a turn to about
	// a millisecond on an SSD while still letting readahead see sequential reads.
	DefaultChunkBytes = 1 << 20
	// workersPerCPU, minWorkers and maxWorkers set DefaultWorkers.
	workersPerCPU = 4
	minWorkers    = 4
	maxWorkers    = 64
)

// DefaultWorkers is the warm-up pool size when nagare.readpath.warmup.threads is 0: four
// per CPU, at least 4 and at most 64. Each worker blocks one OS thread in the kernel while
// the disk reads its chunk, so this bounds both the threads warm-up can tie up and the
// reads it keeps queued at the disk; a few per CPU keep an SSD's queue busy without
// letting cold reads crowd the scheduler.
func DefaultWorkers() int {
	return min(max(workersPerCPU*runtime.NumCPU(), minWorkers), maxWorkers)
}

// ErrClosed is the error of a Job submitted to, or cut short by, a closed Pool.
var ErrClosed = errors.New("readpath: pool closed")

// Config configures a Pool; the broker fills it from nagare.readpath.warmup.*.
type Config struct {
	// Enabled turns residency checks and warm-up on. When false, Resident reports every
	// range resident, no worker runs, and ranges reach the writer as read (the seed's
	// behaviour before its fix, kept so that the difference can be measured).
	Enabled bool
	// Workers bounds the loads running at once, and so the OS threads blocked on the disk
	// for warm-up. Zero or less means DefaultWorkers.
	Workers int
	// ChunkBytes is the most one worker loads before the next tenant's turn. Zero or less
	// means DefaultChunkBytes; it is rounded up to whole pages.
	ChunkBytes int64
	// Dir is where the start-up feature test makes its probe file: the data dir, so the
	// chosen method is one that works on the segments' filesystem. "" means os.TempDir.
	Dir string
	// Method forces a residency method; "" picks the best that works.
	Method Method
	// Logger reports the chosen method at start; nil discards.
	Logger *slog.Logger
	// Load replaces the warm-up load, for tests that need a slow or observable one; nil
	// means sendfile to /dev/null.
	Load func(f *os.File, offset, length int64) error
	// Resident replaces the residency check, for tests; nil means the chosen Method.
	Resident func(r Range) bool
}

// Range is a span of an open file.
type Range struct {
	File   *os.File
	Offset int64
	Length int64
}

// Tenant says whom a warm-up is for. The pool keeps a queue per client within each
// principal, serves principals in turn and, within a principal, its clients in turn, a
// chunk per turn: one tenant's catch-up read of gigabytes delays another's small cold
// read by at most a chunk per worker.
type Tenant struct {
	Principal string // e.g. User:alice; "" is a principal like any other
	ClientID  string // the request header's client id
}

// Pool checks whether file ranges are resident in the page cache and loads those that
// are not with a bounded set of workers, fairly between tenants. It is safe for
// concurrent use.
type Pool struct {
	enabled  bool
	workers  int
	chunk    int64
	method   Method
	check    checkFunc
	resident func(Range) bool // Config.Resident
	load     func(f *os.File, offset, length int64) error
	sink     *nullSink
	metrics  metrics
	sendfile atomic.Pointer[Histogram] // the server's, exported with ours

	mu     sync.Mutex
	work   *sync.Cond // signalled when work is queued or the pool closes; uses mu
	sched  scheduler  // guarded by mu
	closed bool       // guarded by mu
	wg     sync.WaitGroup
}

// NewPool runs the residency feature test, logs its choice and starts the workers.
func NewPool(cfg Config) (*Pool, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	p := &Pool{enabled: cfg.Enabled, workers: cfg.Workers, chunk: cfg.ChunkBytes, resident: cfg.Resident, load: cfg.Load}
	if p.workers <= 0 {
		p.workers = DefaultWorkers()
	}
	if p.chunk <= 0 {
		p.chunk = DefaultChunkBytes
	}
	if page := int64(os.Getpagesize()); p.chunk%page != 0 {
		p.chunk += page - p.chunk%page
	}
	method, check, err := detectMethod(cfg.Dir, cfg.Method)
	if err != nil {
		return nil, err
	}
	p.method, p.check = method, check
	if p.load == nil {
		if p.sink, err = openNullSink(); err != nil {
			return nil, err
		}
		p.load = p.sink.load
	}
	p.work = sync.NewCond(&p.mu)
	p.sched.init()
	if p.enabled {
		for range p.workers {
			p.wg.Add(1)
			go p.worker()
		}
	}
	logger.Info("readpath: page cache residency check", "method", string(method),
		"warmup", p.enabled, "warmup_threads", p.workers, "chunk_bytes", p.chunk)
	return p, nil
}

// Enabled says whether residency checks and warm-up are on.
func (p *Pool) Enabled() bool { return p.enabled }

// Method is the residency method the feature test chose.
func (p *Pool) Method() Method { return p.method }

// Workers is the most loads that run at once.
func (p *Pool) Workers() int { return p.workers }

// Resident reports whether r is wholly in the page cache, so that sendfile of it will
// not wait for the disk. It is true when the pool is disabled, for empty ranges, with
// MethodNone, and when the check itself fails (the writer then meets the same file and
// reports what is wrong with it).
func (p *Pool) Resident(r Range) bool {
	if !p.enabled || r.Length <= 0 {
		return true
	}
	start := time.Now()
	var resident bool
	if p.resident != nil {
		resident = p.resident(r)
	} else if p.check == nil {
		resident = true
	} else {
		var err error
		resident, err = checkFile(r.File, p.check, r.Offset, r.Length)
		if err != nil {
			p.metrics.checkErrors.Add(1)
			resident = true
		}
	}
	p.metrics.residency.Observe(time.Since(start))
	if resident {
		p.metrics.resident.Add(1)
	} else {
		p.metrics.cold.Add(1)
	}
	return resident
}

// Warm queues ranges to be loaded into the page cache for tenant and returns the job,
// which completes when all are loaded, when it is cancelled, when a load fails, or when
// the pool closes. The caller keeps the ranges' files open until the job is done or
// cancelled; a load that finds its file closed just fails.
func (p *Pool) Warm(tenant Tenant, ranges []Range) *Job {
	j := newJob(p, tenant, ranges)
	p.metrics.jobs.Add(1)
	p.mu.Lock()
	switch {
	case p.closed || !p.enabled:
		j.err = ErrClosed
		j.stopLocked(-1)
	default:
		p.sched.push(j)
	}
	if !j.hasMoreLocked() {
		j.finishLocked()
	}
	p.mu.Unlock()
	// One worker; each worker that takes a chunk wakes the next while chunks remain, so
	// a job wakes as many workers as it can keep busy and not the whole pool per job.
	p.work.Signal()
	return j
}

// Close stops the workers after their current chunk and completes every queued job
// with ErrClosed. Safe to call more than once.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	for _, j := range p.sched.drain() {
		if j.err == nil {
			j.err = ErrClosed
		}
		j.stopLocked(-1)
		if j.inflight == 0 && !j.finished {
			j.finishLocked()
		}
	}
	p.mu.Unlock()
	p.work.Broadcast()
	p.wg.Wait()
	if p.sink != nil {
		return p.sink.Close()
	}
	return nil
}

// worker loads chunks until the pool closes.
func (p *Pool) worker() {
	defer p.wg.Done()
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		c, ok := p.sched.take()
		if !ok {
			if p.closed {
				return
			}
			p.work.Wait()
			continue
		}
		if p.sched.pending() {
			p.work.Signal()
		}
		j := c.job
		j.inflight++
		if !j.started {
			j.started = true
			p.metrics.queueWait.Observe(time.Since(j.submitted))
		}
		p.metrics.busy.Add(1)
		p.mu.Unlock()
		start := time.Now()
		err := p.load(j.ranges[c.rng].File, c.offset, c.length)
		p.metrics.warmup.Observe(time.Since(start))
		p.metrics.busy.Add(-1)
		if err != nil {
			p.metrics.loadErrors.Add(1)
		} else {
			p.metrics.chunks.Add(1)
			p.metrics.bytes.Add(c.length)
		}
		p.mu.Lock()
		j.completeLocked(c, err)
	}
}

// String describes the pool's setup, for logs and the benchmark's report.
func (p *Pool) String() string {
	return fmt.Sprintf("residency=%s warmup=%t threads=%d chunk=%d", p.method, p.enabled, p.workers, p.chunk)
}
