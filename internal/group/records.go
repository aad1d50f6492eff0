package group

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/coordinator"
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

// Record batches of the offsets topic are written uncompressed, with no producer id
// (coordinator.Producer's zero value) but for transactional offset commits, so loading
// never needs a codec; maxBytes keeps each under the topic's max.message.bytes when a
// commit names many partitions.

// encodeBatches frames records as v2 record batches of at most maxBytes each (one batch
// if they fit), timestamped now, with CRC-32C set. The log assigns offsets on append.
func encodeBatches(records []record, now time.Time, maxBytes int) ([]byte, error) {
	return encodeProducerBatches(records, now, maxBytes, coordinator.Producer{})
}

// encodeProducerBatches is encodeBatches for a producer: each batch carries its id
// and epoch and the transactional attribute.
func encodeProducerBatches(records []record, now time.Time, maxBytes int, producer coordinator.Producer) ([]byte, error) {
	var out []byte
	var body []byte
	count := int32(0)
	flush := func() {
		if count == 0 {
			return
		}
		out = coordinator.AppendBatch(out, body, count, now, producer)
		body, count = body[:0], 0
	}
	for _, r := range records {
		// Encoded in place; a record that overflows the batch is taken back out and
		// encoded again as the next batch's first.
		start := len(body)
		body = coordinator.AppendRecord(body, r.key, r.value, count)
		if size := len(body) - start; maxBytes > 0 && coordinator.BatchOverhead+size > maxBytes {
			return nil, fmt.Errorf("%w: one record is %d bytes, max.message.bytes is %d", ErrCommitTooLarge, size+coordinator.BatchOverhead, maxBytes)
		}
		if maxBytes > 0 && count > 0 && coordinator.BatchOverhead+len(body) > maxBytes {
			body = body[:start]
			flush()
			body = coordinator.AppendRecord(body, r.key, r.value, 0)
		}
		count++
	}
	flush()
	return out, nil
}

// decodeBatches calls fn with every record of the batches in buf (whole batches, as a
// log read returns them). A control batch (a transaction marker) yields one control
// record; a compressed batch is an error, since Nagare writes the topic uncompressed.
func decodeBatches(buf []byte, fn func(offset int64, r record) error) (next int64, err error) {
	return coordinator.DecodeBatches(buf, ErrCorruptRecord, func(b kmsg.RecordBatch) error { return decodeBatch(b, fn) })
}

// decodeBatch is decodeBatches for one batch.
func decodeBatch(b kmsg.RecordBatch, fn func(offset int64, r record) error) error {
	if b.Attributes&coordinator.AttrControl != 0 {
		return decodeControl(b, fn)
	}
	if codec := b.Attributes & coordinator.AttrCompressionMask; codec != 0 {
		return fmt.Errorf("%w: batch at offset %d is compressed (codec %d)", ErrCorruptRecord, b.FirstOffset, codec)
	}
	transactional := b.Attributes&coordinator.AttrTransactional != 0
	return coordinator.DecodeRecords(b, ErrCorruptRecord, func(offset int64, key, value []byte) error {
		return fn(offset, record{key: key, value: value, producerID: b.ProducerID, transactional: transactional})
	})
}

// decodeControl reads a control batch's marker: its one record's key is version int16
// and type int16 (0 abort, 1 commit), Kafka's ControlRecordType.
func decodeControl(b kmsg.RecordBatch, fn func(offset int64, r record) error) error {
	var marker *record
	err := coordinator.DecodeRecords(kmsg.RecordBatch{FirstOffset: b.FirstOffset, NumRecords: min(b.NumRecords, 1), Records: b.Records}, ErrCorruptRecord,
		func(_ int64, key, _ []byte) error {
			if len(key) < 4 {
				return fmt.Errorf("%w: control record key of %d bytes at offset %d", ErrCorruptRecord, len(key), b.FirstOffset)
			}
			marker = &record{producerID: b.ProducerID, control: true, commit: binary.BigEndian.Uint16(key[2:]) == 1}
			return nil
		})
	if err != nil || marker == nil {
		return err
	}
	return fn(b.FirstOffset, *marker)
}
