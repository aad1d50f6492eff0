package txn

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The records of __transaction_state, in Kafka's formats (TransactionLogKey v0 and
// TransactionLogValue v1, which kmsg calls TxnMetadataKey and TxnMetadataValue), so
// Kafka's tools read them. One record per transition, keyed by transactional id; a
// null value is a tombstone (the id expired), and compaction keeps the latest.
const (
	keyVersion   = 0
	valueVersion = 1 // flexible, with the previous producer id as a tagged field (KIP-360)
)

func stateKey(id string) []byte {
	k := kmsg.TxnMetadataKey{Version: keyVersion, TransactionalID: id}
	return k.AppendTo(nil)
}

func stateValue(s txnState) []byte {
	v := kmsg.NewTxnMetadataValue()
	v.Version = valueVersion
	v.ProducerID, v.ProducerEpoch = s.producerID, s.producerEpoch
	v.PreviousProducerID, v.NextProducerID = s.previousProducerID, noProducerID
	v.TimeoutMillis = int32(s.timeout / time.Millisecond)
	v.State = kmsg.TransactionState(s.state)
	v.LastUpdateTimestamp = s.updateTime.UnixMilli()
	v.StartTimestamp = -1
	if !s.startTime.IsZero() {
		v.StartTimestamp = s.startTime.UnixMilli()
	}
	for _, tp := range s.partitions {
		if n := len(v.Topics); n > 0 && v.Topics[n-1].Topic == tp.Topic {
			v.Topics[n-1].Partitions = append(v.Topics[n-1].Partitions, tp.Partition)
			continue
		}
		t := kmsg.NewTxnMetadataValueTopic()
		t.Topic, t.Partitions = tp.Topic, []int32{tp.Partition}
		v.Topics = append(v.Topics, t)
	}
	return v.AppendTo(nil)
}

// decodeState reads a TransactionLogValue (v0 or v1).
func decodeState(b []byte) (txnState, error) {
	var v kmsg.TxnMetadataValue
	if err := v.ReadFrom(b); err != nil {
		return txnState{}, err
	}
	s := txnState{producerID: v.ProducerID, previousProducerID: noProducerID, producerEpoch: v.ProducerEpoch,
		lastProducerEpoch: noProducerEpoch, timeout: time.Duration(v.TimeoutMillis) * time.Millisecond,
		state: State(v.State), updateTime: time.UnixMilli(v.LastUpdateTimestamp)}
	if v.Version >= 1 {
		s.previousProducerID = v.PreviousProducerID
	}
	if v.StartTimestamp >= 0 {
		s.startTime = time.UnixMilli(v.StartTimestamp)
	}
	for _, t := range v.Topics {
		for _, p := range t.Partitions {
			s.partitions = append(s.partitions, TopicPartition{Topic: t.Topic, Partition: p})
		}
	}
	slices.SortFunc(s.partitions, compareTP)
	s.partitions = slices.Compact(s.partitions)
	return s, nil
}

// record is one key and value; a nil value is a tombstone.
type record struct {
	key, value []byte
}

const batchOverhead = 61 // record batch v2 header

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encodeBatch frames records as one uncompressed v2 batch with no producer id, so
// loading needs no codec. The log assigns the offsets.
func encodeBatch(records []record, now time.Time) []byte {
	var body []byte
	for i, r := range records {
		var rec []byte
		rec = append(rec, 0)                       // attributes
		rec = kbin.AppendVarlong(rec, 0)           // timestamp delta
		rec = kbin.AppendVarint(rec, int32(i))     // offset delta
		rec = kbin.AppendVarintBytes(rec, r.key)   //
		rec = kbin.AppendVarintBytes(rec, r.value) // nil: a tombstone
		rec = kbin.AppendVarint(rec, 0)            // headers
		body = kbin.AppendVarint(body, int32(len(rec)))
		body = append(body, rec...)
	}
	ms := now.UnixMilli()
	b := kmsg.RecordBatch{PartitionLeaderEpoch: -1, Magic: 2, LastOffsetDelta: int32(len(records) - 1),
		FirstTimestamp: ms, MaxTimestamp: ms, ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1,
		NumRecords: int32(len(records)), Records: body}
	b.Length = int32(batchOverhead - 12 + len(body))
	out := b.AppendTo(nil)
	const crcAt, attributesAt = 17, 21
	binary.BigEndian.PutUint32(out[crcAt:], crc32.Checksum(out[attributesAt:], castagnoli))
	return out
}

const (
	attrCompressionMask = 0x07
	attrControl         = 0x20
)

// decodeBatches calls fn with every record of the whole batches in buf and returns the
// offset after the last batch. Control batches are skipped (nothing transactional is
// written to this topic); a compressed batch is an error, since Nagare writes none.
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
		if err := fn(b.FirstOffset+int64(rec.OffsetDelta), record{key: rec.Key, value: rec.Value}); err != nil {
			return err
		}
	}
	return nil
}

func decodeKey(b []byte) (string, error) {
	var k kmsg.TxnMetadataKey
	if err := k.ReadFrom(b); err != nil {
		return "", err
	}
	return k.TransactionalID, nil
}
