package broker

import "time"

// producerIDExpiration is producer.id.expiration.ms as it is now: a cluster-wide
// dynamic config, so the log manager reads it at each expiration check.
func (b *Broker) producerIDExpiration() time.Duration {
	return b.conf.Duration("producer.id.expiration.ms")
}
