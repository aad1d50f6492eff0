package txn

import (
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/coordinator"
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

// encodeBatch frames records as one uncompressed v2 batch with no producer id, so
// loading needs no codec. The log assigns the offsets.
func encodeBatch(records []record, now time.Time) []byte {
	var body []byte
	for i, r := range records {
		body = coordinator.AppendRecord(body, r.key, r.value, int32(i))
	}
	return coordinator.AppendBatch(nil, body, int32(len(records)), now, coordinator.Producer{})
}

// decodeBatches calls fn with every record of the whole batches in buf and returns the
// offset after the last batch.
func decodeBatches(buf []byte, fn func(offset int64, r record) error) (next int64, err error) {
	return coordinator.DecodeBatches(buf, ErrCorruptRecord, func(b kmsg.RecordBatch) error { return decodeBatch(b, fn) })
}

// decodeBatch is decodeBatches for one batch. Control batches are skipped (nothing
// transactional is written to this topic); a compressed batch is an error, since
// Nagare writes none.
func decodeBatch(b kmsg.RecordBatch, fn func(offset int64, r record) error) error {
	if b.Attributes&coordinator.AttrControl != 0 {
		return nil
	}
	if codec := b.Attributes & coordinator.AttrCompressionMask; codec != 0 {
		return fmt.Errorf("%w: batch at offset %d is compressed (codec %d)", ErrCorruptRecord, b.FirstOffset, codec)
	}
	return coordinator.DecodeRecords(b, ErrCorruptRecord, func(offset int64, key, value []byte) error {
		return fn(offset, record{key: key, value: value})
	})
}

func decodeKey(b []byte) (string, error) {
	var k kmsg.TxnMetadataKey
	if err := k.ReadFrom(b); err != nil {
		return "", err
	}
	return k.TransactionalID, nil
}
