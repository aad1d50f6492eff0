package interop

// sarama against a three-broker cluster, bootstrapped from one broker's address only: it
// must learn the others from Metadata, send each partition's records to its leader with
// acks=all (every replica in the ISR), and find the group coordinator.

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
)

func TestSaramaCluster(t *testing.T) {
	brokers := startInteropCluster(t)
	const topic, groupID, partitions, n = "sarama-cluster", "sarama-cluster-readers", 3, 90
	rec := newAPIRecorder()
	cfg := idempotent(saramaConfig(sarama.MaxVersion, rec))
	cfg.Producer.Compression = sarama.CompressionLZ4
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Interval = 100 * time.Millisecond
	cfg.Consumer.Group.Heartbeat.Interval = 200 * time.Millisecond
	client := saramaClient(t, cfg, brokers[0].Addr())
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		t.Fatal(err)
	}

	// sarama's admin creates the topic: RF 3, min.insync.replicas=2.
	minISR := "2"
	if err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 3,
		ConfigEntries: map[string]*string{"min.insync.replicas": &minISR}}, false); err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	waitFor(t, 10*time.Second, "every partition led with three replicas in sync", func() string {
		md, err := admin.DescribeTopics([]string{topic})
		if err != nil {
			return err.Error()
		}
		if len(md) != 1 || md[0].Err != sarama.ErrNoError || len(md[0].Partitions) != partitions {
			return fmt.Sprintf("%+v", md)
		}
		for _, p := range md[0].Partitions {
			if p.Err != sarama.ErrNoError || p.Leader < 1 || len(p.Replicas) != 3 || len(p.Isr) != 3 {
				return fmt.Sprintf("partition %d: error %v leader %d replicas %v isr %v", p.ID, p.Err, p.Leader, p.Replicas, p.Isr)
			}
		}
		return ""
	})
	if err := client.RefreshMetadata(topic); err != nil {
		t.Fatal(err)
	}
	if got := len(client.Brokers()); got != 3 {
		t.Errorf("sarama, bootstrapped from %s, knows %d brokers, want 3", brokers[0].Addr(), got)
	}
	leaders := map[int32]bool{}
	for p := range int32(partitions) {
		leader, err := client.Leader(topic, p)
		if err != nil {
			t.Fatalf("leader of partition %d: %v", p, err)
		}
		leaders[leader.ID()] = true
	}
	t.Logf("partition leaders: %v", leaders)

	// Produce with acks=all from the same client.
	producer, err := sarama.NewSyncProducerFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	var msgs []*sarama.ProducerMessage
	for i := range n {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: topic,
			Key: sarama.StringEncoder(fmt.Sprintf("key-%d", i%13)), Value: sarama.StringEncoder(fmt.Sprintf("value-%d", i))})
	}
	if err := producer.SendMessages(msgs); err != nil {
		t.Fatalf("SendMessages with acks=all: %v", err)
	}
	perPartition := map[int32][]string{}
	var want []string
	for _, m := range msgs {
		v := string(m.Value.(sarama.StringEncoder))
		perPartition[m.Partition] = append(perPartition[m.Partition], v)
		want = append(want, v)
	}
	if len(perPartition) != partitions {
		t.Errorf("records went to partitions %v, want all %d", perPartition, partitions)
	}

	// Read back per partition from each leader, then in a one-member group.
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(partitions) {
		var got []string
		for _, m := range saramaConsume(t, consumer, topic, p, sarama.OffsetOldest, len(perPartition[p])) {
			got = append(got, string(m.Value))
		}
		if !slices.Equal(got, perPartition[p]) {
			t.Errorf("partition %d holds %q, want %q", p, got, perPartition[p])
		}
	}
	consumer.Close()
	consumed := make(chan consumedBy, 2*n)
	m := startMember(t, "only", cfg, brokers[0].Addr(), groupID, topic, consumed)
	var values []string
	timeout := time.After(15 * time.Second)
	for len(values) < n {
		select {
		case c := <-consumed:
			values = append(values, c.value)
		case <-timeout:
			t.Fatalf("the group read %d of %d records", len(values), n)
		}
	}
	m.stop()
	checkOnce(t, "sarama group", values, want)

	// Through another broker: franz-go sees the offsets the group committed and the
	// end offsets, and sarama connected to every broker.
	fetched, err := brokers[2].Admin().FetchOffsets(testContext(t), groupID)
	if err != nil {
		t.Fatalf("fetch offsets of %s: %v", groupID, err)
	}
	ends, err := brokers[1].Admin().ListEndOffsets(testContext(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		c, ok := fetched.Lookup(topic, o.Partition)
		if want := int64(len(perPartition[o.Partition])); o.Offset != want || !ok || c.At != want {
			t.Errorf("partition %d: end offset %d, group committed %d (found %v), want %d", o.Partition, o.Offset, c.At, ok, want)
		}
	})
	var wantAddrs []string
	for _, b := range brokers {
		wantAddrs = append(wantAddrs, b.Addr())
	}
	slices.Sort(wantAddrs)
	if got := rec.addrs(); !slices.Equal(got, wantAddrs) {
		t.Errorf("sarama connected to %v, want every broker %v", got, wantAddrs)
	}
	t.Logf("sarama (Kafka %s) sent: %s", cfg.Version, rec)
}
