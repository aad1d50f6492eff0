package log

import (
	"encoding/binary"
	"fmt"
	"time"
)

// AppendOptions are per-append choices the partition makes.
type AppendOptions struct {
	// LeaderEpoch, when >= 0, is written into each batch's partitionLeaderEpoch.
	LeaderEpoch int32
	// Now is the broker time used for LogAppendTime and segment.ms; zero means time.Now.
	Now time.Time
	// Origin says who wrote the batches, which decides the producer-state checks
	// (the zero value is a client's produce request).
	Origin Origin
}

// AppendResult describes where an append landed.
type AppendResult struct {
	BaseOffset     int64 // offset of the first record appended
	LastOffset     int64 // offset of the last record appended
	LogAppendTime  int64 // unix ms stamped on the batches, or -1 under CreateTime
	LogStartOffset int64
	RecordCount    int
	// Duplicate: the batch repeats one its idempotent producer already wrote; nothing
	// was appended and the offsets are those of the first write.
	Duplicate bool
}

// Append validates records (one or more complete v2 batches, as a produce request
// carries them), assigns offsets by rewriting each batch's base offset in place, and
// writes them with one write. It never decompresses and allocates nothing per record. On
// error the log is unchanged. records is modified in place and may be reused afterwards.
//
// Batches with a producer id are checked against producer state under the append lock,
// before offsets are assigned (producer_state.go), so concurrent retries of one batch
// are caught: a duplicate is answered with its first offsets (Duplicate set) and not
// written; a sequence gap, an older epoch or a transaction violation fails the append.
func (l *Log) Append(records []byte, opts AppendOptions) (AppendResult, error) {
	cfg := l.config.Load()
	_, count, err := ValidateBatches(records, cfg.MaxMessageBytes)
	if err != nil {
		return AppendResult{}, err
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if l.closed.Load() {
		return AppendResult{}, ErrClosed
	}
	base := l.LogEndOffset()
	dup, isDup, err := l.stageProducersLocked(records, base, opts.Origin)
	if err != nil {
		return AppendResult{}, err
	}
	if isDup {
		return l.duplicateResult(dup, cfg), nil
	}
	appendTime := int64(-1)
	if cfg.LogAppendTime {
		appendTime = now.UnixMilli()
	}
	next := assignOffsets(records, base, opts.LeaderEpoch, appendTime)
	if err := l.maybeRollLocked(cfg, next-1, len(records), now); err != nil {
		return AppendResult{}, err
	}
	ahead, whole := l.preallocation(cfg)
	if err := l.activeSegment().appendBatches(records, cfg.IndexIntervalBytes, ahead, whole); err != nil {
		return AppendResult{}, err
	}
	l.assignEpochs(records, base, opts.LeaderEpoch)
	l.commitProducersLocked()
	l.logEndOffset.Store(next)
	l.unflushed += int64(count)
	l.wakeWaiters()
	if l.unflushed >= cfg.FlushMessages && cfg.FlushMessages > 0 {
		// The batch is written and visible: a failed fsync must not make the producer
		// retry (and duplicate) it. The data stays below the recovery point, so a crash
		// rescans it; the error is for the operator.
		if err := l.flushLocked(); err != nil {
			l.logger.Error("flush.messages fsync failed", "dir", l.dir, "err", err)
		}
	}
	return AppendResult{BaseOffset: base, LastOffset: next - 1, LogAppendTime: appendTime,
		LogStartOffset: l.LogStartOffset(), RecordCount: count}, nil
}

// assignOffsets rewrites each batch's base offset (and epoch, and append time) and
// returns the offset after the last record.
func assignOffsets(records []byte, next int64, epoch int32, appendTimeMs int64) int64 {
	for pos := 0; pos < len(records); {
		b := records[pos:]
		size := int(binary.BigEndian.Uint32(b[offBatchLength:])) + logOverhead
		setBaseOffset(b, next)
		if epoch >= 0 {
			setLeaderEpoch(b, epoch)
		}
		if appendTimeMs >= 0 {
			setLogAppendTime(b[:size], appendTimeMs)
		}
		next += int64(int32(binary.BigEndian.Uint32(b[offLastOffsetDelta:]))) + 1
		pos += size
	}
	return next
}

// maybeRollLocked starts a new segment when the active one is full by size, age, index
// space or offset range (Kafka's rules). Caller holds appendMu.
func (l *Log) maybeRollLocked(cfg *Config, lastOffset int64, bytes int, now time.Time) error {
	active := l.activeSegment()
	size := active.size.Load()
	if size == 0 {
		return nil
	}
	full := size+int64(bytes) > int64(cfg.SegmentBytes) || !active.canHold(lastOffset, bytes)
	if !full && !l.segmentExpired(cfg, active, now) {
		return nil
	}
	return l.rollLocked()
}

func (l *Log) segmentExpired(cfg *Config, s *segment, now time.Time) bool {
	age := cfg.SegmentAge
	if cfg.Compacted && cfg.MaxCompactionLag > 0 && (age <= 0 || cfg.MaxCompactionLag < age) {
		age = cfg.MaxCompactionLag // Kafka's maxSegmentMs: the active segment is never cleaned
	}
	if age <= 0 {
		return false
	}
	start := s.created.UnixMilli()
	if s.rollingTimestamp >= 0 {
		start = s.rollingTimestamp
	}
	return now.UnixMilli()-start > age.Milliseconds()
}

// rollLocked seals the active segment and starts a new one at the log end offset. The
// sealed segment's fsync happens off the append path (the owner's flusher). Caller holds
// appendMu.
func (l *Log) rollLocked() error {
	cfg := l.config.Load()
	old := l.activeSegment()
	next, err := createSegment(l.dir, l.LogEndOffset(), cfg.SegmentIndexBytes)
	if err != nil {
		return fmt.Errorf("roll %s: %w", l.dir, err)
	}
	if err := old.seal(); err != nil {
		_ = next.remove() // do not leave the new segment's files behind
		next.release()
		return fmt.Errorf("roll %s: %w", l.dir, err)
	}
	segs := *l.segments.Load()
	grown := make([]*segment, len(segs), len(segs)+1)
	copy(grown, segs)
	l.setSegments(append(grown, next))
	// Kafka snapshots producer state at each roll, so recovery replays at most the
	// active segment. Only the copy is made here; the flusher writes and fsyncs it
	// (producer_snapshot.go), and is due because the segments are dirty.
	l.takeRollSnapshotLocked(next.baseOffset)
	l.dirtySegments.Store(true)
	if l.onRoll != nil {
		l.onRoll(l)
	}
	return nil
}

// Roll seals the active segment and starts a new one, if the active one has data.
func (l *Log) Roll() error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if l.closed.Load() {
		return ErrClosed
	}
	if l.activeSegment().size.Load() == 0 {
		return nil
	}
	return l.rollLocked()
}

