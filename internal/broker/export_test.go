package broker

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nagare-dev/nagare/internal/metadata"
)

// MetadataStore exposes the node's metadata quorum to tests that send broker requests
// as another process would.
func (b *Broker) MetadataStore() *metadata.Store { return b.meta }

// BrokerEpoch is this process's broker epoch (0 on a controller-only node).
func (b *Broker) BrokerEpoch() int64 { return b.control.epoch }

// MetricsRegistry is the registry the broker's metrics are in, for tests that read a
// counter without serving HTTP.
func (b *Broker) MetricsRegistry() *prometheus.Registry { return b.registry }
