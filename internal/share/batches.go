package share

import (
	"fmt"
	"io"

	"github.com/nagare-dev/nagare/internal/log"
)

// batchHeaderPrefix is how much of a record batch header a scan reads: base offset,
// length, leader epoch, magic, crc, attributes and last offset delta. It reads these
// into a whole header's buffer (log.BatchHeaderSize, 61 bytes, what
// log.ParseBatchHeader takes) whose rest stays zero: the fields after last offset
// delta are not used, and reading only the prefix keeps WholeBatches' reads within the
// loaded part of a cold range.
const batchHeaderPrefix = 27

// Scan is the batches of a log read's range, listed from their headers (27 bytes each):
// the records stay on disk, as for a Fetch. It reads the range's file, so the caller
// reads only a range in the page cache (internal/api warms a cold one first): a scan of
// cold pages is a synchronous disk read on whatever goroutine runs it. The zero value
// is ready; a Scan is reused from read to read.
type Scan struct {
	Batches []Batch // in log order
	ends    []int64 // ends[i] is the file position just past Batches[i]
}

// Read lists the batches of r, replacing what s held.
func (s *Scan) Read(r log.FileRange) error {
	var hdr [log.BatchHeaderSize]byte
	s.Batches, s.ends = s.Batches[:0], s.ends[:0]
	for pos, end := r.Position, r.Position+r.Length; pos < end; {
		if _, err := r.File.ReadAt(hdr[:batchHeaderPrefix], pos); err != nil && err != io.EOF {
			return fmt.Errorf("share: reading batch header at %d: %w", pos, err)
		}
		h := log.ParseBatchHeader(hdr[:])
		size := int64(h.Size())
		if size < batchHeaderPrefix || pos+size > end {
			return fmt.Errorf("share: batch of %d bytes at position %d overruns the range", size, pos)
		}
		s.Batches = append(s.Batches, Batch{BaseOffset: h.BaseOffset, LastOffset: h.LastOffset(), Control: h.Control()})
		pos += size
		s.ends = append(s.ends, pos)
	}
	return nil
}

// Cut shortens r, the range s last read, to the batches up to and including the one
// holding offset last, so a response carries no batches past the records it acquired.
// It uses the positions Read found and reads nothing.
func (s *Scan) Cut(r log.FileRange, last int64) log.FileRange {
	for i, b := range s.Batches {
		if b.LastOffset >= last {
			r.Length = s.ends[i] - r.Position
			return r
		}
	}
	return r
}

// WholeBatches is the prefix of r made of whole batches within maxBytes: its length
// and the last offset of its last batch (-1 when no whole batch fits). A share fetch
// cut at its warm-up deadline sends that prefix and gives back the records after it.
func WholeBatches(r log.FileRange, maxBytes int64) (length, last int64, err error) {
	var hdr [log.BatchHeaderSize]byte
	last = -1
	limit := r.Position + min(maxBytes, r.Length)
	// A header not wholly within the prefix starts a batch that cannot fit either; not
	// reading it keeps the reads within maxBytes, the part of a cold range loaded so far.
	for pos := r.Position; pos+batchHeaderPrefix <= limit; {
		if _, err := r.File.ReadAt(hdr[:batchHeaderPrefix], pos); err != nil && err != io.EOF {
			return 0, -1, fmt.Errorf("share: reading batch header at %d: %w", pos, err)
		}
		h := log.ParseBatchHeader(hdr[:])
		size := int64(h.Size())
		if size < batchHeaderPrefix || pos+size > limit {
			break
		}
		last = h.LastOffset()
		pos += size
		length = pos - r.Position
	}
	return length, last, nil
}
