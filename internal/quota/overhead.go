package quota

import (
	"sync"
	"sync/atomic"
	"time"
)

// maxRequestOverhead bounds the per-request overhead charged, so that background work in
// a quiet second (a compaction, a large GC with few requests to share it) cannot make a
// handful of requests look expensive.
const maxRequestOverhead = time.Millisecond

// overhead estimates the broker CPU a request costs outside the span the dispatcher
// measures (decode, handler, encode): reading its frame and writing its response (the
// socket syscalls, which on loopback include the peer's TCP work), waking the
// connection's goroutines, the garbage it leaves for the collector. That span alone
// misses most of what a stream of tiny requests costs (about three quarters of the
// broker's CPU in `nagare bench abuse`), which Kafka's request quota counts because its
// network threads are metered too. Each calibration takes the process CPU not inside any
// measured span since the last one and divides it by the requests served; requests are
// charged the smoothed result on top of their measured time.
type overhead struct {
	requests atomic.Int64 // requests charged so far
	measured atomic.Int64 // nanoseconds of measured broker time charged so far
	perReq   atomic.Int64 // nanoseconds added to each request's charge

	mu                    sync.Mutex // serialises Calibrate
	lastCPU, lastMeasured int64      // guarded by mu
	lastRequests          int64      // guarded by mu
	primed                bool       // guarded by mu
}

// Calibrate updates the per-request overhead from the process's CPU time so far (user
// and system). The broker calls it about once a quota window; the first call only sets
// the baseline.
func (m *Manager) Calibrate(processCPU time.Duration) {
	o := &m.overhead
	o.mu.Lock()
	defer o.mu.Unlock()
	cpu, measured, requests := int64(processCPU), o.measured.Load(), o.requests.Load()
	dCPU, dMeasured, dRequests := cpu-o.lastCPU, measured-o.lastMeasured, requests-o.lastRequests
	o.lastCPU, o.lastMeasured, o.lastRequests = cpu, measured, requests
	if !o.primed {
		o.primed = true
		return
	}
	if dRequests <= 0 {
		return // nothing to learn from an idle interval; keep the last estimate
	}
	sample := min(max((dCPU-dMeasured)/dRequests, 0), int64(maxRequestOverhead))
	// Smooth over a few intervals: one interval's background burst should not swing it.
	o.perReq.Store((o.perReq.Load() + sample) / 2)
}

// RequestOverhead is the overhead currently added to each request's broker time.
func (m *Manager) RequestOverhead() time.Duration { return time.Duration(m.overhead.perReq.Load()) }

// RecordRequest charges one request's measured broker time d plus the per-request
// overhead against RequestPercentage, and returns the throttle time when check is set.
// Call it once per request; further time the same request spends (its encoding) goes
// through RecordTime.
func (m *Manager) RecordRequest(user, clientID string, d time.Duration, check bool) time.Duration {
	m.overhead.requests.Add(1)
	return m.recordTime(user, clientID, d, m.RequestOverhead(), check)
}

// RecordExempt counts broker time d of a request exempt from client quotas (a broker's
// own cluster action) in the overhead calibration, charging no client: its CPU is in the
// process's, so leaving it out would load its cost onto every other request's overhead.
// first says whether this is the request's first record (it counts one request).
func (m *Manager) RecordExempt(d time.Duration, first bool) {
	if first {
		m.overhead.requests.Add(1)
	}
	m.overhead.measured.Add(int64(d))
}
