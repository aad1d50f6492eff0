package interbroker

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"
)

// dialTimeout bounds the TCP connect and, separately, the TLS handshake.
const dialTimeout = 10 * time.Second

// Dial opens a connection to another broker's inter-broker address, with the TLS
// handshake done when the listener is SSL or SASL_SSL (the server name is the dialed
// host unless the config names one). SASL, if any, is the caller's next step
// (Authenticate), after ApiVersions.
func (s *Settings) Dial(ctx context.Context, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true) // Go's default; said here because inter-broker calls are latency-bound
	}
	if s == nil || s.TLS == nil {
		return nc, nil
	}
	cfg := s.TLS.Clone()
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("interbroker: address %s: %w", addr, err)
		}
		cfg.ServerName = host
	}
	tc := tls.Client(nc, cfg)
	hctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		nc.Close()
		return nil, fmt.Errorf("interbroker: TLS handshake with %s: %w", addr, err)
	}
	return tc, nil
}
