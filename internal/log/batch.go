package log

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Record batch v2 header layout (see doc.go).
const (
	offBaseOffset      = 0
	offBatchLength     = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21
	offLastOffsetDelta = 23
	offBaseTimestamp   = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offRecordCount     = 57

	// BatchHeaderSize is the fixed size of a v2 record batch header.
	BatchHeaderSize = 61
	// logOverhead is baseOffset + batchLength: the bytes not counted by batchLength.
	logOverhead = 12
	// scanHeaderSize is the prefix a scan needs: up to and including maxTimestamp.
	scanHeaderSize = offProducerID

	attrCompressionMask = 0x07
	attrLogAppendTime   = 0x08
	attrTransactional   = 0x10
	attrControl         = 0x20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// BatchHeader is the decoded fixed header of a record batch, in Kafka's words.
type BatchHeader struct {
	BaseOffset      int64
	Length          int32 // batchLength: bytes after the length field
	LeaderEpoch     int32
	Magic           int8
	CRC             uint32
	Attributes      int16
	LastOffsetDelta int32
	BaseTimestamp   int64
	MaxTimestamp    int64
	ProducerID      int64
	ProducerEpoch   int16
	BaseSequence    int32
	RecordCount     int32
}

// Size is the batch's total size on disk and on the wire.
func (h *BatchHeader) Size() int { return int(h.Length) + logOverhead }

// LastOffset is the offset of the batch's last record.
func (h *BatchHeader) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// Compression is the codec id: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd.
func (h *BatchHeader) Compression() int8 { return int8(h.Attributes & attrCompressionMask) }

// LogAppendTime reports whether the batch carries the broker's append time.
func (h *BatchHeader) LogAppendTime() bool { return h.Attributes&attrLogAppendTime != 0 }

// Transactional reports whether the batch belongs to a transaction.
func (h *BatchHeader) Transactional() bool { return h.Attributes&attrTransactional != 0 }

// Control reports whether the batch holds a control record (a transaction marker).
func (h *BatchHeader) Control() bool { return h.Attributes&attrControl != 0 }

// ParseBatchHeader decodes the fixed header at the start of b; b must hold at least
// BatchHeaderSize bytes. It checks nothing: ValidateBatch does.
func ParseBatchHeader(b []byte) BatchHeader {
	_ = b[BatchHeaderSize-1]
	return BatchHeader{
		BaseOffset:      int64(binary.BigEndian.Uint64(b[offBaseOffset:])),
		Length:          int32(binary.BigEndian.Uint32(b[offBatchLength:])),
		LeaderEpoch:     int32(binary.BigEndian.Uint32(b[offLeaderEpoch:])),
		Magic:           int8(b[offMagic]),
		CRC:             binary.BigEndian.Uint32(b[offCRC:]),
		Attributes:      int16(binary.BigEndian.Uint16(b[offAttributes:])),
		LastOffsetDelta: int32(binary.BigEndian.Uint32(b[offLastOffsetDelta:])),
		BaseTimestamp:   int64(binary.BigEndian.Uint64(b[offBaseTimestamp:])),
		MaxTimestamp:    int64(binary.BigEndian.Uint64(b[offMaxTimestamp:])),
		ProducerID:      int64(binary.BigEndian.Uint64(b[offProducerID:])),
		ProducerEpoch:   int16(binary.BigEndian.Uint16(b[offProducerEpoch:])),
		BaseSequence:    int32(binary.BigEndian.Uint32(b[offBaseSequence:])),
		RecordCount:     int32(binary.BigEndian.Uint32(b[offRecordCount:])),
	}
}

// batchSpan reads the framing of the batch at the start of b and returns its total size.
// It fails when the length field is impossible or the batch runs past b.
func batchSpan(b []byte) (int, error) {
	if len(b) < BatchHeaderSize {
		return 0, fmt.Errorf("%w: %d bytes is shorter than a batch header", ErrCorruptBatch, len(b))
	}
	length := int32(binary.BigEndian.Uint32(b[offBatchLength:]))
	if length < BatchHeaderSize-logOverhead {
		return 0, fmt.Errorf("%w: batch length %d below header size", ErrCorruptBatch, length)
	}
	size := int(length) + logOverhead
	if size > len(b) {
		return 0, fmt.Errorf("%w: batch length %d runs past %d bytes", ErrCorruptBatch, length, len(b))
	}
	return size, nil
}

// ValidateBatch checks one complete batch (b is exactly the batch): magic 2, CRC-32C over
// attributes..end, a record count that matches lastOffsetDelta, and a size within
// maxBytes (max.message.bytes; <= 0 means no limit). It never decompresses.
func ValidateBatch(b []byte, maxBytes int) error {
	size, err := batchSpan(b)
	if err != nil {
		return err
	}
	if size != len(b) {
		return fmt.Errorf("%w: batch length says %d bytes, have %d", ErrCorruptBatch, size, len(b))
	}
	if maxBytes > 0 && size > maxBytes {
		return fmt.Errorf("%w: %d bytes > %d", ErrBatchTooLarge, size, maxBytes)
	}
	if magic := int8(b[offMagic]); magic != 2 {
		return fmt.Errorf("%w: magic %d, only v2 batches are stored", ErrInvalidRecord, magic)
	}
	if want, got := binary.BigEndian.Uint32(b[offCRC:]), crc32c(b[offAttributes:]); want != got {
		return fmt.Errorf("%w: crc %08x, computed %08x", ErrCorruptBatch, want, got)
	}
	count := int32(binary.BigEndian.Uint32(b[offRecordCount:]))
	delta := int32(binary.BigEndian.Uint32(b[offLastOffsetDelta:]))
	if count <= 0 || delta != count-1 {
		return fmt.Errorf("%w: record count %d does not match last offset delta %d", ErrInvalidRecord, count, delta)
	}
	return nil
}

// ValidateBatches checks a records field holding one or more complete batches, as a
// produce request carries them, and returns how many batches and records it holds.
func ValidateBatches(records []byte, maxBytes int) (batches, recordCount int, err error) {
	if len(records) == 0 {
		return 0, 0, fmt.Errorf("%w: no record batches", ErrInvalidRecord)
	}
	for pos := 0; pos < len(records); {
		size, err := batchSpan(records[pos:])
		if err != nil {
			return 0, 0, fmt.Errorf("batch %d at byte %d: %w", batches, pos, err)
		}
		if err := ValidateBatch(records[pos:pos+size], maxBytes); err != nil {
			return 0, 0, fmt.Errorf("batch %d at byte %d: %w", batches, pos, err)
		}
		recordCount += int(int32(binary.BigEndian.Uint32(records[pos+offRecordCount:])))
		batches++
		pos += size
	}
	return batches, recordCount, nil
}

// setBaseOffset rewrites the batch's base offset in place; the CRC does not cover it.
func setBaseOffset(b []byte, offset int64) {
	binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(offset))
}

// setLeaderEpoch rewrites the partition leader epoch in place; the CRC does not cover it.
func setLeaderEpoch(b []byte, epoch int32) {
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], uint32(epoch))
}

// setLogAppendTime stamps the batch with the broker's time, as Kafka does under
// message.timestamp.type=LogAppendTime: the timestamp-type bit and maxTimestamp change,
// so the CRC is recomputed.
func setLogAppendTime(b []byte, nowMs int64) {
	attrs := binary.BigEndian.Uint16(b[offAttributes:]) | attrLogAppendTime
	binary.BigEndian.PutUint16(b[offAttributes:], attrs)
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(nowMs))
	binary.BigEndian.PutUint32(b[offCRC:], crc32c(b[offAttributes:]))
}

func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
