package log

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

// AppendAsFollower appends batches copied from the partition's leader (a replica
// fetch's records) as they are: their offsets, leader epochs and timestamps are the
// leader's, so every replica holds the same bytes at the same offsets. Each batch is
// validated (framing, magic, CRC-32C, record count) but not held to max.message.bytes,
// which the leader applied (Kafka's follower append ignores the size too, since the
// topic config may have shrunk since). The first batch must start at the log end offset
// and each next one after the previous; the epoch history grows from the batches'
// epochs. Like Append it writes once and allocates nothing per batch; on error the log
// is unchanged. A trailing partial batch must be cut by the caller.
func (l *Log) AppendAsFollower(records []byte) (AppendResult, error) {
	_, count, err := ValidateBatches(records, math.MaxInt32)
	if err != nil {
		return AppendResult{}, err
	}
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if l.closed.Load() {
		return AppendResult{}, ErrClosed
	}
	base := l.LogEndOffset()
	next := base
	for pos := 0; pos < len(records); {
		b := records[pos:]
		size := int(binary.BigEndian.Uint32(b[offBatchLength:])) + logOverhead
		batchBase := int64(binary.BigEndian.Uint64(b[offBaseOffset:]))
		switch {
		case pos == 0 && batchBase != base:
			return AppendResult{}, fmt.Errorf("%w: leader batch at offset %d, log end offset is %d", ErrOffsetOutOfRange, batchBase, base)
		case batchBase < next:
			return AppendResult{}, fmt.Errorf("%w: leader batch at offset %d overlaps the previous one ending at %d", ErrInvalidRecord, batchBase, next)
		}
		next = batchBase + int64(int32(binary.BigEndian.Uint32(b[offLastOffsetDelta:]))) + 1
		pos += size
	}
	// The leader checked these batches; a follower only mirrors their producer state, so
	// it de-duplicates retries as the leader did once it leads.
	if _, _, err := l.stageProducersLocked(records, -1, originReplication); err != nil {
		return AppendResult{}, err
	}
	cfg := l.config.Load()
	now := time.Now()
	if err := l.maybeRollLocked(cfg, next-1, len(records), now); err != nil {
		return AppendResult{}, err
	}
	ahead, whole := l.preallocation(cfg)
	if err := l.activeSegment().appendBatches(records, cfg.IndexIntervalBytes, ahead, whole); err != nil {
		return AppendResult{}, err
	}
	l.assignEpochs(records, base, -1) // each batch's own epoch, as the leader stamped it
	l.commitProducersLocked()
	l.logEndOffset.Store(next)
	l.unflushed += int64(count)
	l.wakeWaiters()
	if l.unflushed >= cfg.FlushMessages && cfg.FlushMessages > 0 {
		if err := l.flushLocked(); err != nil {
			l.logger.Error("flush.messages fsync failed", "dir", l.dir, "err", err)
		}
	}
	return AppendResult{BaseOffset: base, LastOffset: next - 1, LogAppendTime: -1,
		LogStartOffset: l.LogStartOffset(), RecordCount: count}, nil
}

// CompleteBatches is the prefix of records made of whole batches: a replica fetch may
// end in a partial batch when the leader's read was cut by its byte limit (Kafka's
// readers allow it), and the follower appends only what is complete.
func CompleteBatches(records []byte) []byte {
	pos := 0
	for pos+logOverhead <= len(records) {
		size := int(int32(binary.BigEndian.Uint32(records[pos+offBatchLength:]))) + logOverhead
		if size < BatchHeaderSize || pos+size > len(records) {
			break
		}
		pos += size
	}
	return records[:pos]
}

// AdvanceHighWatermark moves the high watermark up to hw (clamped to the log end
// offset), never down: replication only ever commits more (Kafka's
// maybeIncrementHighWatermark and a follower's maybeUpdateHighWatermark). It wakes long
// polls when it moves, since consumers read only below it, and reports whether it moved.
// Truncation and retention lower it themselves.
func (l *Log) AdvanceHighWatermark(hw int64) bool {
	if leo := l.LogEndOffset(); hw > leo {
		hw = leo
	}
	for {
		cur := l.highWatermark.Load()
		if hw <= cur {
			return false
		}
		if l.highWatermark.CompareAndSwap(cur, hw) {
			l.wakeWaiters()
			l.wakeHighWatermark(false)
			return true
		}
	}
}

// Wake wakes every long poll and acks=all wait on the log without an append: the
// partition's leadership changed, so waiters must look again.
func (l *Log) Wake() {
	l.waitMu.Lock()
	if l.appendWait != nil {
		close(l.appendWait)
		l.appendWait = nil
	}
	l.waitObserved.Store(false)
	l.waitMu.Unlock()
	l.wakeHighWatermark(true)
}

// TruncateFullyAndStartAt empties the log and restarts it at offset: a follower whose
// log ends below the leader's log start offset can copy nothing it lacks (Kafka's
// truncateFullyAndStartAt). Like Truncate it holds flushMu, so no flush straddles it.
func (l *Log) TruncateFullyAndStartAt(offset int64) error {
	l.swapMu.Lock()
	defer l.swapMu.Unlock()
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	if l.closed.Load() {
		return ErrClosed
	}
	l.truncations.Add(1)
	if err := l.truncateFullyLocked(offset, *l.segments.Load()); err != nil {
		return fmt.Errorf("truncate %s fully to %d: %w", l.dir, offset, err)
	}
	l.highWatermark.Store(offset)
	l.wakeHighWatermark(false)
	return nil
}
