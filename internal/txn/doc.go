// Package txn is the transaction coordinator (Kafka's TransactionCoordinator,
// TransactionStateManager and TransactionMarkerChannelManager) for the transactional ids
// whose __transaction_state partition this broker leads. An id lives in partition
// abs(javaStringHashCode(transactionalID)) % partitions (PartitionFor), Kafka's rule;
// the hash, the set of led partitions and the record batch framing are shared with the
// group and share coordinators in internal/coordinator.
//
// # Files
//
//	coordinator.go  Coordinator, Config, Settings; which partitions are led (ApplyMetadata,
//	                through internal/coordinator's Shards)
//	shard.go        one led partition: loading it from its log, writing states to it
//	state.go        the state machine's states and transitions, a transaction's state
//	records.go      TransactionLogKey/Value records (kmsg TxnMetadataKey/Value) and batches
//	init.go         InitProducerId with a transactional id: epochs, fencing, KIP-360
//	add.go          AddPartitionsToTxn (and AddOffsetsToTxn), verifyOnly
//	end.go          EndTxn, and starting a transaction's completion
//	markers.go      a completion's marker rounds: grouped by leader, retried, then completed
//	markers_queue.go one queue and goroutine per destination broker, batching transactions
//	markers_local.go markers to partitions led here, appended directly (no round trip)
//	markers_remote.go WriteTxnMarkers to other brokers, many transactions per request
//	complete.go     CompleteCommit/CompleteAbort records: a writer per shard with work, one
//	                batch per round, shards independent
//	statewrite.go   group commit of a shard's state records
//	park.go         requests that wait for a completion instead of CONCURRENT_TRANSACTIONS
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
// Each transactional id has its own mutex, held across the write of each transition
// but the completion, so its records are in the order its states changed; ids of one
// partition write concurrently. The completion record (CompleteCommit/CompleteAbort)
// is written without the lock: the completing flag, set from the prepared write until
// the completion is applied, is the id's pending transition (Kafka's pendingState),
// which every other transition refuses, so the state cannot move under that write. Lock order: the Shards' lock (internal/coordinator: it loads and
// unloads shards with it held), then transaction.mu, then shard.mu (held for map
// operations only). Markers are sent by one goroutine per destination broker
// (markers_queue.go) and completion records written by one goroutine per shard that
// has completions queued (complete.go: started on demand, gone when idle, so shards
// never wait for each other's replication), which takes the locks of the
// transactions it writes only before and after the write, never across its
// replication wait; nothing that holds a transaction's lock waits for either
// (queuing never blocks). The transaction's
// completing flag makes its other requests wait for the completion, up to
// Settings.ConcurrentWait, and then answer CONCURRENT_TRANSACTIONS; with the lock free
// during the completion write, that bound holds however long the write takes. Goroutines are
// owned by the Coordinator (its WaitGroup) and stop at Close; work of an unloaded
// shard is dropped.
package txn
