package log

import (
	"fmt"
	"time"
)

// DeleteRetained deletes the oldest segments that retention.ms, retention.bytes or the
// log start offset (DeleteRecords) no longer need, as Kafka's retention does: whole
// segments only, a prefix of the log, never the active segment (it is rolled first when
// it has expired too). Appends and reads proceed meanwhile; files open in pinned reads
// stay readable until released. It returns how many segments went.
func (l *Log) DeleteRetained(now time.Time) (int, error) {
	if l.cleaning.Load() {
		return 0, nil // Kafka too leaves a log being cleaned to the next retention check
	}
	l.swapMu.Lock()
	defer l.swapMu.Unlock()
	l.appendMu.Lock()
	if l.closed.Load() {
		l.appendMu.Unlock()
		return 0, ErrClosed
	}
	cfg := l.config.Load()
	segs := *l.segments.Load()
	n := l.deletablePrefixLocked(cfg, segs, now)
	if n == len(segs) {
		// Everything, active segment included, is past retention: roll so the old
		// data can go and appends continue in a fresh segment.
		if err := l.rollLocked(); err != nil {
			l.appendMu.Unlock()
			return 0, err
		}
		segs = *l.segments.Load()
	}
	if n == 0 {
		l.appendMu.Unlock()
		return 0, nil
	}
	doomed := segs[:n]
	l.setSegments(append([]*segment(nil), segs[n:]...))
	kept := segs[n].baseOffset
	if first := segs[n].baseOffset; first > l.LogStartOffset() {
		l.logStartOffset.Store(first)
		l.epochs.truncateFromStart(first)
	}
	if l.HighWatermark() < l.LogStartOffset() {
		l.highWatermark.Store(l.LogStartOffset())
	}
	l.appendMu.Unlock()
	l.wakeHighWatermark(false)
	// Snapshots below the first remaining segment describe deleted data (Kafka's
	// deleteProducerSnapshots); the producers themselves stay until they expire. Not
	// under appendMu: deleting waits for a flush writing roll snapshots (fsyncs), and
	// every snapshot taken meanwhile is above kept; swapMu still orders it with swaps.
	if err := l.deleteSnapshotsLocked(func(off int64) bool { return off < kept }); err != nil {
		l.logger.Warn("deleting producer snapshots", "dir", l.dir, "err", err)
	}
	return n, l.removeSegments(doomed)
}

// deletablePrefixLocked counts the oldest segments retention may delete; it returns
// len(segs) only when the active segment also qualifies and holds data.
func (l *Log) deletablePrefixLocked(cfg *Config, segs []*segment, now time.Time) int {
	total := int64(0)
	for _, s := range segs {
		total += s.size.Load()
	}
	excess := total - cfg.RetentionBytes
	n := 0
	for i, s := range segs {
		active := i == len(segs)-1
		size := s.size.Load()
		byStart := !active && segs[i+1].baseOffset <= l.LogStartOffset()
		byBytes := cfg.RetentionBytes >= 0 && !active && excess-size >= 0
		byTime := cfg.RetentionTime >= 0 && size > 0 && now.UnixMilli()-segmentTimestamp(s) > cfg.RetentionTime.Milliseconds()
		if !byStart && !byBytes && !byTime {
			break
		}
		if byBytes {
			excess -= size
		}
		if active {
			return len(segs)
		}
		n++
	}
	return n
}

// segmentTimestamp is the age reference of a segment: its largest record timestamp, or
// its file time when no record carries one (Kafka's fallback).
func segmentTimestamp(s *segment) int64 {
	if ts := s.maxTimestamp.Load(); ts >= 0 {
		return ts
	}
	return s.created.UnixMilli()
}

// removeSegments unlinks deleted segments and drops the log's reference to each.
func (l *Log) removeSegments(doomed []*segment) error {
	var first error
	for _, s := range doomed {
		if err := s.remove(); err != nil && first == nil {
			first = err
		}
		s.release()
		l.logger.Info("deleted segment", "dir", l.dir, "base_offset", s.baseOffset)
	}
	return first
}

