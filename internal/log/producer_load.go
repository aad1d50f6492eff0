package log

import (
	"fmt"
	"io"
)

// Loading producer state: the newest trusted snapshot, then the log after it replayed
// as a follower would (no checks), which also writes transaction index entries a crash
// lost. Used at open and after every truncation (Kafka's loadProducerState).

// reloadProducerStateLocked rebuilds the state from the newest snapshot at or below
// snapshotBound and the log from that snapshot to the log end. Snapshots past the log
// end describe data that is gone and are deleted first. Caller holds appendMu (or owns
// the log, at open).
func (l *Log) reloadProducerStateLocked(snapshotBound int64) error {
	end := l.LogEndOffset()
	if err := l.deleteSnapshotsLocked(func(off int64) bool { return off > end }); err != nil {
		return err
	}
	from, err := l.loadLatestSnapshot(min(snapshotBound, end))
	if err != nil {
		return err
	}
	segs := *l.segments.Load()
	if from < segs[0].baseOffset {
		from = segs[0].baseOffset // older producers went with their segments
	}
	for i := segmentIndexFor(segs, from); i < len(segs); i++ {
		if err := l.replaySegmentLocked(segs[i], from); err != nil {
			return fmt.Errorf("rebuild producer state of %s: %w", l.dir, err)
		}
	}
	return nil
}

// replaySegmentLocked applies the producer batches of seg from offset on.
func (l *Log) replaySegmentLocked(seg *segment, from int64) error {
	return seg.scanProducerBatches(from, func(h *BatchHeader, batch []byte) error {
		a := &l.pending
		a.reset()
		if err := a.add(l.producers, h, batch, originReplication); err != nil {
			return err
		}
		l.producers.commit(a)
		l.indexAbortedLocked(a, seg)
		return nil
	})
}

// scanProducerBatches calls fn for every batch with a producer id whose last offset is
// at or past from, reading only headers except for control batches, whose marker fn
// needs (batch is nil for data batches).
func (s *segment) scanProducerBatches(from int64, fn func(h *BatchHeader, batch []byte) error) error {
	hs := headerScanner{file: s.file, end: s.size.Load()}
	pos, found, err := s.translate(&hs, from)
	if err != nil || !found {
		return err
	}
	var head [BatchHeaderSize]byte
	var buf []byte
	for pos < hs.end {
		if _, err := s.file.ReadAt(head[:], pos); err != nil {
			return fmt.Errorf("read batch header of %s at %d: %w", s.logPath, pos, errOr(err, io.ErrUnexpectedEOF))
		}
		h := ParseBatchHeader(head[:])
		size := int64(h.Size())
		if size < BatchHeaderSize || pos+size > hs.end {
			return fmt.Errorf("%w: batch at %d of %s has length %d", ErrCorruptBatch, pos, s.logPath, size)
		}
		if h.ProducerID >= 0 && h.LastOffset() >= from {
			var batch []byte
			if h.Control() {
				buf = append(buf[:0], make([]byte, size)...)
				if _, err := s.file.ReadAt(buf, pos); err != nil {
					return fmt.Errorf("read control batch of %s at %d: %w", s.logPath, pos, err)
				}
				batch = buf
			}
			if err := fn(&h, batch); err != nil {
				return err
			}
		}
		pos += size
	}
	return nil
}
