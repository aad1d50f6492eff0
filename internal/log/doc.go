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
//	00000000000000000000.txnindex   aborted transactions whose marker is in the segment
//	                                (txn_index.go; created with its first entry)
//
// and producer-state snapshots named by the offset they describe, taken at each roll
// (written and fsynced by the next flush, off the append lock) and written at close
// (producer_snapshot.go, Kafka's format):
//
//	00000000000000004096.snapshot
//
// The data dir holds the per-dir checkpoints, in Kafka's text format (a version line "0",
// an entry count, then "topic partition offset" lines):
//
//	recovery-point-offset-checkpoint  offsets below which every partition's data is fsynced
//	log-start-offset-checkpoint       each partition's log start offset
//	cleaner-offset-checkpoint         each compacted partition's first dirty offset
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
//	21      2     attributes            bits 0-2 codec, 3 timestamp type, 4 txn, 5 control,
//	                                    6 delete horizon in baseTimestamp (set by the cleaner)
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
// offsets and epochs costs no checksum; only LogAppendTime recomputes it. In a compacted
// log a batch may hold fewer records than lastOffsetDelta+1, even none, and batches may
// leave offset gaps between them (see Compaction).
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
// missing or fail a sanity check are rebuilt from their segment at any start. Offsets
// must follow without gaps unless the log is compacted or was cleaned before (the
// Manager passes OpenOptions.Cleaned from cleaner-offset-checkpoint; the cleaner writes
// that entry before its first swap, so it is durable before any gap is).
//
// # Compaction (cleaner*.go)
//
// For logs whose Config.Compacted is set (cleanup.policy includes compact), the
// Manager's cleaner threads (log.cleaner.enable, log.cleaner.threads) do what Kafka's
// log cleaner does. Each log's cleaner checkpoint splits it into a clean prefix and a
// dirty rest. The log with the highest dirty ratio (dirty bytes / bytes, not counting
// the active segment) above min.cleanable.dirty.ratio, or with a record older than
// max.compaction.lag.ms, is cleaned in one round:
//
//  1. The dirty section runs from the checkpoint to the base of the segment holding the
//     first offset not to clean yet: the last stable offset, the active segment, or the
//     first record younger than min.compaction.lag.ms.
//  2. Its keyed records are mapped key -> last offset, keys as 16-byte MD5 digests in a
//     table of log.cleaner.dedupe.buffer.size bytes. When the table fills, the round
//     covers only the prefix mapped so far; the next round goes on from there.
//  3. The segments up to the end of the mapped range are rewritten in groups that fit
//     segment.bytes and segment.index.bytes. A record stays if it lies past the mapped
//     range, or it has a key, is that key's latest, and is not a tombstone whose delete
//     horizon passed. Records without a key go. A batch keeps its base offset and
//     lastOffsetDelta; one that lost records is rebuilt with its producer fields,
//     codec and a new CRC. The first cleaning that keeps a tombstone sets the batch's
//     delete horizon (now + delete.retention.ms, KIP-534); a later one after it drops
//     the tombstone. A batch left empty is kept, without records, when it is the last
//     batch of an active producer (its sequence matters to idempotence) or of its group.
//  4. Each group is swapped in (below), then the checkpoint moves to the end of the
//     mapped range and cleaner-offset-checkpoint is rewritten.
//
// Swapping in a cleaned group, crash-safe at each step: the cleaned segment is written
// as <base>.log.cleaned (and .index.cleaned, .timeindex.cleaned, .txnindex.cleaned,
// the last always created) and fsynced; its index files, then its log file are renamed
// to .swap and the directory fsynced: a durable <base>.log.swap is the decision. The
// segment list is switched under appendMu; the old segments' files are unlinked; the
// .swap files take their final names (the transaction index first) and the directory
// is fsynced. Recovery deletes .cleaned files; for a <base>.log.swap it deletes every
// segment whose base offset lies in [base, the offset after the swap file's last batch)
// (that range is exactly the group, because a group's last batch is always kept),
// moves the .txnindex.swap into place, renames the swap file into place and rebuilds
// its offset and time indexes. A truncation or a retention deletion during the round
// makes the swap abort, never half-apply.
//
// Transactions and compaction (cleaner_txn.go, Kafka's CleanedTransactionMetadata): the
// walk over each range knows the aborted transactions the transaction indexes list.
// Records of aborted transactions are not mapped and not kept (an emptied batch stays
// only as an active producer's last). A commit marker stays while batches of its
// transaction are met, an abort marker while batches of its aborted transaction are;
// then the marker gets a delete horizon like a tombstone and goes after
// delete.retention.ms. The cleaned segment's .txnindex lists the aborted transactions
// whose marker it keeps. Active producers (the producer state, not expired) keep their
// last data batch, or when their last write was a marker of a new epoch, that marker.
//
// # Producer state (producer_*.go, control.go, txn_index.go)
//
// Kafka's ProducerStateManager: the leader checks idempotent and transactional batches
// against each producer's epoch and last five batches before assigning offsets, answers
// a retried batch with its first offsets without writing it, and tracks open
// transactions for the last stable offset. Followers and recovery replay the same
// updates unchecked. Open loads the newest snapshot at or below the log end (clean) or
// the recovery point (crash) and replays the batch headers after it; truncation reloads
// the same way. The state is written under appendMu and producerState.mu, and read by
// the appender without the lock, by everyone else with it.
//
// # Concurrency
//
// One appender at a time (appendMu) and any number of readers. Readers take an immutable
// snapshot of the segment list, and see a batch only after the segment size and then the
// log end offset are published. A segment is reference counted: a read pins the segments
// its ranges point into, so retention or the cleaner can unlink a file while a sendfile
// of it is still pending; the descriptor closes when the last reference goes.
//
// The cleaner reads and writes without locks. swapMu (taken before appendMu) serializes
// its swaps with Truncate, DeleteRetained and Close, the other operations that remove
// segments; appends only add segments at the end, so they go on during a swap, which
// holds appendMu only to switch the list.
//
// A flush reads the log end under appendMu and fsyncs under flushMu alone, so appends go
// on during its fsyncs. Truncate and TruncateFullyAndStartAt hold flushMu as well, so a
// flush never straddles a truncation, and the flush clamps the log end it read to the
// current one (a truncation may have come between the two locks): the recovery point
// never passes the log end, where it would vouch for segments never fsynced.
//
// Lock order: swapMu, appendMu, flushMu, then rollSnapshots.writeMu; epochCache.mu,
// producerState.mu and rollSnapshots.mu are leaves.
package log
