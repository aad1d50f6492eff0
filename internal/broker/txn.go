package broker

import (
	"github.com/nagare-dev/nagare/internal/metadata"
	"github.com/nagare-dev/nagare/internal/txn"
)

// openTransactions makes the broker's producer id allocator and its transaction
// coordinator, which share it: a transactional id's producer id and an idempotent
// producer's come from the same blocks. The coordinator leads nothing until the first
// ApplyMetadata; its marker clients reach other brokers at their registered address,
// with the inter-broker listener's TLS and SASL, as the replica fetchers do.
func (b *Broker) openTransactions() {
	b.producerIDs = metadata.NewProducerIDAllocator(b.meta, b.nodeID, metadata.DefaultProducerIDBlockSize)
	b.txns = txn.New(txn.Config{NodeID: b.nodeID, Partitions: b.partitions, Metadata: b.meta,
		ProducerIDs: b.producerIDs, Settings: txn.SettingsFrom(b.conf), OffsetMarkers: b.groups, Logger: b.logger,
		ClientOpts: b.interBroker.KgoOpts()})
}
