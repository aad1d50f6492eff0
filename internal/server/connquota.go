package server

import (
	"net"
	"time"
)

// ConnectionGate decides whether a new connection is served: the broker's per-IP
// connection_creation_rate quotas (KIP-612). The server asks it once per accepted
// connection, on the accept loop, so it must not block.
type ConnectionGate interface {
	// AdmitConnection returns zero to serve a connection from ip, or how long to hold it
	// before closing it unserved.
	AdmitConnection(ip string) time.Duration
}

// admit asks the gate about nc; a refused connection is held open, unread, for the
// throttle and then closed (as Kafka's acceptor does, so a client reconnecting in a
// tight loop is slowed by its own waiting) and admit returns false.
func (s *Server) admit(nc net.Conn, listener string) bool {
	gate := s.cfg.ConnectionGate
	if gate == nil {
		return true
	}
	ip := remoteIP(nc)
	d := gate.AdmitConnection(ip)
	if d <= 0 {
		return true
	}
	s.logger.Debug("server: connection over its IP's connection_creation_rate; closing after the throttle",
		"listener", listener, "ip", ip, "throttle", d)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateRunning {
		nc.Close()
		return false
	}
	s.throttled[nc] = time.AfterFunc(d, func() { s.closeThrottled(nc) })
	return false
}

// closeThrottled closes a refused connection once its throttle has passed, or at
// shutdown.
func (s *Server) closeThrottled(nc net.Conn) {
	s.mu.Lock()
	t, ok := s.throttled[nc]
	delete(s.throttled, nc)
	s.mu.Unlock()
	if ok {
		t.Stop()
		nc.Close()
	}
}

// closeAllThrottled closes every refused connection still held, at shutdown.
func (s *Server) closeAllThrottled() {
	s.mu.Lock()
	held := make([]net.Conn, 0, len(s.throttled))
	for nc := range s.throttled {
		held = append(held, nc)
	}
	s.mu.Unlock()
	for _, nc := range held {
		s.closeThrottled(nc)
	}
}

// remoteIP is the address part of the connection's peer, as quota entities name it.
func remoteIP(nc net.Conn) string {
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	host, _, err := net.SplitHostPort(nc.RemoteAddr().String())
	if err != nil {
		return nc.RemoteAddr().String()
	}
	return host
}
