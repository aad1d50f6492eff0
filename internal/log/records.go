package log

import (
	"encoding/binary"
	"fmt"
)

// recordTimestamps calls fn with each record's offset and timestamp in an uncompressed
// v2 batch, until fn returns false. Only the fields before the key are decoded.
func recordTimestamps(batch []byte, fn func(offset, timestamp int64) bool) error {
	h := ParseBatchHeader(batch)
	if h.Compression() != 0 {
		return fmt.Errorf("%w: records of a compressed batch are not decoded here", ErrInvalidRecord)
	}
	body := batch[BatchHeaderSize:]
	for i := int32(0); i < h.RecordCount; i++ {
		length, n := binary.Varint(body)
		if n <= 0 || length < 0 || int64(len(body)-n) < length {
			return fmt.Errorf("%w: record %d length", ErrCorruptBatch, i)
		}
		rec := body[n : n+int(length)]
		body = body[n+int(length):]
		if len(rec) < 1 {
			return fmt.Errorf("%w: record %d empty", ErrCorruptBatch, i)
		}
		tsDelta, n1 := binary.Varint(rec[1:])
		if n1 <= 0 {
			return fmt.Errorf("%w: record %d timestamp", ErrCorruptBatch, i)
		}
		offDelta, n2 := binary.Varint(rec[1+n1:])
		if n2 <= 0 {
			return fmt.Errorf("%w: record %d offset delta", ErrCorruptBatch, i)
		}
		ts := h.BaseTimestamp + tsDelta
		if h.LogAppendTime() {
			ts = h.MaxTimestamp
		}
		if !fn(h.BaseOffset+offDelta, ts) {
			return nil
		}
	}
	return nil
}
