package api

import (
	"sync"
	"sync/atomic"
)

// AnonymousUser is the principal name of a connection that has not authenticated
// (Kafka's User:ANONYMOUS): quotas, ACLs and metrics see every unauthenticated client
// as this user.
const AnonymousUser = "ANONYMOUS"

// Session is what handlers may know about the connection a request came on. The server
// creates one per connection; handlers read it and record what the client tells about
// itself. Handlers never see the socket.
type Session struct {
	// RemoteAddr is the client's address, host:port.
	RemoteAddr string
	// Listener names the listener the connection arrived on.
	Listener string
	// RequireSASL is set by the server for connections of SASL_PLAINTEXT and SASL_SSL
	// listeners: they must authenticate before any request but ApiVersions, SaslHandshake
	// and SaslAuthenticate (sasl_session.go).
	RequireSASL bool

	sasl   saslState  // sasl_session.go; only the connection's reader touches it
	shares shareOrder // share.go; only the connection's reader touches it

	principal atomic.Pointer[string] // nil until authenticated: AnonymousUser
	host      atomic.Pointer[string] // the client's IP as ACLs name it; set on first use (sessionIP)

	mu              sync.Mutex
	softwareName    string        // guarded by mu; from ApiVersions v3+
	softwareVersion string        // guarded by mu; from ApiVersions v3+
	draining        chan struct{} // guarded by mu; made on first use, closed by Drain
}

// Drain tells the connection's parked requests that the broker is shutting down: a
// fetch long poll answers at once with what it has, as if max_wait_ms had passed, so
// the connection's last replies leave without keeping the shutdown waiting for the
// client's max wait (KafkaJS waits 5 s by default). Called by the server; idempotent.
func (s *Session) Drain() {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.drainingLocked():
	default:
		close(s.draining)
	}
}

// Draining is closed once Drain has been called.
func (s *Session) Draining() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.drainingLocked()
}

func (s *Session) drainingLocked() chan struct{} {
	if s.draining == nil {
		s.draining = make(chan struct{})
	}
	return s.draining
}

// SetPrincipal records the user the connection authenticated as (SASL, or a TLS client
// certificate), by name without the "User:" type prefix.
func (s *Session) SetPrincipal(user string) { s.principal.Store(&user) }

// Principal is the connection's user name (without the "User:" prefix): the
// authenticated user, or AnonymousUser. It is read on every request, so it is one
// atomic load.
func (s *Session) Principal() string {
	if p := s.principal.Load(); p != nil {
		return *p
	}
	return AnonymousUser
}

// SetClientSoftware records the client library's self-reported name and version.
func (s *Session) SetClientSoftware(name, version string) {
	s.mu.Lock()
	s.softwareName, s.softwareVersion = name, version
	s.mu.Unlock()
}

// ClientSoftware returns the client library's name and version, if it sent them.
func (s *Session) ClientSoftware() (name, version string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.softwareName, s.softwareVersion
}
