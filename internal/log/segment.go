package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// segment is one .log file and its two indexes. The appender (holding Log.appendMu) is
// the only writer; readers see data only up to size.
type segment struct {
	baseOffset int64
	logPath    string
	file       *os.File
	offsets    *index
	times      *index
	txns       *txnIndex // aborted transactions (txn_index.go)

	size atomic.Int64 // bytes of complete batches; published after they are written
	refs atomic.Int32 // 1 for the log's own reference plus one per pinned read

	maxTimestamp         atomic.Int64 // largest batch maxTimestamp; -1 when none
	offsetOfMaxTimestamp atomic.Int64 // last offset of the batch holding maxTimestamp

	// Appender-owned (Log.appendMu).
	bytesSinceIndex  int
	preallocEnd      int64 // file offset up to which blocks are allocated (prealloc.go); 0: none asked
	rollingTimestamp int64 // first batch's maxTimestamp, for segment.ms; -1 when unknown
	created          time.Time
}

func segmentPath(dir string, baseOffset int64, ext string) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", baseOffset, ext))
}

// createSegment makes a new, empty segment at baseOffset.
func createSegment(dir string, baseOffset int64, indexBytes int) (*segment, error) {
	s := &segment{baseOffset: baseOffset, logPath: segmentPath(dir, baseOffset, ".log"), created: time.Now(), rollingTimestamp: -1}
	f, err := os.OpenFile(s.logPath, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create segment %s: %w", s.logPath, err)
	}
	s.file = f
	if s.offsets, err = createIndex(segmentPath(dir, baseOffset, ".index"), offsetEntrySize, indexBytes); err != nil {
		f.Close()
		return nil, err
	}
	if s.times, err = createIndex(segmentPath(dir, baseOffset, ".timeindex"), timeEntrySize, indexBytes); err != nil {
		f.Close()
		s.offsets.close()
		return nil, err
	}
	// A new segment has no aborted transactions: drop a leftover index at its name.
	txnPath := segmentPath(dir, baseOffset, ".txnindex")
	if err := os.Remove(txnPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		f.Close()
		s.offsets.close()
		s.times.close()
		return nil, fmt.Errorf("create segment %s: %w", s.logPath, err)
	}
	s.txns = &txnIndex{path: txnPath}
	s.init()
	return s, nil
}

// openSegment opens an existing segment's files; indexes that are missing are created
// empty and flagged so the caller rebuilds them.
func openSegment(dir string, baseOffset int64, indexBytes int) (s *segment, rebuild bool, err error) {
	s = &segment{baseOffset: baseOffset, logPath: segmentPath(dir, baseOffset, ".log"), rollingTimestamp: -1}
	if s.file, err = os.OpenFile(s.logPath, os.O_RDWR, 0o644); err != nil {
		return nil, false, fmt.Errorf("open segment %s: %w", s.logPath, err)
	}
	st, err := s.file.Stat()
	if err != nil {
		s.file.Close()
		return nil, false, fmt.Errorf("stat segment %s: %w", s.logPath, err)
	}
	s.created = st.ModTime()
	s.size.Store(st.Size())
	open := func(ext string, entrySize int) (*index, error) {
		path := segmentPath(dir, baseOffset, ext)
		ix, err := openIndex(path, entrySize, indexBytes)
		if errors.Is(err, os.ErrNotExist) {
			rebuild = true
			return createIndex(path, entrySize, indexBytes)
		}
		return ix, err
	}
	if s.offsets, err = open(".index", offsetEntrySize); err != nil {
		s.file.Close()
		return nil, false, err
	}
	if s.times, err = open(".timeindex", timeEntrySize); err != nil {
		s.file.Close()
		s.offsets.close()
		return nil, false, err
	}
	if s.txns, err = openTxnIndex(segmentPath(dir, baseOffset, ".txnindex")); err != nil {
		s.file.Close()
		s.offsets.close()
		s.times.close()
		return nil, false, err
	}
	s.init()
	return s, rebuild, nil
}

func (s *segment) init() {
	s.refs.Store(1)
	s.maxTimestamp.Store(-1)
	s.offsetOfMaxTimestamp.Store(s.baseOffset)
}

// acquire pins the segment's file for a read; it fails once the segment is closed.
func (s *segment) acquire() bool {
	for {
		r := s.refs.Load()
		if r <= 0 {
			return false
		}
		if s.refs.CompareAndSwap(r, r+1) {
			return true
		}
	}
}

