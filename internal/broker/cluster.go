package broker

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/nagare-dev/nagare/internal/auth"
	"github.com/nagare-dev/nagare/internal/config"
	"github.com/nagare-dev/nagare/internal/interbroker"
	"github.com/nagare-dev/nagare/internal/metadata"
)

// metadataConfig is the metadata quorum's configuration from the cluster settings
// (process.roles, controller.quorum.voters, the controller listener). A node without them
// is a one-node cluster: its own only voter, on an ephemeral loopback port nobody dials. A
// cluster node's raft transport binds the controller listener, which the Kafka server
// leaves alone (config.Broker.Listeners omits it); its voters come from
// controller.quorum.voters, and a broker-only node is a non-voter that joins the quorum.
// On an SSL controller listener the transport is TLS (controllerTLS). Raft's timeouts are
// left to metadata's defaults, which widen when there are several nodes.
func (b *Broker) metadataConfig() (metadata.Config, error) {
	cfg := metadata.Config{DataDir: b.dataDir, NodeID: b.nodeID, BindAddr: "127.0.0.1:0", Logger: b.logger}
	if !b.conf.Clustered() {
		return cfg, nil
	}
	l, ok := b.conf.ControllerListener()
	if !ok { // config validation requires it
		return cfg, fmt.Errorf("broker: process.roles is set but there is no controller listener")
	}
	cfg.BindAddr = net.JoinHostPort(l.Host, strconv.Itoa(l.Port))
	cfg.Voters = b.conf.Voters()
	tlsConfig, err := b.controllerTLS(l.Name)
	if err != nil {
		return cfg, err
	}
	cfg.TLS = tlsConfig
	return cfg, nil
}

// controllerTLS is the quorum transport's TLS when the controller listener is SSL, nil
// when it is PLAINTEXT (config validation refuses the SASL protocols there). Every node
// is a server and a client of the listener, so it takes both sides from the listener's
// settings (listener.name.<controller>.ssl.*, else ssl.*) the way the rest of the broker
// does: the server side as an SSL client listener's (listenerTLS), the client side as the
// inter-broker client's (interbroker.FromConfig). ssl.client.auth is used as configured,
// as Kafka does; without "required" the quorum is encrypted but anyone who trusts the
// certificate may connect, so the broker says so at start.
func (b *Broker) controllerTLS(listener string) (*metadata.TransportTLS, error) {
	proto, _ := b.conf.SecurityProtocol(listener)
	switch proto {
	case config.ProtocolPlaintext:
		return nil, nil
	case config.ProtocolSSL:
	default:
		return nil, fmt.Errorf("broker: controller listener %s: %s is not supported (PLAINTEXT or SSL)", listener, proto)
	}
	if err := b.checkControllerTrust(listener); err != nil {
		return nil, err
	}
	server, _, err := b.listenerTLS(listener) // security.go; the principal mapping is unused: no ACLs apply
	if err != nil {
		return nil, err
	}
	client, err := interbroker.FromConfig(b.conf, listener)
	if err != nil {
		return nil, fmt.Errorf("broker: controller listener: %w", err)
	}
	return &metadata.TransportTLS{Server: server, Client: client.TLS}, nil
}

// checkControllerTrust refuses an SSL controller listener that would let a peer that is
// not a cluster node in. Nothing on that listener maps a principal or checks an ACL
// (Kafka checks CLUSTER_ACTION there): whoever completes the handshake can propose
// metadata records and receive the whole metadata log, SCRAM hashes included. So,
// unlike Kafka, the client certificate is required, and the truststore must be the
// listener's own (listener.name.<controller>.ssl.truststore.location), not the
// broker-wide one that usually trusts the CA of ordinary clients' certificates.
func (b *Broker) checkControllerTrust(listener string) error {
	prefix := "listener.name." + strings.ToLower(listener) + "."
	if clientAuth := b.listenerSetting(listener, "ssl.client.auth"); !strings.EqualFold(clientAuth, auth.ClientAuthRequired) {
		return fmt.Errorf("broker: controller listener %s is SSL: set %sssl.client.auth=required (got %q), "+
			"since any peer that connects to it is a member of the metadata quorum", listener, prefix, clientAuth)
	}
	if v, _, ok := b.conf.Raw(prefix + "ssl.truststore.location"); !ok || strings.TrimSpace(v) == "" {
		return fmt.Errorf("broker: controller listener %s is SSL: set %sssl.truststore.location to a truststore "+
			"holding only the CA of the cluster's nodes (the broker-wide ssl.truststore.location is not used there)", listener, prefix)
	}
	return nil
}
