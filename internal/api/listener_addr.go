package api

import (
	"github.com/nagare-dev/nagare/internal/metadata"
)

// brokerAddr is where a client on session's listener reaches broker b: for this broker,
// its advertised address on that listener (a client that came in over SASL_SSL must be
// sent back to SASL_SSL, not to the first listener); for others, the registered address.
//
// Differs from Kafka: other brokers' registrations carry one address, so in a cluster
// with several listeners only this broker is described per listener.
func (d *Dispatcher) brokerAddr(s *Session, b metadata.Broker) (string, int32) {
	if b.NodeID == d.cfg.NodeID && d.cfg.ListenerAddr != nil {
		if host, port, ok := d.cfg.ListenerAddr(s.Listener); ok {
			return host, port
		}
	}
	return b.Host, b.Port
}
