package log

import (
	"encoding/binary"
	"fmt"
)

// Control records: a transaction marker is a batch with the transactional and control
// attributes set, holding one record whose key is {version int16 = 0, type int16: 0
// abort, 1 commit} and whose value is {version int16 = 0, coordinatorEpoch int32}
// (Kafka's EndTransactionMarker). Markers are never compressed.

const (
	controlTypeAbort  = 0
	controlTypeCommit = 1
	markerKeySize     = 4
	markerValueSize   = 6
)

// controlRecord is a decoded transaction marker.
type controlRecord struct {
	commit           bool
	coordinatorEpoch int32
}

// parseControlRecord decodes the marker in a control batch. ok is false for an empty
// batch and for control types other than commit and abort, which end no transaction.
func parseControlRecord(batch []byte) (controlRecord, bool, error) {
	if int32(binary.BigEndian.Uint32(batch[offRecordCount:])) == 0 || len(batch) <= BatchHeaderSize {
		return controlRecord{}, false, nil
	}
	bad := func(why string) error { return fmt.Errorf("%w: control record: %s", ErrCorruptBatch, why) }
	p := batch[BatchHeaderSize:]
	if _, n := binary.Varint(p); n <= 0 { // record length
		return controlRecord{}, false, bad("length")
	} else {
		p = p[n:]
	}
	if len(p) < 1 {
		return controlRecord{}, false, bad("attributes")
	}
	p = p[1:]
	for range 2 { // timestamp delta, offset delta
		_, n := binary.Varint(p)
		if n <= 0 {
			return controlRecord{}, false, bad("deltas")
		}
		p = p[n:]
	}
	key, p, err := varintBytes(p)
	if err != nil || len(key) < markerKeySize {
		return controlRecord{}, false, bad("key")
	}
	typ := int16(binary.BigEndian.Uint16(key[2:]))
	if typ != controlTypeAbort && typ != controlTypeCommit {
		return controlRecord{}, false, nil
	}
	value, _, err := varintBytes(p)
	if err != nil || len(value) < markerValueSize {
		return controlRecord{}, false, bad("value")
	}
	return controlRecord{commit: typ == controlTypeCommit, coordinatorEpoch: int32(binary.BigEndian.Uint32(value[2:]))}, true, nil
}

// varintBytes reads a varint-length-prefixed byte string.
func varintBytes(p []byte) (field, rest []byte, err error) {
	l, n := binary.Varint(p)
	if n <= 0 || l < 0 || int64(len(p)-n) < l {
		return nil, nil, fmt.Errorf("%w: bad field length", ErrCorruptBatch)
	}
	return p[n : n+int(l)], p[n+int(l):], nil
}

// TxnMarker is a transaction's outcome written to one partition (WriteTxnMarkers).
type TxnMarker struct {
	ProducerID       int64
	ProducerEpoch    int16
	CoordinatorEpoch int32
	Commit           bool
}

// markerBatch builds the control batch for m, stamped with timestampMs.
func markerBatch(m TxnMarker, timestampMs int64) []byte {
	var rec []byte
	rec = append(rec, 0)              // attributes
	rec = binary.AppendVarint(rec, 0) // timestamp delta
	rec = binary.AppendVarint(rec, 0) // offset delta
	rec = binary.AppendVarint(rec, markerKeySize)
	typ := uint16(controlTypeAbort)
	if m.Commit {
		typ = controlTypeCommit
	}
	rec = binary.BigEndian.AppendUint16(rec, 0) // key version
	rec = binary.BigEndian.AppendUint16(rec, typ)
	rec = binary.AppendVarint(rec, markerValueSize)
	rec = binary.BigEndian.AppendUint16(rec, 0) // value version
	rec = binary.BigEndian.AppendUint32(rec, uint32(m.CoordinatorEpoch))
	rec = binary.AppendVarint(rec, 0) // no headers

	b := make([]byte, BatchHeaderSize, BatchHeaderSize+len(rec)+2)
	b = binary.AppendVarint(b, int64(len(rec)))
	b = append(b, rec...)
	binary.BigEndian.PutUint32(b[offBatchLength:], uint32(len(b)-logOverhead))
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], 0xffffffff)
	b[offMagic] = 2
	binary.BigEndian.PutUint16(b[offAttributes:], attrTransactional|attrControl)
	binary.BigEndian.PutUint64(b[offBaseTimestamp:], uint64(timestampMs))
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(timestampMs))
	binary.BigEndian.PutUint64(b[offProducerID:], uint64(m.ProducerID))
	binary.BigEndian.PutUint16(b[offProducerEpoch:], uint16(m.ProducerEpoch))
	binary.BigEndian.PutUint32(b[offBaseSequence:], 0xffffffff)
	binary.BigEndian.PutUint32(b[offRecordCount:], 1)
	binary.BigEndian.PutUint32(b[offCRC:], crc32c(b[offAttributes:]))
	return b
}