// Flush fsyncs everything appended so far and advances the recovery point. It reads
// the log end under appendMu but fsyncs under flushMu alone, so appends go on during the
// fsync; flushSegments copes with a truncation in between.
func (l *Log) Flush() error {
	l.appendMu.Lock()
	upTo := l.LogEndOffset()
	l.unflushed = 0
	l.appendMu.Unlock()
	if l.beforeFlushLock != nil {
		l.beforeFlushLock()
	}
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	if l.closed.Load() {
		return ErrClosed
	}
	return l.flushSegments(upTo)
}

// flushLocked is Flush from inside Append (flush.messages). Caller holds appendMu.
func (l *Log) flushLocked() error {
	l.unflushed = 0
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	return l.flushSegments(l.LogEndOffset())
}

// flushSegments fsyncs the segments holding offsets from the recovery point to upTo,
// then moves the recovery point. Caller holds flushMu.
//
// upTo may be stale: Flush reads it before taking flushMu, and a follower's Truncate may
// cut the log below it in between (Truncate holds flushMu, so never during this call).
// Storing it then would put the recovery point past the log end, and the segments the
// follower writes next would count as synced without ever being fsynced; so upTo is
// clamped to the log end. Everything below the log end read here was written before the
// fsyncs below, which cover the segments from the (already clamped) recovery point on.
func (l *Log) flushSegments(upTo int64) error {
	upTo = min(upTo, l.LogEndOffset())
	// Before anything that can fail: the roll snapshots depend on neither the epoch
	// history nor the directory sync, and left pending they would pile up in memory.
	// Written early they are safe: recovery trusts a snapshot only below the recovery
	// point, which passes them only after the segment fsyncs below. A failed write only
	// makes a later recovery replay more of the log.
	if err := l.writeRollSnapshots(); err != nil {
		l.logger.Error("writing a producer snapshot taken at a roll", "dir", l.dir, "err", err)
	}
	// The epoch history must be durable before the recovery point passes the data it
	// describes: recovery rebuilds it only from what it rescans.
	if err := l.epochs.flush(); err != nil {
		return err
	}
	from := l.RecoveryPoint()
	if upTo <= from && !l.dirtySegments.Load() {
		return nil
	}
	if l.dirtySegments.Swap(false) {
		// A roll created files: their directory entries must be durable too.
		if err := syncDir(l.dir); err != nil {
			l.dirtySegments.Store(true) // still owed: the next flush retries it
			return err
		}
	}
	segs := *l.segments.Load()
	for i, s := range segs {
		if i+1 < len(segs) && segs[i+1].baseOffset <= from {
			continue // entirely below the recovery point: already durable
		}
		if !s.acquire() {
			continue // deleted meanwhile
		}
		err := s.flush()
		s.release()
		if err != nil {
			return err
		}
	}
	if upTo > from {
		l.recoveryPoint.Store(upTo)
	}
	l.lastFlush.Store(time.Now().UnixMilli())
	return nil
}

// FlushIfDue flushes when flush.ms has passed since the last flush and data is unsynced,
// or a rolled segment awaits its fsync. The owner's flusher calls it periodically.
func (l *Log) FlushIfDue(now time.Time) error {
	cfg := l.config.Load()
	due := l.dirtySegments.Load()
	if cfg.FlushInterval > 0 && l.LogEndOffset() > l.RecoveryPoint() &&
		now.UnixMilli()-l.lastFlush.Load() >= cfg.FlushInterval.Milliseconds() {
		due = true
	}
	if !due {
		return nil
	}
	return l.Flush()
}
