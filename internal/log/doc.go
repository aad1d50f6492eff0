// Package log is a partition's durable log: an append-only sequence of Kafka record
// batches (magic v2) kept in segment files in Kafka's on-disk layout, so that a fetch is a
// file range and an operator recognises the files.
//
// # Files
//
// A partition lives in <data-dir>/<topic>-<partition>/. Each segment is three files named
// by its base offset, 20 decimal digits:
//
//	00000000000000000000.log        record batches exactly as the wire carries them
//	00000000000000000000.index      sparse offset index: relative offset -> file position
//	00000000000000000000.timeindex  sparse time index: max timestamp -> relative offset
//
// The data dir holds the per-dir checkpoints, in Kafka's text format (a version line "0",
// an entry count, then "topic partition offset" lines):
//
//	recovery-point-offset-checkpoint  offsets below which every partition's data is fsynced
//	log-start-offset-checkpoint       each partition's log start offset
//	.kafka_cleanshutdown              present only after a clean shutdown
//
// # Record batch (magic v2), big-endian
//
//	offset  size  field
//	0       8     baseOffset            assigned by Append (rewritten in place)
//	8       4     batchLength           bytes after this field
//	12      4     partitionLeaderEpoch  set by Append when the caller gives one
//	16      1     magic                 must be 2
//	17      4     crc                   CRC-32C of bytes 21..end
//	21      2     attributes            bits 0-2 codec, 3 timestamp type, 4 txn, 5 control
//	23      4     lastOffsetDelta       recordCount-1
//	27      8     baseTimestamp
//	35      8     maxTimestamp          set to the append time under LogAppendTime
//	43      8     producerId
//	51      2     producerEpoch
//	53      4     baseSequence
//	57      4     recordCount
//	61      ...   records (compressed as a whole when the codec is not none)
//
// The CRC does not cover baseOffset, batchLength or partitionLeaderEpoch, so assigning
// offsets and epochs costs no checksum; only LogAppendTime recomputes it.
//
// # Index files
//
// .index entries are 8 bytes: relative offset (int32, offset-baseOffset) and file position
// (int32) of the batch whose last offset it is. One entry is added when more than
// index.interval.bytes were appended since the previous one. .timeindex entries are 12
// bytes: timestamp (int64) and relative offset (int32), timestamps strictly increasing.
// The active segment's index files are preallocated to segment.index.bytes and trimmed to
// their entries on roll and on clean close; index entries are written to the file when the
// segment is flushed, rolled or closed, and kept in memory for lookups.
//
// # Recovery
//
// Without a clean-shutdown marker, every segment from the one holding the recovery point
// onwards is rescanned: each batch's framing, magic and CRC are checked, the indexes are
// rebuilt, and the first torn or corrupt batch is cut off together with every later
// segment. What remains is a valid prefix of what was appended. Index files that are
// missing or fail a sanity check are rebuilt from their segment at any start.
//
// # Concurrency
//
// One appender at a time (appendMu) and any number of readers. Readers take an immutable
// snapshot of the segment list, and see a batch only after the segment size and then the
// log end offset are published. A segment is reference counted: a read pins the segments
// its ranges point into, so retention can unlink a file while a sendfile of it is still
// pending; the descriptor closes when the last reference goes.
package log
