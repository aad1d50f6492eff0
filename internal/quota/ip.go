package quota

import "time"

// ipQuotas is the per-IP connection_creation_rate state (KIP-612). Its entities are not
// users or client-ids but addresses, with their own two-level precedence (the IP, then
// <default>), so they live apart from the client table.
type ipQuotas struct {
	bounds    map[string]float64 // by IP; "" is <default>; never modified once set
	sensors   map[string]*sensor // by IP, for IPs a bound applies to
	throttled int64              // connections refused so far
}

func newIPQuotas() ipQuotas {
	return ipQuotas{bounds: map[string]float64{}, sensors: map[string]*sensor{}}
}

// SetIPQuotas replaces the connection_creation_rate quotas, connections per second by
// IP, with "" for <default>; q is the caller's no more. Usage already measured survives.
func (m *Manager) SetIPQuotas(q map[string]float64) {
	if q == nil {
		q = map[string]float64{}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ips.bounds = q
}

// AdmitConnection records a new connection from ip and returns zero to serve it, or how
// long to hold it before closing it unserved because ip is over its connection creation
// rate. As Kafka's ConnectionQuotas, a refused connection is taken back out of the rate,
// so a client retrying in a tight loop is refused only while it keeps the rate high.
func (m *Manager) AdmitConnection(ip string) time.Duration {
	m.mu.RLock()
	bound, ok := m.ips.bounds[ip]
	if !ok {
		bound, ok = m.ips.bounds[""]
	}
	s := m.ips.sensors[ip]
	m.mu.RUnlock()
	if !ok || bound <= 0 {
		return 0
	}
	if s == nil {
		s = m.ipSensor(ip)
	}
	now := m.clock()
	s.mu.Lock()
	s.lastUsed = now
	s.rate.record(1, now, m.windows, m.window)
	span := s.rate.span(now, m.windows, m.window)
	throttle := throttleTime(s.rate.measure(now, m.windows, m.window), bound, span)
	if throttle > 0 {
		s.rate.record(-1, now, m.windows, m.window)
	}
	s.mu.Unlock()
	if throttle > 0 {
		m.mu.Lock()
		m.ips.throttled++
		m.mu.Unlock()
	}
	return min(throttle, time.Duration(m.windows)*m.window)
}

// ConnectionsThrottled is how many connections AdmitConnection has refused.
func (m *Manager) ConnectionsThrottled() int64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.ips.throttled
}

func (m *Manager) ipSensor(ip string) *sensor {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.ips.sensors[ip]
	if s == nil {
		now := m.clock()
		s = &sensor{rate: newRate(m.windows, now), lastUsed: now}
		m.ips.sensors[ip] = s
	}
	return s
}
