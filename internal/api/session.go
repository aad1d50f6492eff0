package api

import "sync"

// Session is what handlers may know about the connection a request came on. The server
// creates one per connection; handlers read it and record what the client tells about
// itself. Handlers never see the socket.
type Session struct {
	// RemoteAddr is the client's address, host:port.
	RemoteAddr string
	// Listener names the listener the connection arrived on.
	Listener string

	mu              sync.Mutex
	softwareName    string // guarded by mu; from ApiVersions v3+
	softwareVersion string // guarded by mu; from ApiVersions v3+
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
