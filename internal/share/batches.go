package share

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/nagare-dev/nagare/internal/log"
)

// batchHeaderPrefix is how much of a record batch header ScanBatches reads: base
// offset, length, leader epoch, magic, crc, attributes and last offset delta.
const batchHeaderPrefix = 27

// ScanBatches lists the batches of a log read's range by reading their headers (27
// bytes each, from the page cache the range is about to be sent from): the records
// stay on disk, as for a Fetch. dst is reused.
func ScanBatches(r log.FileRange, dst []Batch) ([]Batch, error) {
	var hdr [batchHeaderPrefix]byte
	dst = dst[:0]
	for pos, end := r.Position, r.Position+r.Length; pos < end; {
		if _, err := r.File.ReadAt(hdr[:], pos); err != nil && err != io.EOF {
			return dst, fmt.Errorf("share: reading batch header at %d: %w", pos, err)
		}
		base := int64(binary.BigEndian.Uint64(hdr[0:]))
		size := 12 + int64(int32(binary.BigEndian.Uint32(hdr[8:])))
		if size < batchHeaderPrefix || pos+size > end {
			return dst, fmt.Errorf("share: batch of %d bytes at position %d overruns the range", size, pos)
		}
		attrs := binary.BigEndian.Uint16(hdr[21:])
		last := base + int64(int32(binary.BigEndian.Uint32(hdr[23:])))
		dst = append(dst, Batch{BaseOffset: base, LastOffset: last, Control: attrs&0x20 != 0})
		pos += size
	}
	return dst, nil
}

// CutRange shortens r to the batches up to and including the one holding offset
// last, so a response carries no batches past the records it acquired.
func CutRange(r log.FileRange, batches []Batch, last int64) log.FileRange {
	var hdr [12]byte
	pos := r.Position
	for _, b := range batches {
		if _, err := r.File.ReadAt(hdr[:], pos); err != nil {
			return r
		}
		pos += 12 + int64(int32(binary.BigEndian.Uint32(hdr[8:])))
		if b.LastOffset >= last {
			r.Length = pos - r.Position
			return r
		}
	}
	return r
}

// WholeBatches is the prefix of r made of whole batches within maxBytes: its length
// and the last offset of its last batch (-1 when no whole batch fits). A share fetch
// cut at its warm-up deadline sends that prefix and gives back the records after it.
func WholeBatches(r log.FileRange, maxBytes int64) (length, last int64, err error) {
	var hdr [batchHeaderPrefix]byte
	last = -1
	limit := r.Position + min(maxBytes, r.Length)
	for pos := r.Position; pos < limit; {
		if _, err := r.File.ReadAt(hdr[:], pos); err != nil && err != io.EOF {
			return 0, -1, fmt.Errorf("share: reading batch header at %d: %w", pos, err)
		}
		size := 12 + int64(int32(binary.BigEndian.Uint32(hdr[8:])))
		if size < batchHeaderPrefix || pos+size > limit {
			break
		}
		base := int64(binary.BigEndian.Uint64(hdr[0:]))
		last = base + int64(int32(binary.BigEndian.Uint32(hdr[23:])))
		pos += size
		length = pos - r.Position
	}
	return length, last, nil
}
