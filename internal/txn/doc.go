// Package txn is the transaction coordinator (Kafka's TransactionCoordinator,
// TransactionStateManager and TransactionMarkerChannelManager) for the transactional ids
// whose __transaction_state partition this broker leads. An id lives in partition
// abs(javaStringHashCode(transactionalID)) % partitions (PartitionFor), Kafka's rule.
//
// # Files
//
//	coordinator.go  Coordinator, Config, Settings; which partitions are led (ApplyMetadata)
//	shard.go        one led partition: loading it from its log, writing states to it
//	state.go        the state machine's states and transitions, a transaction's state
//	records.go      TransactionLogKey/Value records (kmsg TxnMetadataKey/Value) and batches
//	init.go         InitProducerId with a transactional id: epochs, fencing, KIP-360
//	add.go          AddPartitionsToTxn (and AddOffsetsToTxn), verifyOnly
//	end.go          EndTxn, and completing a transaction after its markers
//	markers.go      WriteTxnMarkers to the partition leaders, grouped by leader, retried
//	expire.go       aborting timed-out transactions, expiring idle transactional ids
//	describe.go     DescribeTransactions, ListTransactions
//
// # Cluster-awareness
//
// ApplyMetadata runs on every metadata image: the partitions of __transaction_state
// this broker leads are loaded (replayed from the log start to the log end; until then
// their ids answer COORDINATOR_LOAD_IN_PROGRESS), those it stopped leading are unloaded
// (NOT_COORDINATOR), and a new leader epoch reloads. The partition's leader epoch is
// the coordinator epoch the markers carry, so a partition leader refuses markers of a
// deposed coordinator. A transaction found in PrepareCommit or PrepareAbort when a
// partition loads was left by a coordinator that failed between its two writes: its
// markers are sent again (they are idempotent at the leaders) and it is completed.
//
// # Storage
//
// Every transition is one record, written to the partition with acks=all semantics
// (min.insync.replicas checked, then the high watermark must cover it) before it takes
// effect and before the client is answered. Compaction keeps the latest per id; an
// expired id is a tombstone.
//
// This package imports kmsg and kgo, an exception to "only internal/api imports kmsg":
// for Kafka's record schemas and record batches, and to send WriteTxnMarkers to other
// brokers (as internal/replica does for Fetch).
//
// # Concurrency
//
// Each transactional id has its own mutex, held across the write of each transition,
// so its records are in the order its states changed; ids of one partition write
// concurrently. Lock order: Coordinator.mu, then transaction.mu, then shard.mu (held
// for map operations only). Markers are sent by one goroutine per completing
// transaction, which holds no lock while waiting; the transaction's completing flag
// makes its other requests answer CONCURRENT_TRANSACTIONS meanwhile. Goroutines are
// owned by the Coordinator (its WaitGroup) and stop when their shard's context ends
// (unload) or Close.
package txn
