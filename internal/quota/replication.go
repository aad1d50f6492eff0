package quota

import (
	"sync"
	"time"
)

// ReplicationQuota is one side of Kafka's replication quotas (KIP-73, ReplicationQuotaManager):
// the bytes per second of throttled replication, leader side (sent in replica fetch responses)
// or follower side (fetched by this broker's replica fetchers), measured on the same sampled
// window as client quotas. Only partitions marked throttled are recorded and held back; when
// Exceeded, callers leave those partitions out of the fetch until the rate falls back under
// the bound. Safe for concurrent use.
type ReplicationQuota struct {
	bound   func() float64 // bytes per second; <= 0 is unlimited (read on every check: dynamic)
	windows int
	window  time.Duration
	start   time.Time // the monotonic origin of the rate's clock

	mu   sync.Mutex
	rate rate // guarded by mu
}

// NewReplicationQuota returns a quota judged against bound (called on each check, so a
// dynamic config change applies at once) over windows samples of window each
// (replication.quota.window.num, replication.quota.window.size.seconds).
func NewReplicationQuota(bound func() float64, windows int, window time.Duration) *ReplicationQuota {
	windows, window = max(windows, 1), max(window, time.Millisecond)
	return &ReplicationQuota{bound: bound, windows: windows, window: window, start: time.Now(), rate: newRate(windows, 0)}
}

// Record counts bytes of throttled replication sent or fetched now.
func (q *ReplicationQuota) Record(bytes int64) {
	if q == nil || bytes <= 0 {
		return
	}
	now := time.Since(q.start)
	q.mu.Lock()
	q.rate.record(float64(bytes), now, q.windows, q.window)
	q.mu.Unlock()
}

// Exceeded reports whether the throttled replication rate is above the bound, so throttled
// partitions must wait. A nil quota, or an unlimited bound, is never exceeded.
func (q *ReplicationQuota) Exceeded() bool {
	if q == nil {
		return false
	}
	bound := q.bound()
	if bound <= 0 {
		return false
	}
	now := time.Since(q.start)
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.rate.measure(now, q.windows, q.window) > bound
}
