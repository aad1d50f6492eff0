package interop

// sarama's ClusterAdmin: topics, configs, partitions, groups and records managed the way
// Go tools built on sarama do it.

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

func TestSaramaClusterAdmin(t *testing.T) {
	b := brokertest.Start(t, brokertest.WithProperties(map[string]string{"group.initial.rebalance.delay.ms": "0"}))
	for _, v := range saramaVersions {
		t.Run(v.name, func(t *testing.T) { saramaAdmin(t, b, v.version) })
	}
}

func saramaAdmin(t *testing.T, b *brokertest.Broker, version sarama.KafkaVersion) {
	topic, groupID := "sarama-admin-"+version.String(), "sarama-admin-group-"+version.String()
	rec := newAPIRecorder()
	cfg := saramaConfig(version, rec)
	client := saramaClient(t, cfg, b.Addr())
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	str := func(s string) *string { return &s }

	// DescribeCluster: the one broker, which is also the controller.
	brokers, controller, err := admin.DescribeCluster()
	if err != nil {
		t.Fatalf("DescribeCluster: %v", err)
	}
	if len(brokers) != 1 || brokers[0].Addr() != b.Addr() || controller != brokers[0].ID() {
		t.Errorf("DescribeCluster: %d brokers (first %s), controller %d; want only %s, the controller", len(brokers), brokers[0].Addr(), controller, b.Addr())
	}

	// CreateTopic with configs; a second create is refused as TOPIC_ALREADY_EXISTS.
	detail := &sarama.TopicDetail{NumPartitions: 2, ReplicationFactor: 1, ConfigEntries: map[string]*string{
		"retention.ms": str("3600000"), "max.message.bytes": str("200000")}}
	if err := admin.CreateTopic(topic, detail, false); err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	if err := admin.CreateTopic(topic, detail, false); !isKError(err, sarama.ErrTopicAlreadyExists) {
		t.Errorf("CreateTopic again: %v, want %v", err, sarama.ErrTopicAlreadyExists)
	}
	if err := admin.CreateTopic(topic+"-validate", detail, true); err != nil {
		t.Errorf("CreateTopic validate only: %v", err)
	}
	describePartitions := func(want int) {
		t.Helper()
		md, err := admin.DescribeTopics([]string{topic})
		if err != nil || len(md) != 1 {
			t.Fatalf("DescribeTopics: %v %v", md, err)
		}
		if md[0].Err != sarama.ErrNoError || len(md[0].Partitions) != want {
			t.Fatalf("DescribeTopics %s: error %v, %d partitions, want %d", topic, md[0].Err, len(md[0].Partitions), want)
		}
		for _, p := range md[0].Partitions {
			if p.Err != sarama.ErrNoError || p.Leader != controller || !slices.Equal(p.Replicas, []int32{controller}) || !slices.Equal(p.Isr, []int32{controller}) {
				t.Errorf("partition %d: error %v leader %d replicas %v isr %v", p.ID, p.Err, p.Leader, p.Replicas, p.Isr)
			}
		}
	}
	describePartitions(2)
	topics, err := admin.ListTopics()
	if err != nil {
		t.Fatalf("ListTopics: %v", err)
	}
	if d, ok := topics[topic]; !ok || d.NumPartitions != 2 || d.ReplicationFactor != 1 || deref(d.ConfigEntries["retention.ms"]) != "3600000" {
		t.Errorf("ListTopics %s: %+v (present %v)", topic, d, ok)
	}
	if _, ok := topics[topic+"-validate"]; ok {
		t.Errorf("the validate-only CreateTopic created %s-validate", topic)
	}

	// DescribeConfigs: the two set at creation come from the topic, the rest are defaults.
	configs := func() map[string]sarama.ConfigEntry {
		t.Helper()
		results, err := admin.DescribeConfigs([]*sarama.ConfigResource{{Type: sarama.TopicResource, Name: topic}},
			sarama.DescribeConfigsOptions{IncludeSynonyms: true})
		if err != nil || len(results) != 1 || results[0].Name != topic || results[0].ErrorCode != 0 {
			t.Fatalf("DescribeConfigs: %v, %+v", err, results)
		}
		out := map[string]sarama.ConfigEntry{}
		for _, e := range results[0].Configs {
			out[e.Name] = e
		}
		return out
	}
	wantConfig := func(got map[string]sarama.ConfigEntry, name, value string, fromTopic bool) {
		t.Helper()
		e, ok := got[name]
		if !ok || e.Value != value || (e.Source == sarama.SourceTopic) != fromTopic || e.Default == fromTopic {
			t.Errorf("config %s: %+v (present %v), want value %s from the topic: %v", name, e, ok, value, fromTopic)
		}
	}
	got := configs()
	wantConfig(got, "retention.ms", "3600000", true)
	wantConfig(got, "max.message.bytes", "200000", true)
	wantConfig(got, "cleanup.policy", "delete", false)
	if len(got) < 20 {
		t.Errorf("DescribeConfig listed %d configs, want all of a topic's", len(got))
	}

	// AlterConfig replaces the topic's configs (max.message.bytes returns to its default);
	// IncrementalAlterConfig changes only what it names.
	if err := admin.AlterConfig(sarama.TopicResource, topic, map[string]*string{"retention.ms": str("7200000")}, false); err != nil {
		t.Fatalf("AlterConfig: %v", err)
	}
	got = configs()
	wantConfig(got, "retention.ms", "7200000", true)
	if e := got["max.message.bytes"]; e.Source == sarama.SourceTopic {
		t.Errorf("after AlterConfig without it, max.message.bytes is %+v, want the default", e)
	}
	if err := admin.IncrementalAlterConfig(sarama.TopicResource, topic, map[string]sarama.IncrementalAlterConfigsEntry{
		"segment.ms":   {Operation: sarama.IncrementalAlterConfigsOperationSet, Value: str("600000")},
		"retention.ms": {Operation: sarama.IncrementalAlterConfigsOperationDelete},
	}, false); err != nil {
		t.Fatalf("IncrementalAlterConfig: %v", err)
	}
	got = configs()
	wantConfig(got, "segment.ms", "600000", true)
	wantConfig(got, "retention.ms", "604800000", false)
	if err := admin.AlterConfig(sarama.TopicResource, topic, map[string]*string{"no.such.config": str("1")}, false); err == nil {
		t.Errorf("AlterConfig of an unknown config succeeded")
	}

	// CreatePartitions: 2 → 4; shrinking is refused.
	if err := admin.CreatePartitions(topic, 4, nil, false); err != nil {
		t.Fatalf("CreatePartitions: %v", err)
	}
	describePartitions(4)
	if err := admin.CreatePartitions(topic, 3, nil, false); !isKError(err, sarama.ErrInvalidPartitions) {
		t.Errorf("CreatePartitions to fewer: %v, want %v", err, sarama.ErrInvalidPartitions)
	}

	// DeleteRecords: the log start of partition 3 (a new one) moves to 6 of 10.
	pcfg := saramaConfig(version, rec)
	pcfg.Producer.Partitioner = sarama.NewManualPartitioner
	producer := saramaSyncProducer(t, pcfg, b.Addr())
	for i := range 10 {
		if _, _, err := producer.SendMessage(&sarama.ProducerMessage{Topic: topic, Partition: 3, Value: sarama.StringEncoder(fmt.Sprint(i))}); err != nil {
			t.Fatalf("SendMessage: %v", err)
		}
	}
	if err := admin.DeleteRecords(topic, map[int32]int64{3: 6}); err != nil {
		t.Fatalf("DeleteRecords: %v", err)
	}
	if oldest, err := client.GetOffset(topic, 3, sarama.OffsetOldest); err != nil || oldest != 6 {
		t.Errorf("oldest offset of partition 3 after DeleteRecords: %d %v, want 6", oldest, err)
	}
	if newest, err := client.GetOffset(topic, 3, sarama.OffsetNewest); err != nil || newest != 10 {
		t.Errorf("newest offset of partition 3: %d %v, want 10", newest, err)
	}
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	if msgs := saramaConsume(t, consumer, topic, 3, sarama.OffsetOldest, 4); msgs[0].Offset != 6 || string(msgs[0].Value) != "6" {
		t.Errorf("first record after DeleteRecords: offset %d value %s, want 6", msgs[0].Offset, msgs[0].Value)
	}
	consumer.Close()

	// A group with one member: listed, described, its offsets listed; then deleted.
	gcfg := saramaConfig(version, rec)
	gcfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	gcfg.Consumer.Offsets.AutoCommit.Interval = 100 * time.Millisecond
	gcfg.Consumer.Group.Heartbeat.Interval = 200 * time.Millisecond
	consumed := make(chan consumedBy, 100)
	m := startMember(t, "only", gcfg, b.Addr(), groupID, topic, consumed)
	waitFor(t, 15*time.Second, "the member to read partition 3's four records", func() string {
		if len(consumed) < 4 {
			return fmt.Sprintf("%d read", len(consumed))
		}
		return ""
	})
	groups, err := admin.ListConsumerGroups()
	if err != nil {
		t.Fatalf("ListConsumerGroups: %v", err)
	}
	if groups[groupID] != "consumer" {
		t.Errorf("ListConsumerGroups: %v, want %s with protocol type consumer", groups, groupID)
	}
	descs, err := admin.DescribeConsumerGroups([]string{groupID})
	if err != nil || len(descs) != 1 {
		t.Fatalf("DescribeConsumerGroups: %v %v", descs, err)
	}
	if d := descs[0]; d.Err != sarama.ErrNoError || d.State != "Stable" || len(d.Members) != 1 {
		t.Errorf("DescribeConsumerGroups: %+v", d)
	}
	for id, member := range descs[0].Members {
		if member.ClientId != cfg.ClientID || member.ClientHost == "" {
			t.Errorf("member %s: client id %q host %q", id, member.ClientId, member.ClientHost)
		}
		if assignment, err := member.GetMemberAssignment(); err != nil || len(assignment.Topics[topic]) != 4 {
			t.Errorf("member %s assignment: %+v %v", id, assignment, err)
		}
	}
	m.stop()
	offsets, err := admin.ListConsumerGroupOffsets(groupID, nil) // nil: every partition with an offset
	if err != nil {
		t.Fatalf("ListConsumerGroupOffsets: %v", err)
	}
	if blk := offsets.GetBlock(topic, 3); blk == nil || blk.Offset != 10 {
		t.Errorf("group offset of partition 3: %+v, want 10", blk)
	}
	if err := admin.DeleteConsumerGroup(groupID); err != nil {
		t.Fatalf("DeleteConsumerGroup: %v", err)
	}
	if groups, err := admin.ListConsumerGroups(); err != nil || groups[groupID] != "" {
		t.Errorf("ListConsumerGroups after delete: %v %v", groups, err)
	}

	// DeleteTopic: gone from the topic list; a second delete is refused.
	if err := admin.DeleteTopic(topic); err != nil {
		t.Fatalf("DeleteTopic: %v", err)
	}
	waitFor(t, 5*time.Second, "the topic to be gone", func() string {
		topics, err := admin.ListTopics()
		if err != nil {
			return err.Error()
		}
		if _, ok := topics[topic]; ok {
			return "still listed"
		}
		return ""
	})
	if err := admin.DeleteTopic(topic); !isKError(err, sarama.ErrUnknownTopicOrPartition) {
		t.Errorf("DeleteTopic again: %v, want %v", err, sarama.ErrUnknownTopicOrPartition)
	}
	t.Logf("sarama (Kafka %s) sent: %s", version, rec)
}

// isKError reports whether err is, or wraps, the Kafka error code want. sarama's admin
// wraps codes in *TopicError or *TopicPartitionError.
func isKError(err error, want sarama.KError) bool {
	switch e := err.(type) {
	case sarama.KError:
		return e == want
	case *sarama.TopicError:
		return e.Err == want
	case *sarama.TopicPartitionError:
		return e.Err == want
	}
	return false
}
