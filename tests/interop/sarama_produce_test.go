package interop

// sarama's SyncProducer and partition consumer: keys, values, headers and timestamps
// through every compression codec, with sarama's default protocol version and the newest.

import (
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/nagare-dev/nagare/internal/brokertest"
)

func TestSaramaProduceConsume(t *testing.T) {
	codecs := []struct {
		codec sarama.CompressionCodec
		kgo   uint8 // kgo.RecordAttrs.CompressionType of the stored batch
	}{
		{sarama.CompressionNone, 0},
		{sarama.CompressionGZIP, 1},
		{sarama.CompressionSnappy, 2},
		{sarama.CompressionLZ4, 3},
		{sarama.CompressionZSTD, 4},
	}
	b := brokertest.Start(t)
	// Kafka 0.11 is the oldest version Nagare serves sarama at: with it sarama sends
	// Produce v3 and Fetch v5 (record batches); before it, message sets and Produce v2.
	versions := append(saramaVersions[:len(saramaVersions):len(saramaVersions)],
		struct {
			name    string
			version sarama.KafkaVersion
		}{"0.11", sarama.V0_11_0_0})
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			rec := newAPIRecorder()
			for _, c := range codecs {
				if c.codec == sarama.CompressionZSTD && !v.version.IsAtLeast(sarama.V2_1_0_0) {
					continue // zstd came with Kafka 2.1 (KIP-110)
				}
				t.Run(c.codec.String(), func(t *testing.T) {
					topic := fmt.Sprintf("sarama-%s-%s", v.name, c.codec)
					saramaRoundTrip(t, b, v.version, rec, topic, c.codec, c.kgo)
				})
			}
			t.Logf("sarama %s (Kafka %s) sent: %s", v.name, v.version, rec)
			if v.version == sarama.MaxVersion {
				rec.wantVersion(t, 0, 10) // Produce
				rec.wantVersion(t, 1, 12) // Fetch
			}
		})
	}
}

// saramaRoundTrip produces keyed records with headers and timestamps to a 3-partition
// topic in one SendMessages call, reads each partition back with sarama and checks
// every field, the offsets the producer reported, and (read with franz-go) that the
// stored batches carry the codec sarama compressed with.
func saramaRoundTrip(t *testing.T, b *brokertest.Broker, version sarama.KafkaVersion, rec *apiRecorder,
	topic string, codec sarama.CompressionCodec, storedCodec uint8) {
	const partitions, n = 3, 60
	createTopic(t, b, topic, partitions)
	cfg := saramaConfig(version, rec)
	cfg.Producer.Compression = codec
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Flush.Messages = 20 // several batches per partition
	producer := saramaSyncProducer(t, cfg, b.Addr())

	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	var msgs []*sarama.ProducerMessage
	for i := range n {
		m := &sarama.ProducerMessage{
			Topic:     topic,
			Key:       sarama.StringEncoder(fmt.Sprintf("key-%d", i%11)),
			Value:     sarama.StringEncoder(fmt.Sprintf("value-%d-%s", i, codec)),
			Timestamp: base.Add(time.Duration(i) * time.Second),
			Headers: []sarama.RecordHeader{
				{Key: []byte("index"), Value: []byte(fmt.Sprint(i))},
				{Key: []byte("empty"), Value: []byte{}},
			},
		}
		if i == n-1 {
			m.Value = nil // a tombstone: null value
		}
		msgs = append(msgs, m)
	}
	if err := producer.SendMessages(msgs); err != nil {
		t.Fatalf("SendMessages: %v", err)
	}
	type sent struct {
		i      int
		offset int64
	}
	byPartition := map[int32][]sent{}
	keyPartition := map[string]int32{}
	for i, m := range msgs {
		byPartition[m.Partition] = append(byPartition[m.Partition], sent{i, m.Offset})
		key := string(m.Key.(sarama.StringEncoder))
		if p, ok := keyPartition[key]; ok && p != m.Partition {
			t.Errorf("key %s sent to partitions %d and %d", key, p, m.Partition)
		}
		keyPartition[key] = m.Partition
	}
	if len(byPartition) != partitions {
		t.Errorf("the producer used partitions %v, want all %d", byPartition, partitions)
	}

	consumer, err := sarama.NewConsumer([]string{b.Addr()}, saramaConfig(version, rec))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	for p := range int32(partitions) {
		want := byPartition[p]
		got := saramaConsume(t, consumer, topic, p, sarama.OffsetOldest, len(want))
		for j, m := range got {
			i, offset := want[j].i, want[j].offset
			wantValue := fmt.Sprintf("value-%d-%s", i, codec)
			if i == n-1 {
				wantValue = ""
			}
			if m.Offset != offset || m.Offset != int64(j) {
				t.Errorf("partition %d message %d: offset %d, producer reported %d", p, j, m.Offset, offset)
			}
			if string(m.Key) != fmt.Sprintf("key-%d", i%11) || string(m.Value) != wantValue {
				t.Errorf("partition %d offset %d: key %q value %q, want key-%d %q", p, m.Offset, m.Key, m.Value, i%11, wantValue)
			}
			if i == n-1 && m.Value != nil {
				t.Errorf("tombstone read back with value %q, want nil", m.Value)
			}
			if wantTS := msgs[i].Timestamp; !m.Timestamp.Equal(wantTS) {
				t.Errorf("partition %d offset %d: timestamp %v, want %v", p, m.Offset, m.Timestamp, wantTS)
			}
			if len(m.Headers) != 2 || string(m.Headers[0].Key) != "index" || string(m.Headers[0].Value) != fmt.Sprint(i) ||
				string(m.Headers[1].Key) != "empty" || len(m.Headers[1].Value) != 0 {
				var hs []string
				for _, h := range m.Headers {
					hs = append(hs, fmt.Sprintf("%s=%q", h.Key, h.Value))
				}
				t.Errorf("partition %d offset %d: headers %v, want index=%d empty=\"\"", p, m.Offset, hs, i)
			}
		}
	}

	// franz-go sees the same records, in batches compressed with sarama's codec.
	for _, r := range readAll(t, b, topic) {
		if got := r.Attrs.CompressionType(); got != storedCodec {
			t.Fatalf("%s/%d offset %d is in a batch with codec %d, want %d (%s)", topic, r.Partition, r.Offset, got, storedCodec, codec)
		}
		if r.Attrs.TimestampType() != 0 {
			t.Fatalf("%s/%d offset %d: timestamp type %d, want create time", topic, r.Partition, r.Offset, r.Attrs.TimestampType())
		}
	}
}
