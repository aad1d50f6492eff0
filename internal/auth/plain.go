package auth

import (
	"bytes"
	"crypto/subtle"
	"fmt"
)

// PlainServer runs SASL/PLAIN (RFC 4616): one client message, authzid NUL authcid NUL
// password, checked against the users configured for the listener. PLAIN carries the
// password itself, so it belongs on TLS listeners (SASL_SSL).
type PlainServer struct {
	users map[string]string
	user  string
	done  bool
}

// Step implements Exchange.
func (s *PlainServer) Step(msg []byte) ([]byte, bool, error) {
	if s.done {
		return nil, false, fmt.Errorf("%w: PLAIN exchange already finished", ErrMalformed)
	}
	s.done = true
	parts := bytes.Split(msg, []byte{0})
	if len(parts) != 3 {
		return nil, false, fmt.Errorf("%w: PLAIN message has %d fields, want 3", ErrMalformed, len(parts))
	}
	authzid, user, password := string(parts[0]), string(parts[1]), parts[2]
	if user == "" || len(password) == 0 || (authzid != "" && authzid != user) {
		return nil, false, ErrAuthenticationFailed
	}
	want, ok := s.users[user]
	// Compare even for unknown users, so the time taken does not tell them apart.
	if subtle.ConstantTimeCompare([]byte(want), password) != 1 || !ok {
		return nil, false, ErrAuthenticationFailed
	}
	s.user = user
	return nil, true, nil
}

// User implements Exchange.
func (s *PlainServer) User() string { return s.user }
