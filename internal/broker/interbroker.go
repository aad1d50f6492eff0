package broker

import (
	"fmt"

	"github.com/nagare-dev/nagare/internal/interbroker"
)

// openInterBroker derives how this broker reaches the others as a client (replica
// fetchers, transaction markers, share-group state): the inter-broker listener's TLS
// files and SASL credentials. A broken or missing setting stops a clustered broker at
// start, as it stops a Kafka broker, rather than leaving it unable to replicate. A node
// without cluster settings never dials another broker, so it only warns.
func (b *Broker) openInterBroker() error {
	listener := interBrokerListener(b.conf) // registration.go
	s, err := interbroker.FromConfig(b.conf, listener)
	if err != nil {
		if b.conf.Clustered() {
			return fmt.Errorf("broker: inter-broker listener: %w", err)
		}
		b.logger.Warn("inter-broker client settings are incomplete; only a cluster needs them", "err", err)
		s = &interbroker.Settings{Listener: listener}
	}
	b.interBroker = s
	b.logger.Info("inter-broker client", "listener", s.String())
	return nil
}