// release drops a reference; the last one closes the files.
func (s *segment) release() {
	if s.refs.Add(-1) == 0 {
		s.file.Close()
		s.offsets.close()
		s.times.close()
		s.txns.close()
	}
}

// appendBatches writes validated batches (offsets already assigned) at the end of the
// file and indexes them, then publishes the new size. One write per call.
func (s *segment) appendBatches(records []byte, indexInterval int, preallocateAhead, preallocateWhole int64) error {
	pos := s.size.Load()
	s.preallocateFor(pos+int64(len(records)), preallocateAhead, preallocateWhole)
	if _, err := s.file.WriteAt(records, pos); err != nil {
		// Cut whatever part of the write landed so the file ends on a batch boundary.
		_ = s.truncateFile(pos)
		return fmt.Errorf("append to %s at %d: %w", s.logPath, pos, err)
	}
	var entry [timeEntrySize]byte
	for off := 0; off < len(records); {
		h := records[off:]
		size := int(binary.BigEndian.Uint32(h[offBatchLength:])) + logOverhead
		last := int64(binary.BigEndian.Uint64(h[offBaseOffset:])) + int64(int32(binary.BigEndian.Uint32(h[offLastOffsetDelta:])))
		maxTs := int64(binary.BigEndian.Uint64(h[offMaxTimestamp:]))
		s.indexBatch(entry[:], last, maxTs, pos+int64(off), size, indexInterval)
		off += size
	}
	s.size.Store(pos + int64(len(records)))
	return nil
}

// indexBatch does the bookkeeping for one batch appended at position: the max timestamp,
// and an index entry (last offset -> position) once index.interval.bytes have passed.
func (s *segment) indexBatch(entry []byte, lastOffset, maxTs, position int64, size, indexInterval int) {
	if position == 0 {
		s.rollingTimestamp = maxTs
	}
	if maxTs > s.maxTimestamp.Load() {
		s.maxTimestamp.Store(maxTs)
		s.offsetOfMaxTimestamp.Store(lastOffset)
	}
	if s.bytesSinceIndex > indexInterval {
		putOffsetEntry(entry, int32(lastOffset-s.baseOffset), int32(position))
		s.offsets.append(entry[:offsetEntrySize])
		s.appendTimeEntry(entry)
		s.bytesSinceIndex = 0
	}
	s.bytesSinceIndex += size
}

// appendTimeEntry records the segment's max timestamp so far if it moved past the last
// time index entry (time index timestamps strictly increase).
func (s *segment) appendTimeEntry(entry []byte) {
	ts, off := s.maxTimestamp.Load(), s.offsetOfMaxTimestamp.Load()
	if ts < 0 {
		return
	}
	if s.times.last(entry) {
		if last, _ := timeEntry(entry); ts <= last {
			return
		}
	}
	putTimeEntry(entry, ts, int32(off-s.baseOffset))
	s.times.append(entry[:timeEntrySize])
}

// canHold reports whether a batch of lastOffset fits the segment's relative offsets and
// position range, and its indexes have room.
func (s *segment) canHold(lastOffset int64, bytes int) bool {
	return lastOffset-s.baseOffset <= math.MaxInt32 &&
		s.size.Load()+int64(bytes) <= math.MaxInt32 &&
		!s.offsets.full() && !s.times.full()
}

// flush writes pending index entries and fsyncs the segment's three files.
func (s *segment) flush() error {
	if err := s.file.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", s.logPath, err)
	}
	if err := s.offsets.flush(); err != nil {
		return err
	}
	if err := s.txns.flush(); err != nil {
		return err
	}
	return s.times.flush()
}

// seal finishes a segment that will take no more appends: a final time index entry for
// its max timestamp, and index files trimmed to their entries.
func (s *segment) seal() error {
	var entry [timeEntrySize]byte
	if err := s.times.ensureLoaded(); err != nil {
		return err
	}
	s.appendTimeEntry(entry[:])
	if err := s.offsets.trim(); err != nil {
		return err
	}
	if err := s.times.trim(); err != nil {
		return err
	}
	return s.trimPreallocation()
}

