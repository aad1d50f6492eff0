package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"
)

// DefaultTLSHandshakeTimeout bounds a TLS handshake; a client that opens a connection and
// sends nothing (or dribbles its hello) is closed after it.
const DefaultTLSHandshakeTimeout = 10 * time.Second

// errTLSHandshake wraps a failed handshake, logged at info: it is the client's problem.
var errTLSHandshake = errors.New("server: TLS handshake failed")

// Security protocols that make a connection authenticate with SASL, Kafka's names.
const (
	protocolSASLPlaintext = "SASL_PLAINTEXT"
	protocolSASLSSL       = "SASL_SSL"
)

// listenerConfig returns the config of the named listener.
func (s *Server) listenerConfig(name string) ListenerConfig {
	for _, lc := range s.cfg.Listeners {
		if lc.Name == name {
			return lc
		}
	}
	return ListenerConfig{Name: name}
}

// handshake runs the TLS handshake of a TLS connection on the connection's own reader
// goroutine (never the accept loop, so a slow client delays no one else), bounded by
// TLSHandshakeTimeout, and takes the principal from the client certificate when the
// listener maps one.
func (c *conn) handshake() error {
	tc, ok := c.netConn.(*tls.Conn)
	if !ok {
		return nil
	}
	timeout := c.server.cfg.TLSHandshakeTimeout
	ctx, cancel := context.WithTimeout(c.ctx, timeout)
	defer cancel()
	if err := tc.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("%w: %w", errTLSHandshake, err)
	}
	if err := tc.SetDeadline(time.Time{}); err != nil {
		return err
	}
	if principal := c.listener.TLSPrincipal; principal != nil {
		user, ok, err := principal(tc.ConnectionState())
		if err != nil {
			c.server.CountAuthFailure(c.listener.Name, "TLS")
			return fmt.Errorf("%w: client certificate: %w", errTLSHandshake, err)
		}
		if ok {
			c.session.SetPrincipal(user)
		}
	}
	return nil
}
