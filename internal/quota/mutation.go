package quota

import "time"

// MutationThrottle is how long (user, clientID) must wait before its controller mutation
// quota (KIP-599) allows more: zero when it has tokens left or no quota applies.
// CreateTopics v6+, CreatePartitions v3+ and DeleteTopics v5+ refuse a topic with
// THROTTLING_QUOTA_EXCEEDED while it is positive; older versions are served and only
// throttled, as Kafka's permissive quota does for clients that cannot handle the error.
func (m *Manager) MutationThrottle(user, clientID string) time.Duration {
	c := m.client(user, clientID)
	s := c.sensors[ControllerMutationRate]
	if s == nil {
		return 0
	}
	bound, now := c.bounds[ControllerMutationRate], m.clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bucket.refill(bound, m.burst(bound), now)
	return s.bucket.throttle(bound)
}

// RecordMutations spends n partition creations or deletions against (user, clientID)'s
// controller mutation quota and returns the throttle that leaves it with: Kafka checks
// the quota before a topic and charges after, so one request may overdraw it.
func (m *Manager) RecordMutations(user, clientID string, n int) time.Duration {
	c := m.client(user, clientID)
	s := c.sensors[ControllerMutationRate]
	if s == nil || n <= 0 {
		return 0
	}
	bound, now := c.bounds[ControllerMutationRate], m.clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastUsed = now
	s.bucket.record(float64(n), bound, m.burst(bound), now)
	return s.bucket.throttle(bound)
}

// burst is the bucket's capacity: the quota over the whole measured period, as Kafka's
// TokenBucket sizes it (quota × samples × window).
func (m *Manager) burst(bound float64) float64 {
	return bound * float64(m.windows) * m.window.Seconds()
}
