package quota

import "time"

// ExpireIdle forgets the usage and accounting of clients, sharing keys and IPs that have
// not been charged for longer than the Manager's IdleExpiry, as Kafka expires inactive
// quota sensors. Without it a stream of new client ids (or addresses) would grow the
// Manager for ever. A client seen again starts afresh. The broker calls it periodically;
// it returns how many entries it dropped.
func (m *Manager) ExpireIdle() int {
	cutoff := m.clock() - m.idleExpiry
	m.mu.Lock()
	defer m.mu.Unlock()
	dropped := 0
	for k, a := range m.accounts {
		a.mu.Lock()
		idle := a.lastUsed < cutoff
		a.mu.Unlock()
		if idle {
			delete(m.accounts, k)
			dropped++
		}
	}
	for t := range m.sensors {
		dropped += expireSensors(m.sensors[t], cutoff)
	}
	dropped += expireSensors(m.ips.sensors, cutoff)
	if dropped > 0 {
		// Resolutions point at what was dropped; they are rebuilt on next use.
		clear(m.clients)
	}
	return dropped
}

func expireSensors[K comparable](sensors map[K]*sensor, cutoff time.Duration) int {
	dropped := 0
	for k, s := range sensors {
		s.mu.Lock()
		idle := s.lastUsed < cutoff
		s.mu.Unlock()
		if idle {
			delete(sensors, k)
			dropped++
		}
	}
	return dropped
}
