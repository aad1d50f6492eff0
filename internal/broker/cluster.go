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
	server, _, err := b.listenerTLS(listener) // security.go; the principal mapping is unused: no ACLs apply
	if err != nil {
		return nil, err
	}
	client, err := interbroker.FromConfig(b.conf, listener)
	if err != nil {
		return nil, fmt.Errorf("broker: controller listener: %w", err)
	}
	if clientAuth := b.listenerSetting(listener, "ssl.client.auth"); !strings.EqualFold(clientAuth, auth.ClientAuthRequired) {
		b.logger.Warn("the controller listener is SSL without ssl.client.auth=required: the metadata quorum is encrypted, but a node without a trusted certificate can still connect to it",
			"listener", listener, "ssl.client.auth", clientAuth)
	}
	return &metadata.TransportTLS{Server: server, Client: client.TLS}, nil
}
