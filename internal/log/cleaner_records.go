package log

import (
	"encoding/binary"
	"fmt"

	"github.com/nagare-dev/nagare/internal/compress"
)

// attrDeleteHorizon (bit 6) says baseTimestamp holds the batch's delete horizon
// (KIP-534): the time after which the cleaner may drop its tombstones.
const attrDeleteHorizon = 0x40

// maxDecompressedBatch bounds the records of one batch the cleaner decompresses. Kafka
// bounds a batch by max.message.bytes compressed only; this keeps a hostile ratio from
// taking the broker's memory.
const maxDecompressedBatch = 128 << 20

// v2Record is one record of a batch, decoded as far as the cleaner needs. raw is the
// record after its length varint (attributes .. headers), pointing into the batch's
// (decompressed) records.
type v2Record struct {
	offset    int64 // absolute
	timestamp int64 // baseTimestamp + timestampDelta
	key       []byte
	hasKey    bool // false for a null key
	hasValue  bool // false for a null value: a tombstone
	raw       []byte
	tsEnd     int // end of the timestamp delta varint in raw
}

// recordsOf returns the batch's records section, decompressed into buf when the batch is
// compressed (buf is reused and returned for reuse), at most limit bytes.
func recordsOf(batch []byte, h *BatchHeader, buf []byte, limit int) (records, newBuf []byte, err error) {
	body := batch[BatchHeaderSize:]
	if h.Compression() == 0 {
		return body, buf, nil
	}
	buf, err = compress.AppendDecompressed(buf[:0], compress.Codec(h.Compression()), body, limit)
	if err != nil {
		return nil, buf, fmt.Errorf("%w: batch at offset %d: %v", ErrCorruptBatch, h.BaseOffset, err)
	}
	return buf, buf, nil
}

// forEachRecord decodes the h.RecordCount records of a v2 records section (Kafka's
// DefaultRecord: lengths and deltas are zigzag varints) and calls fn with each.
func forEachRecord(h *BatchHeader, records []byte, fn func(r *v2Record) error) error {
	var r v2Record
	for i := int32(0); i < h.RecordCount; i++ {
		length, n := binary.Varint(records)
		if n <= 0 || length < 1 || int64(len(records)-n) < length {
			return fmt.Errorf("%w: batch at offset %d: record %d length", ErrCorruptBatch, h.BaseOffset, i)
		}
		raw := records[n : n+int(length)]
		records = records[n+int(length):]
		if err := decodeRecord(h, raw, &r); err != nil {
			return fmt.Errorf("%w: batch at offset %d: record %d: %v", ErrCorruptBatch, h.BaseOffset, i, err)
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	if len(records) != 0 {
		return fmt.Errorf("%w: batch at offset %d: %d bytes after its records", ErrCorruptBatch, h.BaseOffset, len(records))
	}
	return nil
}

func decodeRecord(h *BatchHeader, raw []byte, r *v2Record) error {
	d := varintReader{b: raw, pos: 1} // attributes: unused in v2
	if len(raw) < 1 {
		return fmt.Errorf("empty")
	}
	tsDelta := d.varint()
	r.tsEnd = d.pos
	offsetDelta := d.varint()
	r.key, r.hasKey = d.bytes()
	_, r.hasValue = d.bytes()
	headers := d.varint()
	for j := int64(0); j < headers && d.err == nil; j++ {
		if _, ok := d.bytes(); !ok && d.err == nil {
			return fmt.Errorf("null header key")
		}
		d.bytes()
	}
	if d.err != nil {
		return d.err
	}
	if headers < 0 || d.pos != len(raw) {
		return fmt.Errorf("fields do not fill the record")
	}
	r.offset = h.BaseOffset + offsetDelta
	r.timestamp = h.BaseTimestamp + tsDelta
	r.raw = raw
	if offsetDelta < 0 || offsetDelta > int64(h.LastOffsetDelta) {
		return fmt.Errorf("offset delta %d outside the batch's %d", offsetDelta, h.LastOffsetDelta)
	}
	return nil
}

// varintReader reads Kafka's zigzag varints and varint-length-prefixed byte fields; the
// first error sticks.
type varintReader struct {
	b   []byte
	pos int
	err error
}

func (d *varintReader) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.pos:])
	if n <= 0 {
		d.err = fmt.Errorf("bad varint at %d", d.pos)
		return 0
	}
	d.pos += n
	return v
}

