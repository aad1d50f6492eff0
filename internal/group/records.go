package group

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The records of __consumer_offsets, in Kafka's formats so Kafka's tools (and a Kafka
// broker given these logs) read them. A key starts with its int16 version, which says
// what it keys:
//
//	key v0/v1  OffsetCommitKey    group, topic, partition  → OffsetCommitValue
//	key v2     GroupMetadataKey   group                    → GroupMetadataValue
//	key v3+    KIP-848 consumer-group records (not written yet; skipped on load)
//
// A record with a null value is a tombstone: the offset, or the whole group, is gone,
// and compaction eventually drops everything older with the same key.
const (
	offsetKeyVersion   = 1 // Kafka writes v1 (v0 was the ZooKeeper era's)
	groupKeyVersion    = 2
	offsetValueVersion = 3 // v3 carries the leader epoch (KIP-320)
	offsetValueExpiry  = 1 // v1 carries an explicit expire timestamp (OffsetCommit v2-v4)
	groupValueVersion  = 3 // v3 carries group.instance.id (KIP-345)
)

func offsetKey(group string, tp TopicPartition) []byte {
	k := kmsg.OffsetCommitKey{Version: offsetKeyVersion, Group: group, Topic: tp.Topic, Partition: tp.Partition}
	return k.AppendTo(nil)
}

func groupKey(group string) []byte {
	k := kmsg.GroupMetadataKey{Version: groupKeyVersion, Group: group}
	return k.AppendTo(nil)
}

func offsetValue(o committed) []byte {
	v := kmsg.NewOffsetCommitValue()
	v.Version = offsetValueVersion
	v.Offset, v.LeaderEpoch, v.Metadata = o.offset, o.leaderEpoch, o.metadata
	v.CommitTimestamp = o.commitTime.UnixMilli()
	if !o.expireTime.IsZero() {
		v.Version = offsetValueExpiry
		v.ExpireTimestamp = o.expireTime.UnixMilli()
	}
	return v.AppendTo(nil)
}

// record is one key and value of __consumer_offsets; a nil value is a tombstone. When
// decoded, producerID and transactional say which batch it came from, and a control
// record (a transaction marker) has control set, commit its outcome, and no key/value.
type record struct {
	key, value    []byte
	producerID    int64
	transactional bool
	control       bool
	commit        bool
}

// batchProducer is who a batch is written for: the zero value (no producer) for the
// coordinator's own records; a transactional producer's id and epoch for the offsets
// of a TxnOffsetCommit, which its transaction's marker commits or aborts.
type batchProducer struct {
	transactional bool
	id            int64
	epoch         int16
}

// Record batches of the offsets topic are written uncompressed, with no producer id, so
// loading never needs a codec; maxBatchBytes keeps each under the topic's
// max.message.bytes when a commit names many partitions.
const batchOverhead = 61 // record batch v2 header

// encodeBatches frames records as v2 record batches of at most maxBytes each (one batch
// if they fit), timestamped now, with CRC-32C set. The log assigns offsets on append.
func encodeBatches(records []record, now time.Time, maxBytes int) ([]byte, error) {
	return encodeProducerBatches(records, now, maxBytes, batchProducer{})
}

// encodeProducerBatches is encodeBatches for a producer: each batch carries its id
// and epoch and the transactional attribute.
func encodeProducerBatches(records []record, now time.Time, maxBytes int, producer batchProducer) ([]byte, error) {
	var out []byte
	var body []byte
	count := int32(0)
	ms := now.UnixMilli()
	flush := func() {
		if count == 0 {
			return
		}
		out = appendBatch(out, body, count, ms, producer)
		body, count = body[:0], 0
	}
	for _, r := range records {
		enc := appendRecord(nil, r, count)
		if batchOverhead+len(enc) > maxBytes && maxBytes > 0 {
			return nil, fmt.Errorf("%w: one record is %d bytes, max.message.bytes is %d", ErrCommitTooLarge, len(enc)+batchOverhead, maxBytes)
		}
		if maxBytes > 0 && count > 0 && batchOverhead+len(body)+len(enc) > maxBytes {
			flush()
			enc = appendRecord(nil, r, 0)
		}
		body = append(body, enc...)
		count++
	}
	flush()
	return out, nil
}

// appendRecord encodes one record of a batch: length, attributes, timestamp delta 0,
// offset delta, key, value (-1 length for a tombstone), no headers.
func appendRecord(dst []byte, r record, offsetDelta int32) []byte {
	var body []byte
	body = append(body, 0)                      // attributes
	body = kbin.AppendVarlong(body, 0)          // timestamp delta
	body = kbin.AppendVarint(body, offsetDelta) // offset delta
	body = kbin.AppendVarintBytes(body, r.key)
	body = kbin.AppendVarintBytes(body, r.value) // nil: length -1, a tombstone
	body = kbin.AppendVarint(body, 0)            // headers
	dst = kbin.AppendVarint(dst, int32(len(body)))
	return append(dst, body...)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func appendBatch(dst, records []byte, count int32, timestampMs int64, producer batchProducer) []byte {
	pid, epoch, seq, attrs := int64(-1), int16(-1), int32(-1), int16(0) // uncompressed, CreateTime
	if producer.transactional {
		// Kafka's coordinator writes sequence 0; the log does not check sequences of
		// the coordinator's own appends.
		pid, epoch, seq, attrs = producer.id, producer.epoch, 0, attrTransactional
	}
	b := kmsg.RecordBatch{
		FirstOffset:          0,
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           attrs,
		LastOffsetDelta:      count - 1,
		FirstTimestamp:       timestampMs,
		MaxTimestamp:         timestampMs,
		ProducerID:           pid,
		ProducerEpoch:        epoch,
		FirstSequence:        seq,
		NumRecords:           count,
		Records:              records,
	}
	b.Length = int32(batchOverhead - 12 + len(records)) // everything after the length field
	start := len(dst)
	dst = b.AppendTo(dst)
	const crcAt, attributesAt = 17, 21
	binary.BigEndian.PutUint32(dst[start+crcAt:], crc32.Checksum(dst[start+attributesAt:], castagnoli))
	return dst
}

// Batch attributes the loader looks at.
const (
	attrCompressionMask = 0x07
	attrTransactional   = 0x10
	attrControl         = 0x20
)

// decodeBatches calls fn with every record of the batches in buf (whole batches, as a
// log read returns them). A control batch (a transaction marker) yields one control
// record; a compressed batch is an error, since Nagare writes the topic uncompressed.
func decodeBatches(buf []byte, fn func(offset int64, r record) error) (next int64, err error) {
	next = -1
	for len(buf) > 0 {
		if len(buf) < 12 {
			return next, fmt.Errorf("%w: %d trailing bytes", ErrCorruptRecord, len(buf))
		}
		size := 12 + int(int32(binary.BigEndian.Uint32(buf[8:])))
		if size < batchOverhead || size > len(buf) {
			return next, fmt.Errorf("%w: batch of %d bytes in %d", ErrCorruptRecord, size, len(buf))
		}
		var b kmsg.RecordBatch
		if err := b.ReadFrom(buf[:size]); err != nil {
			return next, fmt.Errorf("%w: batch header: %v", ErrCorruptRecord, err)
		}
		buf = buf[size:]
		next = b.FirstOffset + int64(b.LastOffsetDelta) + 1
		if b.Attributes&attrControl != 0 {
			if err := decodeControl(b, fn); err != nil {
				return next, err
			}
			continue
		}
		if codec := b.Attributes & attrCompressionMask; codec != 0 {
			return next, fmt.Errorf("%w: batch at offset %d is compressed (codec %d)", ErrCorruptRecord, b.FirstOffset, codec)
		}
		if err := decodeRecords(b, fn); err != nil {
			return next, err
		}
	}
	return next, nil
}

func decodeRecords(b kmsg.RecordBatch, fn func(offset int64, r record) error) error {
	rest := b.Records
	for i := int32(0); i < b.NumRecords; i++ {
		length, n := binary.Varint(rest)
		if n <= 0 || length < 0 || int(length) > len(rest)-n {
			return fmt.Errorf("%w: record %d of batch at offset %d is truncated", ErrCorruptRecord, i, b.FirstOffset)
		}
		var rec kmsg.Record
		if err := rec.ReadFrom(rest[:n+int(length)]); err != nil {
			return fmt.Errorf("%w: record %d of batch at offset %d: %v", ErrCorruptRecord, i, b.FirstOffset, err)
		}
		rest = rest[n+int(length):]
		r := record{key: rec.Key, value: rec.Value, producerID: b.ProducerID, transactional: b.Attributes&attrTransactional != 0}
		if err := fn(b.FirstOffset+int64(rec.OffsetDelta), r); err != nil {
			return err
		}
	}
	return nil
}

// decodeControl reads a control batch's marker: its one record's key is version int16
// and type int16 (0 abort, 1 commit), Kafka's ControlRecordType.
func decodeControl(b kmsg.RecordBatch, fn func(offset int64, r record) error) error {
	var marker *record
	err := decodeRecords(kmsg.RecordBatch{FirstOffset: b.FirstOffset, NumRecords: min(b.NumRecords, 1), Records: b.Records},
		func(_ int64, r record) error {
			if len(r.key) < 4 {
				return fmt.Errorf("%w: control record key of %d bytes at offset %d", ErrCorruptRecord, len(r.key), b.FirstOffset)
			}
			marker = &record{producerID: b.ProducerID, control: true, commit: binary.BigEndian.Uint16(r.key[2:]) == 1}
			return nil
		})
	if err != nil || marker == nil {
		return err
	}
	return fn(b.FirstOffset, *marker)
}
