package interop

// sarama's idempotent and transactional producers (InitProducerID, AddPartitionsToTxn,
// AddOffsetsToTxn, TxnOffsetCommit, EndTxn) read back by sarama's read_committed
// consumer.

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

func TestSaramaIdempotentProducer(t *testing.T) {
	b := brokertest.Start(t)
	for _, v := range saramaVersions {
		t.Run(v.name, func(t *testing.T) {
			topic := "sarama-idempotent-" + v.name
			const partitions, n = 2, 40
			createTopic(t, b, topic, partitions)
			rec := newAPIRecorder()
			cfg := idempotent(saramaConfig(v.version, rec))
			cfg.Producer.Flush.Messages = 7
			producer := saramaSyncProducer(t, cfg, b.Addr())
			var msgs []*sarama.ProducerMessage
			for i := range n {
				msgs = append(msgs, &sarama.ProducerMessage{Topic: topic,
					Key: sarama.StringEncoder(fmt.Sprint(i % 5)), Value: sarama.StringEncoder(fmt.Sprintf("idem-%d", i))})
			}
			if err := producer.SendMessages(msgs[:n/2]); err != nil {
				t.Fatalf("SendMessages: %v", err)
			}
			for _, m := range msgs[n/2:] {
				if _, _, err := producer.SendMessage(m); err != nil {
					t.Fatalf("SendMessage: %v", err)
				}
			}
			if got := rec.versions(22); len(got) == 0 {
				t.Fatalf("the idempotent producer sent no InitProducerID; sent: %s", rec)
			}

			// Each record once, in the order sent per partition, all under one producer id
			// with sequence-numbered batches.
			records := readAll(t, b, topic)
			var values []string
			pids := map[int64]bool{}
			perPartition := map[int32][]string{}
			for _, r := range records {
				values = append(values, string(r.Value))
				pids[r.ProducerID] = true
				perPartition[r.Partition] = append(perPartition[r.Partition], string(r.Value))
			}
			var want []string
			wantPerPartition := map[int32][]string{}
			for _, m := range msgs {
				s := string(m.Value.(sarama.StringEncoder))
				want = append(want, s)
				wantPerPartition[m.Partition] = append(wantPerPartition[m.Partition], s)
			}
			checkOnce(t, "franz-go", values, want)
			for p, vs := range wantPerPartition {
				if !slices.Equal(perPartition[p], vs) {
					t.Errorf("partition %d holds %q, want %q in the order sent", p, perPartition[p], vs)
				}
			}
			if len(pids) != 1 || pids[-1] {
				t.Errorf("records carry producer ids %v, want one idempotent producer id", pids)
			}
			t.Logf("sarama %s (Kafka %s) sent: %s", v.name, v.version, rec)
		})
	}
}

