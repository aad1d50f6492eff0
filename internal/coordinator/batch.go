package coordinator

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The coordinators write their internal topics as Kafka's v2 record batches, so
// Kafka's tools (and a Kafka broker given these logs) read them. Batches are written
// uncompressed, so loading never needs a codec, and with no producer id, except the
// group coordinator's transactional offset commits.

// BatchOverhead is the size of a v2 record batch header, records excluded.
const BatchOverhead = 61

// Batch attributes the coordinators look at.
const (
	AttrCompressionMask = 0x07
	AttrTransactional   = 0x10
	AttrControl         = 0x20
)

// Producer is who a batch is written for: the zero value (no producer) for a
// coordinator's own records; a transactional producer's id and epoch for records its
// transaction's marker commits or aborts.
type Producer struct {
	Transactional bool
	ID            int64
	Epoch         int16
}

// AppendRecord appends one record of a batch to dst: length, attributes, timestamp
// delta 0, offset delta, key, value (length -1 for a nil value, a tombstone), no
// headers. The length comes first but counts what follows, so it is computed from the
// fields' sizes and the record written straight into dst, grown at most once.
func AppendRecord(dst []byte, key, value []byte, offsetDelta int32) []byte {
	length := 1 + // attributes
		kbin.VarlongLen(0) + // timestamp delta
		kbin.VarintLen(offsetDelta) +
		varintBytesLen(key) +
		varintBytesLen(value) +
		kbin.VarintLen(0) // headers
	dst = slices.Grow(dst, kbin.VarintLen(int32(length))+length)
	dst = kbin.AppendVarint(dst, int32(length))
	dst = append(dst, 0)                      // attributes
	dst = kbin.AppendVarlong(dst, 0)          // timestamp delta
	dst = kbin.AppendVarint(dst, offsetDelta) // offset delta
	dst = kbin.AppendVarintBytes(dst, key)
	dst = kbin.AppendVarintBytes(dst, value) // nil: length -1, a tombstone
	return kbin.AppendVarint(dst, 0)         // headers
}

// varintBytesLen is the size of b as kbin.AppendVarintBytes writes it: a varint
// length (-1 for nil), then b.
func varintBytesLen(b []byte) int {
	if b == nil {
		return kbin.VarintLen(-1)
	}
	return kbin.VarintLen(int32(len(b))) + len(b)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// AppendBatch frames count records (AppendRecord's output) as one uncompressed v2
// batch timestamped now, with its CRC-32C set, and appends it to dst. The log assigns
// the offsets on append.
func AppendBatch(dst, records []byte, count int32, now time.Time, producer Producer) []byte {
	pid, epoch, seq, attrs := int64(-1), int16(-1), int32(-1), int16(0) // uncompressed, CreateTime
	if producer.Transactional {
		// Kafka's coordinator writes sequence 0; the log does not check sequences of
		// the coordinator's own appends.
		pid, epoch, seq, attrs = producer.ID, producer.Epoch, 0, AttrTransactional
	}
	ms := now.UnixMilli()
	b := kmsg.RecordBatch{
		FirstOffset:          0,
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           attrs,
		LastOffsetDelta:      count - 1,
		FirstTimestamp:       ms,
		MaxTimestamp:         ms,
		ProducerID:           pid,
		ProducerEpoch:        epoch,
		FirstSequence:        seq,
		NumRecords:           count,
		Records:              records,
	}
	b.Length = int32(BatchOverhead - 12 + len(records)) // everything after the length field
	start := len(dst)
	dst = b.AppendTo(dst)
	const crcAt, attributesAt = 17, 21
	binary.BigEndian.PutUint32(dst[start+crcAt:], crc32.Checksum(dst[start+attributesAt:], castagnoli))
	return dst
}

// DecodeBatches calls fn with every batch in buf (whole batches, as a log read returns
// them) and returns the offset after the last one. What a batch's attributes mean
// (control, compressed) is the caller's to judge. Framing that does not decode wraps
// corrupt, the coordinator's error for a corrupt record.
func DecodeBatches(buf []byte, corrupt error, fn func(b kmsg.RecordBatch) error) (next int64, err error) {
	next = -1
	for len(buf) > 0 {
		if len(buf) < 12 {
			return next, fmt.Errorf("%w: %d trailing bytes", corrupt, len(buf))
		}
		size := 12 + int(int32(binary.BigEndian.Uint32(buf[8:])))
		if size < BatchOverhead || size > len(buf) {
			return next, fmt.Errorf("%w: batch of %d bytes in %d", corrupt, size, len(buf))
		}
		var b kmsg.RecordBatch
		if err := b.ReadFrom(buf[:size]); err != nil {
			return next, fmt.Errorf("%w: batch header: %v", corrupt, err)
		}
		buf = buf[size:]
		next = b.FirstOffset + int64(b.LastOffsetDelta) + 1
		if err := fn(b); err != nil {
			return next, err
		}
	}
	return next, nil
}

// DecodeRecords calls fn with the offset, key and value of every record of an
// uncompressed batch; a nil value is a tombstone. Records that do not decode wrap
// corrupt.
func DecodeRecords(b kmsg.RecordBatch, corrupt error, fn func(offset int64, key, value []byte) error) error {
	rest := b.Records
	for i := int32(0); i < b.NumRecords; i++ {
		length, n := binary.Varint(rest)
		if n <= 0 || length < 0 || int(length) > len(rest)-n {
			return fmt.Errorf("%w: record %d of batch at offset %d is truncated", corrupt, i, b.FirstOffset)
		}
		var rec kmsg.Record
		if err := rec.ReadFrom(rest[:n+int(length)]); err != nil {
			return fmt.Errorf("%w: record %d of batch at offset %d: %v", corrupt, i, b.FirstOffset, err)
		}
		rest = rest[n+int(length):]
		if err := fn(b.FirstOffset+int64(rec.OffsetDelta), rec.Key, rec.Value); err != nil {
			return err
		}
	}
	return nil
}
