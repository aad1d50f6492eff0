package readpath

import (
	"sync/atomic"
	"time"
)

// Job is one Warm call: ranges being loaded, a chunk at a time, in order.
type Job struct {
	pool      *Pool
	tenant    Tenant
	ranges    []Range
	submitted time.Time
	done      chan struct{}
	ready     []atomic.Int64 // per range: bytes loaded from its start with no gap

	// All below are guarded by pool.mu.
	rng, chunk int    // the next chunk to hand out: range index, chunk index in it
	lastRange  int    // ranges after this one are not handed out (cancelled)
	loaded     []bool // per chunk of every range, in order: loaded
	firstChunk []int  // index in loaded of each range's first chunk
	inflight   int    // chunks being loaded
	started    bool   // a chunk has been handed out (queue wait observed)
	finished   bool   // done is closed
	err        error  // first load error, or ErrClosed
}

// chunk is one unit of work handed to a worker.
type chunk struct {
	job    *Job
	rng    int   // index of the range in job.ranges
	index  int   // chunk index within the range
	offset int64 // file position
	length int64
}

func newJob(p *Pool, tenant Tenant, ranges []Range) *Job {
	j := &Job{
		pool: p, tenant: tenant, ranges: ranges, submitted: time.Now(),
		done: make(chan struct{}), ready: make([]atomic.Int64, len(ranges)),
		lastRange: len(ranges) - 1, firstChunk: make([]int, len(ranges)),
	}
	total := 0
	for i, r := range ranges {
		j.firstChunk[i] = total
		total += j.chunks(r)
	}
	j.loaded = make([]bool, total)
	j.skipEmptyLocked()
	return j
}

// chunks is how many chunks r is cut into.
func (j *Job) chunks(r Range) int {
	if r.Length <= 0 {
		return 0
	}
	return int((r.Length + j.pool.chunk - 1) / j.pool.chunk)
}

// Done is closed when the job has finished: every range loaded, or cancelled (and the
// chunks already being loaded finished), or a load failed, or the pool closed.
func (j *Job) Done() <-chan struct{} { return j.done }

// Ready is how many bytes of range i, from its start, are loaded. It only grows; the
// whole range is loaded when it equals the range's length.
func (j *Job) Ready(i int) int64 { return j.ready[i].Load() }

// Err is the first load error, or ErrClosed if the pool closed first; nil otherwise.
// Valid after Done.
func (j *Job) Err() error {
	j.pool.mu.Lock()
	defer j.pool.mu.Unlock()
	return j.err
}

// Cancel stops handing out the job's chunks; Done closes once those being loaded finish.
func (j *Job) Cancel() { j.CancelExcept(-1) }

// CancelExcept is Cancel for every range but keep (negative: none), whose remaining
// chunks are still loaded. A fetch at its deadline with nothing ready uses it to finish
// one range rather than answer empty.
func (j *Job) CancelExcept(keep int) {
	j.pool.mu.Lock()
	defer j.pool.mu.Unlock()
	if j.finished {
		return
	}
	j.stopLocked(keep)
	if !j.hasMoreLocked() && j.inflight == 0 {
		j.finishLocked()
	}
}

// stopLocked limits the chunks still to hand out to those of range keep.
func (j *Job) stopLocked(keep int) {
	if keep >= len(j.ranges) {
		keep = -1
	}
	switch {
	case keep < 0 || keep < j.rng:
		j.lastRange = j.rng - 1
		j.chunk = 0
	case keep > j.rng:
		j.rng, j.chunk, j.lastRange = keep, 0, keep
	default:
		j.lastRange = keep
	}
	j.skipEmptyLocked()
}

// hasMoreLocked says whether chunks remain to hand out.
func (j *Job) hasMoreLocked() bool { return j.rng <= j.lastRange }

// nextChunkLocked hands out the next chunk, if any.
func (j *Job) nextChunkLocked() (chunk, bool) {
	if !j.hasMoreLocked() {
		return chunk{}, false
	}
	r := j.ranges[j.rng]
	off := int64(j.chunk) * j.pool.chunk
	c := chunk{job: j, rng: j.rng, index: j.chunk, offset: r.Offset + off, length: min(j.pool.chunk, r.Length-off)}
	j.chunk++
	if j.chunk >= j.chunks(r) {
		j.rng, j.chunk = j.rng+1, 0
		j.skipEmptyLocked()
	}
	return c, true
}

// skipEmptyLocked moves the cursor past ranges with nothing to load.
func (j *Job) skipEmptyLocked() {
	for j.rng <= j.lastRange && j.rng < len(j.ranges) && j.chunks(j.ranges[j.rng]) == 0 {
		j.rng++
	}
	if j.rng >= len(j.ranges) {
		j.lastRange = min(j.lastRange, len(j.ranges)-1)
	}
}

// completeLocked records a loaded (or failed) chunk and finishes the job when nothing is
// left to load.
func (j *Job) completeLocked(c chunk, err error) {
	j.inflight--
	if err != nil {
		if j.err == nil {
			j.err = err
		}
		j.stopLocked(-1)
	} else {
		base := j.firstChunk[c.rng]
		j.loaded[base+c.index] = true
		n := j.chunks(j.ranges[c.rng])
		k := int(j.ready[c.rng].Load() / j.pool.chunk)
		for k < n && j.loaded[base+k] {
			k++
		}
		j.ready[c.rng].Store(min(int64(k)*j.pool.chunk, j.ranges[c.rng].Length))
	}
	if !j.hasMoreLocked() && j.inflight == 0 && !j.finished {
		j.finishLocked()
	}
}

func (j *Job) finishLocked() {
	j.finished = true
	close(j.done)
}
