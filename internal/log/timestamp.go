package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// OffsetForTimestamp finds the first record whose timestamp is at or after ts, as
// ListOffsets asks. found is false when every record is older. The one batch holding the
// answer is read (and decompressed) to find the exact record.
func (l *Log) OffsetForTimestamp(ts int64) (offset, timestamp int64, found bool, err error) {
	segs := *l.segments.Load()
	for _, s := range segs {
		if s.maxTimestamp.Load() < ts {
			continue
		}
		if !s.acquire() {
			continue
		}
		offset, timestamp, found, err = s.offsetForTimestamp(ts, l.LogStartOffset())
		s.release()
		if err != nil || found {
			return offset, timestamp, found, err
		}
	}
	return 0, 0, false, nil
}

func (s *segment) offsetForTimestamp(ts, logStart int64) (int64, int64, bool, error) {
	var entry [timeEntrySize]byte
	ok, err := s.times.floor(entry[:], func(e []byte) bool {
		t, _ := timeEntry(e)
		return t < ts
	})
	if err != nil {
		return 0, 0, false, err
	}
	from := s.baseOffset
	if ok {
		_, rel := timeEntry(entry[:])
		from = s.baseOffset + int64(rel)
	}
	if from < logStart {
		from = logStart
	}
	hs := headerScanner{file: s.file, end: s.size.Load()}
	pos, found, err := s.translate(&hs, from)
	if err != nil || !found {
		return 0, 0, false, err
	}
	for {
		h, size, err := hs.at(pos)
		if err == io.EOF {
			return 0, 0, false, nil
		}
		if err != nil {
			return 0, 0, false, err
		}
		if headerLastOffset(h) >= logStart && headerMaxTimestamp(h) >= ts {
			return s.recordAtOrAfter(pos, size, ts, logStart)
		}
		pos += size
	}
}

// recordAtOrAfter picks the first record at or after ts (and logStart) in the batch at pos.
func (s *segment) recordAtOrAfter(pos, size, ts, logStart int64) (int64, int64, bool, error) {
	batch := make([]byte, size)
	if _, err := s.file.ReadAt(batch, pos); err != nil {
		return 0, 0, false, fmt.Errorf("read batch at %d of %s: %w", pos, s.logPath, err)
	}
	var offset, timestamp int64
	found := false
	err := recordTimestamps(batch, func(o, t int64) bool {
		if o >= logStart && t >= ts {
			offset, timestamp, found = o, t, true
			return false
		}
		return true
	})
	if errors.Is(err, errStopRecords) {
		err = nil
	}
	return offset, timestamp, found, err
}

// MaxTimestamp returns the offset and timestamp of the record with the largest timestamp
// (ListOffsets MAX_TIMESTAMP, KIP-734). found is false for an empty log.
func (l *Log) MaxTimestamp() (offset, timestamp int64, found bool, err error) {
	var best *segment
	for _, s := range *l.segments.Load() {
		if best == nil || s.maxTimestamp.Load() > best.maxTimestamp.Load() {
			best = s
		}
	}
	if best == nil || best.maxTimestamp.Load() < 0 || !best.acquire() {
		return 0, 0, false, nil
	}
	defer best.release()
	ts := best.maxTimestamp.Load()
	offset, timestamp, found, err = best.offsetForTimestamp(ts, l.LogStartOffset())
	return offset, timestamp, found, err
}

func headerMaxTimestamp(h []byte) int64 { return int64(binary.BigEndian.Uint64(h[offMaxTimestamp:])) }
