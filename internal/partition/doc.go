// Package partition holds a partition's state above its log: leader epoch, high
// watermark, and the rule for when appended records become visible. With an ISR of the
// leader alone the high watermark follows the log end offset; otherwise followers'
// fetches move it to the smallest log end offset in the ISR (replication.go), where the
// leader also tracks each follower's progress for ISR changes. The Registry keeps this broker's partitions in step with the
// cluster metadata image: it creates and configures logs for the partitions assigned
// here, records which of them this broker leads (only a leader appends; the api layer
// answers NOT_LEADER_OR_FOLLOWER for the others), closes logs of partitions assigned
// elsewhere and deletes those whose topics are gone.
//
// Concurrency: a Partition is safe for concurrent use; the Registry's lookups never wait
// on Sync, which swaps in a new map.
package partition