func TestSaramaTransactions(t *testing.T) {
	b := brokertest.Start(t, brokertest.WithProperties(map[string]string{"group.initial.rebalance.delay.ms": "0"}))
	for _, v := range saramaVersions {
		t.Run(v.name, func(t *testing.T) {
			topic, group := "sarama-txn-"+v.name, "sarama-txn-group-"+v.name
			const partitions, n = 2, 10
			createTopic(t, b, topic, partitions)
			rec := newAPIRecorder()
			cfg := idempotent(saramaConfig(v.version, rec))
			cfg.Producer.Transaction.ID = "sarama-txn-" + v.name
			cfg.Producer.Transaction.Timeout = 10 * time.Second
			cfg.Producer.Partitioner = sarama.NewManualPartitioner
			producer := saramaSyncProducer(t, cfg, b.Addr())

			var committed, all []string
			// sendTxn runs one transaction of n records over both partitions, with the
			// group's offset for partition 0 committed in it, and ends it with end.
			sendTxn := func(label string, groupOffset int64, end func() error) {
				t.Helper()
				if err := producer.BeginTxn(); err != nil {
					t.Fatalf("BeginTxn (%s): %v", label, err)
				}
				for i := range n {
					v := fmt.Sprintf("%s-%d", label, i)
					m := &sarama.ProducerMessage{Topic: topic, Partition: int32(i % partitions), Value: sarama.StringEncoder(v)}
					if _, _, err := producer.SendMessage(m); err != nil {
						t.Fatalf("SendMessage in %s: %v", label, err)
					}
					all = append(all, v)
				}
				offsets := map[string][]*sarama.PartitionOffsetMetadata{
					topic: {{Partition: 0, Offset: groupOffset, Metadata: &label}}}
				if err := producer.AddOffsetsToTxn(offsets, group); err != nil {
					t.Fatalf("AddOffsetsToTxn (%s): %v", label, err)
				}
				if err := end(); err != nil {
					t.Fatalf("ending %s: %v", label, err)
				}
			}
			sendTxn("commit1", 100, producer.CommitTxn)
			committed = append(committed, all...)
			sendTxn("abort", 200, producer.AbortTxn)

			// A transaction left open: read_committed stops at its first record (the LSO)
			// until it commits.
			if err := producer.BeginTxn(); err != nil {
				t.Fatalf("BeginTxn: %v", err)
			}
			var open []string
			for i := range n {
				v := fmt.Sprintf("commit2-%d", i)
				m := &sarama.ProducerMessage{Topic: topic, Partition: int32(i % partitions), Value: sarama.StringEncoder(v)}
				if _, _, err := producer.SendMessage(m); err != nil {
					t.Fatalf("SendMessage in open transaction: %v", err)
				}
				open = append(open, v)
			}
			readCfg := saramaConfig(v.version, rec)
			readCfg.Consumer.IsolationLevel = sarama.ReadCommitted
			consumer, err := sarama.NewConsumer([]string{b.Addr()}, readCfg)
			if err != nil {
				t.Fatal(err)
			}
			defer consumer.Close()
			readCommitted := func(perPartition int) []string {
				t.Helper()
				var out []string
				for p := range int32(partitions) {
					for _, m := range saramaConsume(t, consumer, topic, p, sarama.OffsetOldest, perPartition) {
						out = append(out, string(m.Value))
					}
				}
				return out
			}
			checkOnce(t, "sarama read_committed with a transaction open", readCommitted(n/partitions), committed)
			if err := producer.CommitTxn(); err != nil {
				t.Fatalf("CommitTxn: %v", err)
			}
			committed = append(committed, open...)
			all = append(all, open...)
			checkOnce(t, "sarama read_committed", readCommitted(2*n/partitions), committed)

			// read_uncommitted (sarama's default) sees the aborted records too, never the
			// control records.
			uncommitted, err := sarama.NewConsumer([]string{b.Addr()}, saramaConfig(v.version, rec))
			if err != nil {
				t.Fatal(err)
			}
			defer uncommitted.Close()
			var got []string
			for p := range int32(partitions) {
				for _, m := range saramaConsume(t, uncommitted, topic, p, sarama.OffsetOldest, 3*n/partitions) {
					got = append(got, string(m.Value))
				}
			}
			checkOnce(t, "sarama read_uncommitted", got, all)
			checkOnce(t, "franz-go read_committed", consumeValues(t, b, topic, kgo.ReadCommitted(), len(committed)), committed)

			// The group's offset is the committed transaction's, not the aborted one's.
			admin, err := sarama.NewClusterAdmin([]string{b.Addr()}, saramaConfig(v.version, rec))
			if err != nil {
				t.Fatal(err)
			}
			defer admin.Close()
			offsets, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: {0}})
			if err != nil {
				t.Fatalf("ListConsumerGroupOffsets: %v", err)
			}
			blk := offsets.GetBlock(topic, 0)
			if blk == nil || blk.Err != sarama.ErrNoError || blk.Offset != 100 || blk.Metadata != "commit1" {
				t.Errorf("group %s offset of %s/0: %+v, want 100 with metadata commit1 (the aborted transaction committed 200)", group, topic, blk)
			}
			for _, key := range []int16{22, 24, 25, 26, 28} { // InitProducerID .. TxnOffsetCommit
				if len(rec.versions(key)) == 0 {
					t.Errorf("sarama sent no request of API key %d; sent: %s", key, rec)
				}
			}
			t.Logf("sarama %s (Kafka %s) sent: %s", v.name, v.version, rec)
		})
	}
}
