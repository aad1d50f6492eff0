// Package share holds share groups' data-plane state (KIP-932, "queues for Kafka"):
// the share-partitions of the topic partitions this broker leads and the members'
// share sessions. Membership and assignment are the group coordinator's
// (internal/group, share*.go); this package is Kafka's SharePartitionManager,
// SharePartition, ShareSessionCache and DefaultStatePersister and, for durability, a
// simplified share coordinator serving __share_group_state.
//
// # Files
//
//	partition.go       window: the pure state machine of one share-partition (start and
//	                   end offsets, per-offset state and delivery count, acquire,
//	                   acknowledge, release, lock expiry); no locks, no I/O, fuzzed
//	sharepartition.go  Partition: a window behind a mutex, its lock-expiry timer, the
//	                   "records became available" signal, and persisting acknowledgements
//	manager.go         Manager, Settings: share-partitions by key, loading their state
//	session.go         share sessions and their epochs
//	state.go           record keys, and snapshots of a window
//	wire.go            the snapshot format, in the terms of Read/WriteShareGroupState
//	store.go           Store; LogStore writes __share_group_state with acks=all (its
//	                   batches framed and replayed by internal/coordinator)
//	coordinator.go     Coordinator: the state of the state partitions led here, fenced
//	                   by leader and state epochs (served by APIs 83-86)
//	routed.go          RoutedStore: a key's state through its state partition's leader
//	peers.go           Peers: the inter-broker clients sending APIs 83-86
//	batches.go         batch headers of a log read, so records stay on disk
//	offsets.go         what the operator APIs (90-92, DeleteGroups) need: unfenced bulk
//	                   reads, summaries, dropping share-partitions reset under them
//
// # State and durability
//
// A share-partition is [start, end): every offset below start is done (acknowledged
// or archived), every offset at or past end has never been acquired, and each offset
// between has a state (Available, Acquired, Acknowledged, Archived) and a delivery
// count. Acquiring reads whole batches from the first available offset, as a Fetch
// does, and locks their available offsets for group.share.record.lock.duration.ms;
// offsets past end join the window (control batches and holes left by compaction
// join as Archived). The window never holds more than
// group.share.partition.max.record.locks offsets (Kafka's in-flight limit). A release
// or an expired lock makes a record Available again, or Archived once it was
// delivered group.share.delivery.count.limit times. The start moves over the
// acknowledged and archived prefix.
//
// Every acknowledgement writes a snapshot of the window (start offset, then runs of
// offsets with one state and delivery count; Acquired is written as Available) to the
// share-partition's partition of __share_group_state, with acks=all, before it is
// answered: on this broker when it leads that partition, else through
// WriteShareGroupState to the broker that does. So an acknowledged record is never delivered again after a restart or a
// kill -9, and a record in flight at a crash is delivered again (its lock died with
// the broker). Acquisitions are not written (Kafka does not either): a crash can
// under-count deliveries. See docs/ARCHITECTURE.md for why snapshots, not Kafka's
// ShareSnapshot/ShareUpdate pairs, and how the state partition is chosen.
//
// # Concurrency
//
// Manager.mu guards the maps and is never held while a Partition's lock is taken or
// during I/O. A Partition's writeMu is taken before its mu, and held across the
// snapshot write so snapshots land in the order of the changes they record; mu alone
// serves fetches. Lock timers belong to their Partition and stop at Close.
package share
