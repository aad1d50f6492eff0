package api

import (
	"github.com/nagare-dev/nagare/internal/metadata"
)

// brokerAddr is where a client on session's listener reaches broker b: its advertised
// address on that listener (a client that came in over SASL_SSL must be sent back to
// SASL_SSL, not to the first listener), from this broker's own config or from another
// broker's registration, which lists every listener (KIP-631).
//
// Differs from Kafka: a broker registered without that listener is described with its
// inter-broker address, where Kafka leaves it out of the answer.
func (d *Dispatcher) brokerAddr(s *Session, b metadata.Broker) (string, int32) {
	if b.NodeID == d.cfg.NodeID && d.cfg.ListenerAddr != nil {
		if host, port, ok := d.cfg.ListenerAddr(s.Listener); ok {
			return host, port
		}
	}
	if host, port, ok := b.Endpoint(s.Listener); ok {
		return host, port
	}
	return b.Host, b.Port
}
