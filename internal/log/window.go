package log

// Window returns, from the offset index alone, a span of the segment file that holds
// every page a Read at offset within maxBytes reads: the batch headers it scans to find
// where the range starts and ends, and the range itself. A reader that must not wait for
// the disk (a connection's request goroutine) checks the window for page cache residency
// and has it loaded before the Read, whose header reads would otherwise be synchronous
// disk reads on a cold segment: for a consumer catching up, the end of every range is a
// megabyte of cold pages ahead of what was last read.
//
// The window runs from the index entry at or below offset to maxBytes past the next
// entry (the batch holding offset starts at or before it), plus one header-scan buffer,
// within the segment. ok is false when there is nothing to read at offset (out of range,
// at the log end, or the log closed). Two cases can still read outside it, both rare: a
// first batch larger than maxBytes (KIP-74's MinOneBatch: its size is read from its own
// header, which is inside), and an offset past the segment's last batch (compaction left
// a gap; the Read goes on to the next segment). The caller must Release the window.
func (l *Log) Window(offset int64, maxBytes int) (FileRange, bool) {
	if l.closed.Load() || maxBytes <= 0 || offset < l.LogStartOffset() || offset >= l.LogEndOffset() {
		return FileRange{}, false
	}
	segs := *l.segments.Load()
	if offset < segs[0].baseOffset {
		return FileRange{}, false
	}
	s := segs[segmentIndexFor(segs, offset)]
	if !s.acquire() {
		return FileRange{}, false
	}
	start, end, err := s.window(offset, int64(maxBytes))
	if err != nil || end <= start {
		s.release()
		return FileRange{}, false
	}
	return FileRange{File: s.file, Position: start, Length: end - start, seg: s}, true
}

// window is Window within this segment: [start, end) file positions.
func (s *segment) window(offset, maxBytes int64) (start, end int64, err error) {
	size := s.size.Load()
	rel := offset - s.baseOffset
	var floor, next [offsetEntrySize]byte
	hasFloor, hasNext, err := s.offsets.around(floor[:], next[:], func(e []byte) bool {
		r, _ := offsetEntry(e)
		return int64(r) <= rel
	})
	if err != nil {
		return 0, 0, err
	}
	if hasFloor {
		_, pos := offsetEntry(floor[:])
		start = int64(pos)
	}
	firstBatchBy := size // where the batch holding offset starts, at the latest
	if hasNext {
		_, pos := offsetEntry(next[:])
		firstBatchBy = int64(pos)
	}
	var hs headerScanner
	return start, min(size, firstBatchBy+maxBytes+int64(len(hs.buf))), nil
}