// bytes reads a length-prefixed field; ok is false for a null (length -1) field.
func (d *varintReader) bytes() (field []byte, ok bool) {
	n := d.varint()
	if d.err != nil || n == -1 {
		return nil, false
	}
	if n < -1 || n > int64(len(d.b)-d.pos) {
		d.err = fmt.Errorf("field length %d at %d", n, d.pos)
		return nil, false
	}
	field = d.b[d.pos : d.pos+int(n)]
	d.pos += int(n)
	return field, true
}

// batchBuilder rebuilds a batch from the records of an original that survive cleaning,
// as Kafka's MemoryRecords.filterTo does: same base offset, same lastOffsetDelta (so the
// batch still spans its original offsets and the producer's last sequence stays
// readable), same producer fields and epoch, the original codec, a new CRC.
type batchBuilder struct {
	records []byte // uncompressed records section being built
	out     []byte // compressed records section
}

// rebuild appends to dst the batch whose header is that of original and whose records
// are kept (raw record bytes as decoded from original). horizon >= 0 sets the delete
// horizon (attributes bit 6, baseTimestamp) and re-encodes record timestamps relative to
// it; otherwise the original base timestamp is kept and records are copied verbatim.
func (b *batchBuilder) rebuild(dst, original []byte, h *BatchHeader, kept []v2Record, horizon int64) ([]byte, error) {
	base := h.BaseTimestamp
	attrs := uint16(h.Attributes)
	if horizon >= 0 {
		base = horizon
		attrs |= attrDeleteHorizon
	}
	maxTs := int64(-1)
	b.records = b.records[:0]
	for i := range kept {
		r := &kept[i]
		maxTs = max(maxTs, r.timestamp)
		if base == h.BaseTimestamp {
			b.records = binary.AppendVarint(b.records, int64(len(r.raw)))
			b.records = append(b.records, r.raw...)
			continue
		}
		// attributes, the timestamp delta against the new base, then the rest as is.
		var delta [binary.MaxVarintLen64]byte
		dn := binary.PutVarint(delta[:], r.timestamp-base)
		b.records = binary.AppendVarint(b.records, int64(1+dn+len(r.raw)-r.tsEnd))
		b.records = append(b.records, r.raw[0])
		b.records = append(b.records, delta[:dn]...)
		b.records = append(b.records, r.raw[r.tsEnd:]...)
	}
	if h.LogAppendTime() {
		maxTs = h.MaxTimestamp // every record carries the append time
	}
	body := b.records
	if codec := h.Compression(); codec != 0 {
		var err error
		if b.out, err = compress.AppendCompressed(b.out[:0], compress.Codec(codec), b.records); err != nil {
			return dst, fmt.Errorf("compress batch at offset %d: %w", h.BaseOffset, err)
		}
		body = b.out
	}
	start := len(dst)
	dst = append(dst, original[:BatchHeaderSize]...)
	dst = append(dst, body...)
	batch := dst[start:]
	binary.BigEndian.PutUint32(batch[offBatchLength:], uint32(len(batch)-logOverhead))
	binary.BigEndian.PutUint16(batch[offAttributes:], attrs)
	binary.BigEndian.PutUint64(batch[offBaseTimestamp:], uint64(base))
	binary.BigEndian.PutUint64(batch[offMaxTimestamp:], uint64(maxTs))
	binary.BigEndian.PutUint32(batch[offRecordCount:], uint32(len(kept)))
	binary.BigEndian.PutUint32(batch[offCRC:], crc32c(batch[offAttributes:]))
	return dst, nil
}

// appendEmptyBatch appends a batch with no records in place of original, as Kafka's
// DefaultRecordBatch.writeEmptyHeader: same offsets (lastOffsetDelta kept), producer
// fields, epoch, timestamp type, transactional and control bits and max timestamp; no
// compression, no base timestamp, no delete horizon.
func appendEmptyBatch(dst, originalHeader []byte) []byte {
	start := len(dst)
	dst = append(dst, originalHeader[:BatchHeaderSize]...)
	batch := dst[start:]
	attrs := binary.BigEndian.Uint16(batch[offAttributes:]) &^ (attrCompressionMask | attrDeleteHorizon)
	binary.BigEndian.PutUint32(batch[offBatchLength:], BatchHeaderSize-logOverhead)
	binary.BigEndian.PutUint16(batch[offAttributes:], attrs)
	binary.BigEndian.PutUint64(batch[offBaseTimestamp:], ^uint64(0)) // -1: no timestamp
	binary.BigEndian.PutUint32(batch[offRecordCount:], 0)
	binary.BigEndian.PutUint32(batch[offCRC:], crc32c(batch[offAttributes:]))
	return dst
}
