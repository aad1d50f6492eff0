package broker

import (
	"net"
	"strconv"

	"github.com/nagare-dev/nagare/internal/metadata"
)

// metadataConfig is the metadata quorum's configuration from the cluster settings
// (process.roles, controller.quorum.voters, the controller listener). A node without them
// is a one-node cluster: its own only voter, on an ephemeral loopback port nobody dials. A
// cluster node's raft transport binds the controller listener, which the Kafka server
// leaves alone (config.Broker.Listeners omits it); its voters come from
// controller.quorum.voters, and a broker-only node is a non-voter that joins the quorum.
// Raft's timeouts are left to metadata's defaults, which widen when there are several
// nodes.
func (b *Broker) metadataConfig() metadata.Config {
	cfg := metadata.Config{DataDir: b.dataDir, NodeID: b.nodeID, BindAddr: "127.0.0.1:0", Logger: b.logger}
	if !b.conf.Clustered() {
		return cfg
	}
	if l, ok := b.conf.ControllerListener(); ok { // config validation requires it
		cfg.BindAddr = net.JoinHostPort(l.Host, strconv.Itoa(l.Port))
	}
	cfg.Voters = b.conf.Voters()
	return cfg
}
