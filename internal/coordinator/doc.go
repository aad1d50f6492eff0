// Package coordinator holds what Nagare's coordinators share about the partitions of
// the internal topics they own (the group coordinator's __consumer_offsets, the
// transaction coordinator's __transaction_state, the share coordinator's
// __share_group_state): which partition a key lives in, which of them this broker
// leads and at what leader epoch, replaying one from its log start, and framing their
// records as Kafka record batches. What the records mean, and the state built from
// them, stays with each coordinator.
//
// # Files
//
//	partition.go  PartitionFor: Kafka's abs(String.hashCode) % partitions
//	shards.go     Shards: a coordinator's state per led partition, loaded and unloaded
//	              as metadata images move leadership; looked up by key
//	replay.go     Replay: a partition read from its log start, batch by batch
//	batch.go      AppendRecord, AppendBatch, DecodeBatches, DecodeRecords: uncompressed
//	              v2 record batches, as the coordinators write them
//
// # Concurrency
//
// Shards guards its map with its own lock and calls the coordinator's load and unload
// functions with it held, so they must not call back into it; they start loading in
// the background rather than replay under it. The other functions are pure or read
// only the log they are given.
package coordinator
