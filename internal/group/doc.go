// Package group is the consumer group coordinator: membership, rebalances and
// committed offsets of the groups whose __consumer_offsets partition this broker leads,
// for classic groups (JoinGroup/SyncGroup, client-side assignment) and KIP-848 consumer
// groups (ConsumerGroupHeartbeat, server-side assignment). A group lives in partition
// abs(javaStringHashCode(groupID)) % partitions (PartitionFor, internal/coordinator's),
// exactly Kafka's rule, so tools that compute the coordinator themselves agree.
//
// # Files
//
//	coordinator.go  Coordinator, Config, Settings; which partitions are led (ApplyMetadata,
//	                through internal/coordinator's Shards), deleted topics, lookups, Close
//	load.go         shard: one led partition, loading it from the log, writing to it
//	group.go        group and member state, protocol selection, subscriptions
//	join.go         JoinGroup, SyncGroup, Heartbeat, LeaveGroup: the rebalance state machine
//	                (Empty → PreparingRebalance → CompletingRebalance → Stable, and Dead)
//	offsets.go      OffsetCommit, OffsetFetch, OffsetDelete, group metadata records, expiry
//	admin.go        ListGroups, DescribeGroups, DeleteGroups
//	records.go      the records of __consumer_offsets, split into record batches (the
//	                batch framing is internal/coordinator's)
//	consumer.go     KIP-848 groups: members, epochs, joins, leaves, static members,
//	                sessions (a group with g.consumer set is a consumer group)
//	consumer_reconcile.go  target assignment (group epoch) and the step-by-step
//	                reconciliation that never gives a partition still owned by another
//	consumer_assign.go     the server-side assignors, uniform (sticky) and range
//	consumer_describe.go   ConsumerGroupDescribe
//	share.go        KIP-932 share groups: members, epochs, the simple assignor, sessions,
//	                ShareGroupDescribe (a group with g.share set is a share group; its
//	                share-partitions are internal/share's)
//
// A group is classic or consumer. An empty group (offsets only) becomes whichever kind
// a member next joins with; a group with members refuses the other protocol
// (INCONSISTENT_GROUP_PROTOCOL for JoinGroup, GROUP_ID_NOT_FOUND for the rest, as
// Kafka). A consumer group keeps the classic fields that offsets, expiry, listing and
// deletion read (state Empty or Stable, protocol type "consumer", subscribed topics) in
// line with its members, so those paths serve both kinds.
//
// # Storage
//
// Committed offsets and classic group metadata are records of the compacted topic
// __consumer_offsets in Kafka's key and value formats (OffsetCommitKey v1 /
// OffsetCommitValue v3, GroupMetadataKey v2 / GroupMetadataValue v3); deletions are
// tombstones. Writes go through partition.Append with acks=all, one append per request,
// uncompressed, so loading never needs a codec; a write counts once the high watermark
// covers it (at most Settings.WriteTimeout, then COORDINATOR_NOT_AVAILABLE), so an
// acknowledged commit survives its coordinator. OffsetCommit waits without the group's
// lock and applies what still stands afterwards (inflight.go); other writes wait under
// it. When this broker's replica becomes leader of a partition (at start-up too) the
// partition is read from its log start to its log end with Log.ReadBytes and every
// batch decoded (not to the high watermark, which on a new leader may lag what its
// predecessor committed); until that finishes the partition's groups answer
// COORDINATOR_LOAD_IN_PROGRESS. Loaded groups with members come back Stable and
// their sessions restart, so members that are gone expire and the group rebalances.
//
// KIP-848 groups persist only their offsets: kmsg has no schemas for Kafka's
// ConsumerGroup* records. After a restart or coordinator move their members get
// UNKNOWN_MEMBER_ID and rejoin with epoch 0, and the group is rebuilt; until then it
// is an offsets-only group (listed as classic, Empty). Kafka would restore members,
// epochs and target assignment from its records.
//
// This package imports kmsg, an exception to "only internal/api imports kmsg": for the
// record schemas above, for record batches (kmsg.RecordBatch, kmsg.Record) and for
// ConsumerMemberMetadata (a consumer group's subscriptions, which OffsetDelete and
// offset expiry need). Requests and responses are this package's own Go types; the api
// files map them to and from the wire.
//
// # Concurrency
//
// Each group has its own mutex; no goroutine owns all groups (kfake's design, which
// serialises every client). Requests, timers and the expiry loop lock the one group
// they touch. Lock order: Coordinator.mu (ApplyMetadata and Close only), then the
// Shards' lock (it unloads shards with it held), then group.mu, then shard.mu; shard.mu
// is only held for map lookups, and a group's lock is never held while taking the
// Coordinator's or the Shards'.
//
// A group's log writes happen under its lock, so the log's order is the order of the
// group's state changes; groups of one partition append concurrently (the log
// serialises appends).
//
// JoinGroup and SyncGroup may complete later: their callbacks are queued while the
// group's lock is held and run after it is released (group.unlock), exactly once each,
// whatever happens (a response, an error, or NOT_COORDINATOR when the partition is
// unloaded). A member's newer request answers its older waiting one, so no connection
// waits forever for a reply.
//
// Timers belong to their group: the join barrier (rebalance timeout, or
// group.initial.rebalance.delay.ms for a new group), the pending-sync deadline, each
// member's session and each KIP-394 pending member id. A timer that fires after losing a
// race re-checks under the lock (epochs and deadlines) and does nothing. Close stops
// them all and waits for loaders and the expiry loop.
package group
