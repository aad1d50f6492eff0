package log

import (
	"fmt"
	"io"
	"os"
)

// FileRange is a span of whole batches in a segment file, pinned until Release: the
// primary output of a read, sent to a socket with sendfile.
type FileRange struct {
	File     *os.File
	Position int64
	Length   int64
	seg      *segment
}

// Release unpins the segment; the range must not be used afterwards. Safe on an empty
// range and idempotent for the same copy.
func (r *FileRange) Release() {
	if r.seg != nil {
		r.seg.release()
		r.seg = nil
	}
}

// ReadOptions bound a read.
type ReadOptions struct {
	// MaxBytes is the most bytes returned (zero or less: none), unless MinOneBatch lets
	// a larger first batch through (KIP-74, so a consumer can always make progress).
	MaxBytes    int
	MinOneBatch bool
	// MaxOffset is the exclusive upper bound: the high watermark for consumers, the log
	// end offset for followers. Zero or less means the high watermark, or the last
	// stable offset under ReadCommitted.
	MaxOffset int64
	// ReadCommitted reads up to the last stable offset (isolation_level=read_committed).
	ReadCommitted bool
	// LastStableOffset asks for the result's LastStableOffset, which a consumer's fetch
	// answer carries at either isolation level. Replica fetches and internal readers do
	// not use it, so they do not pay for it (with transactions open, it takes the
	// producer state's lock). ReadCommitted computes it anyway.
	LastStableOffset bool
}

// ReadResult is what a read found: a range of whole batches (empty when there is
// nothing to return) and the log's offsets at the time of the read.
type ReadResult struct {
	Range            FileRange
	HighWatermark    int64
	LastStableOffset int64 // -1 unless ReadOptions.LastStableOffset or ReadCommitted
	LogEndOffset     int64
	LogStartOffset   int64
}

// Read returns whole batches from the one containing offset, within one segment. It
// returns ErrOffsetOutOfRange when offset is below the log start or above the log end.
// The caller must Release the result's Range.
func (l *Log) Read(offset int64, opts ReadOptions) (ReadResult, error) {
	for attempt := 0; ; attempt++ {
		res, retry, err := l.readOnce(offset, opts)
		if !retry || attempt > 8 {
			return res, err
		}
		// The segment was deleted under us (retention); take a fresh snapshot.
	}
}

func (l *Log) readOnce(offset int64, opts ReadOptions) (res ReadResult, retry bool, err error) {
	res = ReadResult{HighWatermark: l.HighWatermark(), LastStableOffset: -1, LogEndOffset: l.LogEndOffset(), LogStartOffset: l.LogStartOffset()}
	if opts.ReadCommitted || opts.LastStableOffset {
		res.LastStableOffset = l.producers.lastStableOffset(res.HighWatermark)
	}
	if l.closed.Load() {
		return res, false, ErrClosed
	}
	if offset < res.LogStartOffset || offset > res.LogEndOffset {
		return res, false, fmt.Errorf("%w: %d not in [%d, %d] of %s", ErrOffsetOutOfRange, offset, res.LogStartOffset, res.LogEndOffset, l.dir)
	}
	maxOffset := opts.MaxOffset
	if maxOffset <= 0 {
		maxOffset = res.HighWatermark
		if opts.ReadCommitted {
			maxOffset = res.LastStableOffset
		}
	}
	if maxOffset > res.LogEndOffset {
		maxOffset = res.LogEndOffset
	}
	if offset >= maxOffset {
		return res, false, nil
	}
	segs := *l.segments.Load()
	if offset < segs[0].baseOffset {
		// Retention removed the segment after the start offset was read.
		return res, false, fmt.Errorf("%w: %d was just deleted from %s", ErrOffsetOutOfRange, offset, l.dir)
	}
	for i := segmentIndexFor(segs, offset); i < len(segs); i++ {
		s := segs[i]
		if s.baseOffset >= maxOffset {
			return res, false, nil
		}
		if !s.acquire() {
			return res, true, nil
		}
		rng, found, err := s.readRange(offset, maxOffset, opts)
		if err != nil || !found {
			s.release()
			if err != nil {
				return res, false, fmt.Errorf("read %s at offset %d: %w", s.logPath, offset, err)
			}
			continue // offset is past this segment's last batch: try the next one
		}
		rng.seg = s
		res.Range = rng
		return res, false, nil
	}
	return res, false, nil
}

// segmentIndexFor finds the last segment whose base offset is at or below offset.
func segmentIndexFor(segs []*segment, offset int64) int {
	lo, hi := 0, len(segs)
	for lo < hi {
		mid := (lo + hi) / 2
		if segs[mid].baseOffset <= offset {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == 0 {
		return 0
	}
	return lo - 1
}

// readRange finds the whole batches to return from this segment.
func (s *segment) readRange(offset, maxOffset int64, opts ReadOptions) (FileRange, bool, error) {
	hs := headerScanner{file: s.file, end: s.size.Load()}
	start, found, err := s.translate(&hs, offset)
	if err != nil || !found {
		return FileRange{}, false, err
	}
	end, err := s.rangeEnd(&hs, start, maxOffset, opts)
	if err != nil {
		return FileRange{}, false, err
	}
	if end == start {
		return FileRange{}, true, nil // the first batch alone exceeds MaxBytes
	}
	return FileRange{File: s.file, Position: start, Length: end - start}, true, nil
}

// rangeEnd walks forward from start over whole batches that begin below maxOffset and
// fit in MaxBytes. It jumps through the offset index so a large read scans only a few
// headers near its end, not every batch.
func (s *segment) rangeEnd(hs *headerScanner, start, maxOffset int64, opts ReadOptions) (int64, error) {
	limit := start + int64(max(opts.MaxBytes, 0))
	if limit > hs.end {
		limit = hs.end
	}
	pos, err := s.floorPosition(start, limit)
	if err != nil {
		return 0, err
	}
	if pos > start {
		// The indexed batch must itself start below maxOffset, or we walk from start.
		h, _, err := hs.at(pos)
		switch {
		case err == io.EOF:
			// pos is the end of the published data: a batch boundary, walked below.
		case err != nil:
			return 0, err
		case headerBaseOffset(h) >= maxOffset:
			pos = start
		}
	}
	for {
		h, size, err := hs.at(pos)
		if err == io.EOF {
			return pos, nil
		}
		if err != nil {
			return 0, err
		}
		if headerBaseOffset(h) >= maxOffset || pos+size > limit {
			if pos == start && opts.MinOneBatch && headerBaseOffset(h) < maxOffset {
				return pos + size, nil
			}
			return pos, nil
		}
		pos += size
	}
}

// ReadBytes is Read into memory, for internal readers (the group coordinator loading
// its offsets, compaction). It returns the batches' bytes, or nil when there are none.
func (l *Log) ReadBytes(offset int64, opts ReadOptions) ([]byte, ReadResult, error) {
	res, err := l.Read(offset, opts)
	if err != nil {
		return nil, res, err
	}
	defer res.Range.Release()
	if res.Range.Length == 0 {
		return nil, res, nil
	}
	buf := make([]byte, res.Range.Length)
	if _, err := res.Range.File.ReadAt(buf, res.Range.Position); err != nil {
		return nil, res, fmt.Errorf("read %s: %w", l.dir, err)
	}
	return buf, res, nil
}
