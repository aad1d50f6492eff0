// Package chaos is Nagare's multi-process fault-injection suite (issue 12, "Tests"): three
// (four, five) `nagare serve` child processes form a cluster whose every broker-to-broker
// and raft byte crosses a toxiproxy proxy run in the test process, so a test can cut, slow
// or one-way partition any node's links, kill -9 it, or stop it with SIGTERM, while
// idempotent acks=all producers and a consumer record every acknowledgment and every read;
// partitions can be moved under load (AlterPartitionReassignments, with throttles) and
// transactional producers can commit and abort beside them.
//
// After each scenario the suite checks, counting every record:
//   - every acknowledged record is read back at its acknowledged offset;
//   - the history of acknowledgments and reads is linearizable against a model of a
//     partition log (porcupine; the model is explained in model_test.go);
//   - no replica's log diverges from the leader's: with the cluster stopped, each data
//     dir's batches (base and last offset, CRC, leader epoch) are compared replica by
//     replica up to the high watermark.
//
// Duplicates (one value at two offsets) fail the run: the producers are idempotent, and
// the broker de-duplicates their retries across failovers. With transactions, a
// read_committed consumer must see every committed transaction's records exactly once, no
// aborted one's, and an unknown commit's all or none. With share consumers, every acknowledged
// record must be delivered, and none delivered again once its accept was confirmed.
//
// The package has no code of its own; README.md says how to run it and its soak variant.
package chaos