// unseal makes a sealed segment the active one again (after Truncate).
func (s *segment) unseal() error {
	for _, ix := range []*index{s.offsets, s.times} {
		if err := ix.ensureLoaded(); err != nil {
			return err
		}
		if err := ix.preallocate(); err != nil {
			return err
		}
	}
	return nil
}

// remove unlinks the segment's files; open readers keep their descriptors.
func (s *segment) remove() error {
	var errs []error
	paths := []string{s.logPath, s.offsets.path, s.times.path}
	if s.txns != nil {
		paths = append(paths, s.txns.path)
	}
	for _, p := range paths {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// lookupPosition returns the position to start scanning from for offset: that of the
// last index entry at or below it, or 0.
func (s *segment) lookupPosition(offset int64) (int64, error) {
	var entry [offsetEntrySize]byte
	rel := offset - s.baseOffset
	ok, err := s.offsets.floor(entry[:], func(e []byte) bool {
		r, _ := offsetEntry(e)
		return int64(r) <= rel
	})
	if err != nil || !ok {
		return 0, err
	}
	_, pos := offsetEntry(entry[:])
	return int64(pos), nil
}

// floorPosition returns the position of the last indexed batch starting at or before
// limit and at or after from; from when there is none.
func (s *segment) floorPosition(from, limit int64) (int64, error) {
	var entry [offsetEntrySize]byte
	ok, err := s.offsets.floor(entry[:], func(e []byte) bool {
		_, p := offsetEntry(e)
		return int64(p) <= limit
	})
	if err != nil || !ok {
		return from, err
	}
	if _, pos := offsetEntry(entry[:]); int64(pos) > from {
		return int64(pos), nil
	}
	return from, nil
}

// headerScanner reads batch header prefixes through a small buffer, so walking many
// small batches costs one pread per buffer, not one per batch.
type headerScanner struct {
	file   *os.File
	end    int64 // scan limit: the segment size when the scan began
	bufPos int64
	bufLen int
	buf    [4096]byte
}

// at returns the scanHeaderSize-byte prefix of the batch at pos, and its total size.
// io.EOF means pos is at the end.
func (hs *headerScanner) at(pos int64) ([]byte, int64, error) {
	if pos >= hs.end {
		return nil, 0, io.EOF
	}
	if pos+scanHeaderSize > hs.end {
		return nil, 0, fmt.Errorf("%w: partial batch header at %d", ErrCorruptBatch, pos)
	}
	if pos < hs.bufPos || pos+scanHeaderSize > hs.bufPos+int64(hs.bufLen) {
		n := int64(len(hs.buf))
		if hs.end-pos < n {
			n = hs.end - pos
		}
		read, err := hs.file.ReadAt(hs.buf[:n], pos)
		if read < scanHeaderSize {
			return nil, 0, fmt.Errorf("read batch header at %d: %w", pos, errOr(err, io.ErrUnexpectedEOF))
		}
		hs.bufPos, hs.bufLen = pos, read
	}
	h := hs.buf[pos-hs.bufPos : pos-hs.bufPos+scanHeaderSize]
	size := int64(int32(binary.BigEndian.Uint32(h[offBatchLength:]))) + logOverhead
	if size < BatchHeaderSize || pos+size > hs.end {
		return nil, 0, fmt.Errorf("%w: batch at %d has impossible length %d", ErrCorruptBatch, pos, size)
	}
	return h, size, nil
}

func errOr(err, fallback error) error {
	if err != nil {
		return err
	}
	return fallback
}

func headerBaseOffset(h []byte) int64 { return int64(binary.BigEndian.Uint64(h[offBaseOffset:])) }

func headerLastOffset(h []byte) int64 {
	return headerBaseOffset(h) + int64(int32(binary.BigEndian.Uint32(h[offLastOffsetDelta:])))
}

// translate finds the position of the first batch whose last offset is at or past
// offset, scanning from the index's hint. found is false when no batch in the first end
// bytes qualifies.
func (s *segment) translate(hs *headerScanner, offset int64) (pos int64, found bool, err error) {
	pos, err = s.lookupPosition(offset)
	if err != nil {
		return 0, false, err
	}
	for {
		h, size, err := hs.at(pos)
		if err == io.EOF {
			return pos, false, nil
		}
		if err != nil {
			return 0, false, err
		}
		if headerLastOffset(h) >= offset {
			return pos, true, nil
		}
		pos += size
	}
}