// DeleteRecordsBefore moves the log start offset to offset (DeleteRecords); whole
// segments below it are deleted by the next retention pass. offset must not pass the
// high watermark.
func (l *Log) DeleteRecordsBefore(offset int64) (int64, error) {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if l.closed.Load() {
		return 0, ErrClosed
	}
	if offset < 0 || offset > l.HighWatermark() {
		return 0, fmt.Errorf("%w: delete before %d beyond high watermark %d", ErrOffsetOutOfRange, offset, l.HighWatermark())
	}
	if offset > l.LogStartOffset() {
		l.logStartOffset.Store(offset)
		l.epochs.truncateFromStart(offset)
	}
	return l.LogStartOffset(), nil
}

// Truncate removes every record at offset and above, for a follower that diverged from
// its leader. A batch that straddles offset is removed whole, so the log end offset may
// land below offset. Truncating below the first segment empties the log and restarts it
// at offset. It holds flushMu too, so a flush sees the log either before or after the
// truncation, never the recovery point lowered halfway through its fsyncs.
func (l *Log) Truncate(offset int64) error {
	l.swapMu.Lock()
	defer l.swapMu.Unlock()
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if l.closed.Load() {
		return ErrClosed
	}
	if offset >= l.LogEndOffset() {
		return nil // nothing to cut: no need to wait for a flush in progress
	}
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.truncations.Add(1)
	segs := *l.segments.Load()
	if offset <= segs[0].baseOffset {
		return l.truncateFullyLocked(offset, segs)
	}
	i := segmentIndexFor(segs, offset)
	s := segs[i]
	cfg := l.config.Load()
	newEnd, err := s.truncateAt(offset, recoveryRules{indexInterval: cfg.IndexIntervalBytes, contiguous: l.contiguousOffsets(cfg), limit: -1, logger: l.logger})
	if err != nil {
		return fmt.Errorf("truncate %s to %d: %w", l.dir, offset, err)
	}
	l.setSegments(append([]*segment(nil), segs[:i+1]...))
	l.logEndOffset.Store(newEnd)
	l.clampOffsetsLocked(newEnd)
	if err := l.truncateEpochs(newEnd); err != nil {
		return err
	}
	if err := l.removeSegments(segs[i+1:]); err != nil {
		return err
	}
	// Producer state follows the log back: Kafka reloads it from the nearest snapshot.
	if err := s.txns.truncateTo(newEnd); err != nil {
		return err
	}
	return l.reloadProducerStateLocked(newEnd)
}

// truncateFullyLocked deletes every segment and starts an empty one at offset. Caller
// holds appendMu and flushMu.
func (l *Log) truncateFullyLocked(offset int64, segs []*segment) error {
	// A segment at the same base offset must be unlinked first: re-creating its path in
	// place would empty the very file that pinned reads are still sending from.
	doomed := segs
	if segs[0].baseOffset == offset {
		if err := segs[0].remove(); err != nil {
			return err
		}
		doomed = segs[1:]
	}
	fresh, err := createSegment(l.dir, offset, l.config.Load().SegmentIndexBytes)
	if err != nil {
		return err
	}
	if len(doomed) < len(segs) {
		segs[0].release() // already unlinked above; pinned reads keep its descriptor
	}
	l.setSegments([]*segment{fresh})
	l.logEndOffset.Store(offset)
	l.logStartOffset.Store(offset)
	l.clampOffsetsLocked(offset)
	l.producers.reset()
	if err := l.deleteSnapshotsLocked(func(int64) bool { return true }); err != nil {
		return err
	}
	if err := l.truncateEpochs(offset); err != nil {
		return err
	}
	return l.removeSegments(doomed)
}

func (l *Log) clampOffsetsLocked(end int64) {
	if l.HighWatermark() > end {
		l.highWatermark.Store(end)
	}
	if l.RecoveryPoint() > end {
		l.recoveryPoint.Store(end)
	}
	if l.LogStartOffset() > end {
		l.logStartOffset.Store(end)
	}
	if l.cleanerCheckpoint.Load() > end {
		l.cleanerCheckpoint.Store(end) // Kafka's maybeTruncateCheckpoint
	}
}
