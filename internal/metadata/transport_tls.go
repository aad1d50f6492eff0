package metadata

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"
)

// TransportTLS secures the CONTROLLER listener (listener.security.protocol.map
// CONTROLLER:SSL): every connection of the metadata quorum, raft's RPCs and the
// forwarding protocol (proposals, joins, read-index, broker heartbeats) alike, is TLS.
// A node is both a server (other nodes dial it) and a client (it dials them), so it
// needs both sides, built from the same listener settings as Kafka builds them; the
// broker package derives them (listener.name.controller.ssl.*, else ssl.*).
//
// Mutual TLS is the Server config's ClientAuth (ssl.client.auth=required): a node whose
// certificate the truststore does not verify cannot then open any connection, so it can
// neither vote, nor receive the log, nor join. Differs from Kafka: no principal is
// derived and nothing is authorized on the controller listener (Kafka checks
// CLUSTER_ACTION); any certificate the truststore verifies is a member, so the
// controller listener's truststore should trust only the cluster's own CA.
type TransportTLS struct {
	// Server accepts connections: the keystore's certificate, and client certificates
	// checked against ClientCAs as ClientAuth says.
	Server *tls.Config
	// Client dials other nodes: servers verified against RootCAs (nil: the system roots)
	// and the dialed host unless ServerName is set, the keystore's certificate presented
	// when the server asks for one.
	Client *tls.Config
}

// ErrTLSConfig is returned by Open when a TransportTLS lacks one of its sides.
var ErrTLSConfig = errors.New("metadata: controller listener TLS needs both a server and a client config")

// validate checks that both sides are there; nil (PLAINTEXT) is valid.
func (t *TransportTLS) validate() error {
	if t == nil {
		return nil
	}
	if t.Server == nil || t.Client == nil {
		return ErrTLSConfig
	}
	if len(t.Server.Certificates) == 0 && t.Server.GetCertificate == nil {
		return fmt.Errorf("%w: the server config has no certificate", ErrTLSConfig)
	}
	return nil
}

// client wraps a dialed socket: the server name is the dialed host (an IP address is
// checked against the certificate's IP SANs), as the inter-broker client does, unless
// the config names one.
func (t *TransportTLS) client(raw net.Conn, address string) (*tls.Conn, error) {
	cfg := t.Client
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return nil, fmt.Errorf("metadata: controller address %s: %w", address, err)
		}
		cfg = cfg.Clone()
		cfg.ServerName = host
	}
	return tls.Client(raw, cfg), nil
}

// clientHandshake completes a dialed connection's handshake by deadline; nothing to do
// without TLS. Under TLS 1.3 the server checks the client certificate after the client
// has finished, so a refused certificate shows as an error on the first read instead.
func (t *TransportTLS) clientHandshake(c *muxConn, deadline time.Time) error {
	tc, ok := c.Conn.(*tls.Conn)
	if t == nil || !ok {
		return nil
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	return nil
}

// handshake completes an accepted connection's TLS handshake by deadline (the routing
// deadline, see route); true without TLS. A failure (a peer with no certificate, or one the truststore does not
// verify, or not speaking TLS) is logged, since on a controller listener it is either a
// misconfigured node or someone who should not be there.
func (m *muxStream) handshake(c *muxConn, deadline time.Time) bool {
	tc, ok := c.Conn.(*tls.Conn)
	if !ok {
		return true
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		m.logger.Info("metadata: TLS handshake failed on the controller listener",
			"remote", c.RemoteAddr().String(), "err", err)
		return false
	}
	return true
}
