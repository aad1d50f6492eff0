package broker_test

// Admin APIs against a real broker: DeleteTopics, CreatePartitions, DeleteRecords,
// DescribeCluster, DescribeConfigs, AlterConfigs and IncrementalAlterConfigs. Brokers are
// shared by subtests to keep the start-up cost (a raft election each) down; each subtest
// uses its own topics.

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

func TestAdminTopics(t *testing.T) {
	b := brokertest.Start(t)
	adm := b.Admin()

	t.Run("delete by name then re-create starts empty", func(t *testing.T) {
		ctx := testContext(t)
		createTopic(t, adm, "life", 2, nil)
		adminProduce(t, b, "life", 5)
		adminWantErr(t, "delete", adminDeleteTopic(t, adm, "life"), nil)
		if topics, _ := adm.ListTopics(ctx, "life"); topics.Has("life") && topics["life"].Err == nil {
			t.Fatal("deleted topic still listed")
		}
		createTopic(t, adm, "life", 2, nil)
		if total := adminEndOffsetSum(t, adm, "life"); total != 0 {
			t.Fatalf("re-created topic has end offsets summing to %d, want 0", total)
		}
	})

	t.Run("delete by ID", func(t *testing.T) {
		ctx := testContext(t)
		createTopic(t, adm, "byid", 1, nil)
		topics, err := adm.ListTopics(ctx, "byid")
		if err != nil {
			t.Fatal(err)
		}
		id := topics["byid"].ID
		for i, want := range []*kerr.Error{nil, kerr.UnknownTopicID} {
			req := kmsg.NewPtrDeleteTopicsRequest()
			rt := kmsg.NewDeleteTopicsRequestTopic()
			rt.TopicID = id
			req.Topics = append(req.Topics, rt)
			resp, err := req.RequestWith(ctx, b.Client())
			if err != nil {
				t.Fatal(err)
			}
			got := resp.Topics[0]
			adminWantErr(t, "delete by ID #"+strconv.Itoa(i), kerr.ErrorForCode(got.ErrorCode), want)
			if want == nil && (got.Topic == nil || *got.Topic != "byid") {
				t.Fatalf("delete by ID names topic %v, want byid", got.Topic)
			}
		}
	})

	t.Run("delete unknown and internal topics", func(t *testing.T) {
		adminWantErr(t, "delete unknown", adminDeleteTopic(t, adm, "never-created"), kerr.UnknownTopicOrPartition)
		createTopic(t, adm, "__consumer_offsets", 1, nil)
		adminWantErr(t, "delete internal", adminDeleteTopic(t, adm, "__consumer_offsets"), kerr.InvalidTopicException)
	})

	// A hostile CreateTopics asking for a million partitions held the broker for minutes
	// (FuzzRequests); Kafka refuses more than 10,000 in one request, counting them over
	// all its topics, and so does Nagare, answering at once.
	t.Run("create topics refuses an excessive number of partitions per request", func(t *testing.T) {
		ctx := testContext(t)
		for _, counts := range [][]int32{{1 << 20}, {6000, 6000}} {
			req := kmsg.NewPtrCreateTopicsRequest()
			for i, n := range counts {
				rt := kmsg.NewCreateTopicsRequestTopic()
				rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "excessive-"+strconv.Itoa(i), n, 1
				req.Topics = append(req.Topics, rt)
			}
			start := time.Now()
			resp, err := req.RequestWith(ctx, b.Client())
			if err != nil {
				t.Fatalf("%v partitions: %v", counts, err)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("%v partitions: refused after %v", counts, took)
			}
			for _, rt := range resp.Topics {
				if err := kerr.ErrorForCode(rt.ErrorCode); !errors.Is(err, kerr.PolicyViolation) {
					t.Errorf("%v partitions: %s: %v, want POLICY_VIOLATION", counts, rt.Topic, err)
				}
			}
			topics, err := adm.ListTopics(ctx, "excessive-0")
			if err != nil {
				t.Fatal(err)
			}
			if err := topics["excessive-0"].Err; !errors.Is(err, kerr.UnknownTopicOrPartition) {
				t.Fatalf("%v partitions: listing excessive-0: %v, want UNKNOWN_TOPIC_OR_PARTITION", counts, err)
			}
		}
	})

	t.Run("create partitions refuses an excessive number of partitions per request", func(t *testing.T) {
		ctx := testContext(t)
		createTopic(t, adm, "wide-a", 1, nil)
		createTopic(t, adm, "wide-b", 1, nil)
		// Each within the per-topic bound, together over it: the whole request is refused.
		resp, err := adm.CreatePartitions(ctx, 6000, "wide-a", "wide-b")
		if err != nil {
			t.Fatal(err)
		}
		for _, topic := range []string{"wide-a", "wide-b"} {
			if err := resp[topic].Err; !errors.Is(err, kerr.PolicyViolation) {
				t.Errorf("%s: %v, want POLICY_VIOLATION", topic, err)
			}
			if n := adminPartitionCount(t, adm, topic); n != 1 {
				t.Errorf("%s has %d partitions after the refusal, want 1", topic, n)
			}
		}
	})

	t.Run("create partitions grows, never shrinks", func(t *testing.T) {
		ctx := testContext(t)
		createTopic(t, adm, "grow", 1, nil)
		if resp, err := adm.ValidateCreatePartitions(ctx, 2, "grow"); err != nil || resp["grow"].Err != nil {
			t.Fatalf("validate: %v %v", err, resp["grow"].Err)
		}
		if n := adminPartitionCount(t, adm, "grow"); n != 1 {
			t.Fatalf("validate_only changed the count to %d", n)
		}
		if resp, err := adm.CreatePartitions(ctx, 2, "grow"); err != nil || resp["grow"].Err != nil {
			t.Fatalf("grow: %v %v", err, resp["grow"].Err)
		}
		if n := adminPartitionCount(t, adm, "grow"); n != 3 {
			t.Fatalf("%d partitions after growing, want 3", n)
		}
		r := &kgo.Record{Topic: "grow", Partition: 2, Value: []byte("new")}
		cl := b.Client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce to a new partition: %v", err)
		}
		for _, count := range []int{1, 3} {
			resp, err := adm.UpdatePartitions(ctx, count, "grow")
			if err != nil || !errors.Is(resp["grow"].Err, kerr.InvalidPartitions) {
				t.Fatalf("set count %d: %v %v, want INVALID_PARTITIONS", count, err, resp["grow"].Err)
			}
		}
	})

	t.Run("delete records", func(t *testing.T) {
		ctx := testContext(t)
		createTopic(t, adm, "trim", 1, nil)
		adminProduce(t, b, "trim", 10)
		cases := []struct {
			offset, low int64
			err         *kerr.Error
		}{
			{4, 4, nil},
			{11, -1, kerr.OffsetOutOfRange}, // past the high watermark
			{2, 4, nil},                     // below the start: nothing moves
			{-1, 10, nil},                   // -1: the high watermark
		}
		for _, c := range cases {
			var os kadm.Offsets
			os.Add(kadm.Offset{Topic: "trim", Partition: 0, At: c.offset})
			resp, err := adm.DeleteRecords(ctx, os)
			if err != nil {
				t.Fatal(err)
			}
			got := resp["trim"][0]
			adminWantErr(t, "delete before "+strconv.FormatInt(c.offset, 10), got.Err, c.err)
			if got.LowWatermark != c.low {
				t.Fatalf("delete before %d: low watermark %d, want %d", c.offset, got.LowWatermark, c.low)
			}
		}
		start, err := adm.ListStartOffsets(ctx, "trim")
		if err != nil {
			t.Fatal(err)
		}
		if o, _ := start.Lookup("trim", 0); o.Offset != 10 {
			t.Fatalf("start offset %d after DeleteRecords, want 10", o.Offset)
		}
	})

	t.Run("describe cluster", func(t *testing.T) {
		ctx := testContext(t)
		meta, err := adm.BrokerMetadata(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, ops := range []bool{false, true} {
			req := kmsg.NewPtrDescribeClusterRequest()
			req.IncludeClusterAuthorizedOperations = ops
			resp, err := req.RequestWith(ctx, b.Client())
			if err != nil || resp.ErrorCode != 0 {
				t.Fatalf("describe cluster: %v %v", err, kerr.ErrorForCode(resp.ErrorCode))
			}
			if resp.ClusterID != meta.Cluster || resp.ControllerID != meta.Controller || len(resp.Brokers) != 1 ||
				resp.Brokers[0].NodeID != meta.Brokers[0].NodeID || resp.EndpointType != 1 {
				t.Fatalf("describe cluster = %+v, metadata says %+v", resp, meta)
			}
			unknown := resp.ClusterAuthorizedOperations == math.MinInt32
			if unknown == ops {
				t.Fatalf("authorized operations %d when asked: %v", resp.ClusterAuthorizedOperations, ops)
			}
		}
		req := kmsg.NewPtrDescribeClusterRequest()
		req.EndpointType = 2 // controllers
		resp, err := req.RequestWith(ctx, b.Client())
		if err != nil || resp.ErrorCode != kerr.MismatchedEndpointType.Code {
			t.Fatalf("controllers endpoint: %v %v, want MISMATCHED_ENDPOINT_TYPE", err, kerr.ErrorForCode(resp.ErrorCode))
		}
	})
}

func TestAdminTopicConfigs(t *testing.T) {
	b := brokertest.Start(t)
	adm := b.Admin()

	t.Run("incremental set, validate only, invalid value", func(t *testing.T) {
		ctx := testContext(t)
		createTopic(t, adm, "cfg", 1, nil)
		set := func(value string) kadm.AlterConfig {
			return kadm.AlterConfig{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr(value)}
		}
		resp, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{set("60000")}, "cfg")
		if err != nil || resp[0].Err != nil {
			t.Fatalf("set retention.ms: %v %v", err, resp[0].Err)
		}
		adminWantConfig(t, adm, "cfg", "retention.ms", "60000", kmsg.ConfigSourceDynamicTopicConfig)

		resp, err = adm.ValidateAlterTopicConfigs(ctx, []kadm.AlterConfig{set("1234")}, "cfg")
		if err != nil || resp[0].Err != nil {
			t.Fatalf("validate_only: %v %v", err, resp[0].Err)
		}
		adminWantConfig(t, adm, "cfg", "retention.ms", "60000", kmsg.ConfigSourceDynamicTopicConfig)

		resp, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{set("soon")}, "cfg")
		if err != nil || !errors.Is(resp[0].Err, kerr.InvalidConfig) || !strings.Contains(resp[0].ErrMessage, "retention.ms") {
			t.Fatalf("invalid value: %v %v %q, want INVALID_CONFIG naming retention.ms", err, resp[0].Err, resp[0].ErrMessage)
		}
		adminWantConfig(t, adm, "cfg", "retention.ms", "60000", kmsg.ConfigSourceDynamicTopicConfig)

		del := kadm.AlterConfig{Op: kadm.DeleteConfig, Name: "retention.ms"}
		if resp, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{del}, "cfg"); err != nil || resp[0].Err != nil {
			t.Fatalf("delete retention.ms: %v %v", err, resp[0].Err)
		}
		adminWantConfig(t, adm, "cfg", "retention.ms", "604800000", kmsg.ConfigSourceDefaultConfig)
	})

	t.Run("alter configs replaces the whole set", func(t *testing.T) {
		ctx := testContext(t)
		createTopic(t, adm, "replace", 1, map[string]*string{
			"retention.ms": kadm.StringPtr("60000"), "cleanup.policy": kadm.StringPtr("compact"),
		})
		state := []kadm.AlterConfig{{Name: "segment.ms", Value: kadm.StringPtr("3600000")}}
		resp, err := adm.AlterTopicConfigsState(ctx, state, "replace")
		if err != nil || resp[0].Err != nil {
			t.Fatalf("alter configs: %v %v", err, resp[0].Err)
		}
		adminWantConfig(t, adm, "replace", "segment.ms", "3600000", kmsg.ConfigSourceDynamicTopicConfig)
		adminWantConfig(t, adm, "replace", "retention.ms", "604800000", kmsg.ConfigSourceDefaultConfig)
		adminWantConfig(t, adm, "replace", "cleanup.policy", "delete", kmsg.ConfigSourceDefaultConfig)
	})

	t.Run("unknown topic and filtered describe", func(t *testing.T) {
		ctx := testContext(t)
		rcs, err := adm.DescribeTopicConfigs(ctx, "no-such-topic")
		if err != nil || len(rcs) != 1 || !errors.Is(rcs[0].Err, kerr.UnknownTopicOrPartition) {
			t.Fatalf("describe unknown topic: %v %+v", err, rcs)
		}
		createTopic(t, adm, "docs", 1, nil)
		req := kmsg.NewPtrDescribeConfigsRequest()
		res := kmsg.NewDescribeConfigsRequestResource()
		res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, "docs"
		res.ConfigNames = []string{"retention.ms", "not.a.config"}
		req.Resources = append(req.Resources, res)
		req.IncludeDocumentation = true
		resp, err := req.RequestWith(ctx, b.Client())
		if err != nil {
			t.Fatal(err)
		}
		configs := resp.Resources[0].Configs
		if len(configs) != 1 || configs[0].Name != "retention.ms" || configs[0].ConfigType != kmsg.ConfigTypeLong ||
			configs[0].Documentation == nil || len(configs[0].ConfigSynonyms) != 0 {
			t.Fatalf("filtered describe with documentation = %+v", configs)
		}
	})
}

// TestAdminBrokerConfigs covers static, per-broker dynamic and cluster-default broker
// configs as DescribeConfigs reports them, and dynamic configs surviving a restart.
func TestAdminBrokerConfigs(t *testing.T) {
	b := brokertest.Start(t, brokertest.WithProperties(map[string]string{
		"log.retention.hours": "1", "delete.topic.enable": "false",
	}))
	adm := b.Admin()
	ctx := testContext(t)
	meta, err := adm.BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	node := meta.Brokers[0].NodeID
	createTopic(t, adm, "plain", 1, nil) // no overrides: its values come from the broker
	createTopic(t, adm, "override", 1, map[string]*string{"retention.ms": kadm.StringPtr("5000")})

	t.Run("static broker config and topic synonyms", func(t *testing.T) {
		cfg := adminBrokerConfig(t, adm, node, "log.retention.hours")
		if cfg.Value == nil || *cfg.Value != "1" || cfg.Source != kmsg.ConfigSourceStaticBrokerConfig {
			t.Fatalf("log.retention.hours = %+v, want 1 from STATIC_BROKER_CONFIG", cfg)
		}
		plain := adminWantConfig(t, adm, "plain", "retention.ms", "3600000", kmsg.ConfigSourceStaticBrokerConfig)
		adminWantSynonyms(t, plain, "log.retention.hours=1:STATIC_BROKER_CONFIG", "log.retention.hours=168:DEFAULT_CONFIG")
		over := adminWantConfig(t, adm, "override", "retention.ms", "5000", kmsg.ConfigSourceDynamicTopicConfig)
		adminWantSynonyms(t, over, "retention.ms=5000:DYNAMIC_TOPIC_CONFIG",
			"log.retention.hours=1:STATIC_BROKER_CONFIG", "log.retention.hours=168:DEFAULT_CONFIG")
	})

	t.Run("delete.topic.enable=false refuses deletes", func(t *testing.T) {
		createTopic(t, adm, "kept", 1, nil)
		adminWantErr(t, "delete", adminDeleteTopic(t, adm, "kept"), kerr.TopicDeletionDisabled)
	})

	t.Run("dynamic per-broker and cluster-default configs", func(t *testing.T) {
		ctx := testContext(t)
		set := []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "log.retention.ms", Value: kadm.StringPtr("7200000")}}
		resp, err := adm.AlterBrokerConfigs(ctx, set, node)
		if err != nil || resp[0].Err != nil {
			t.Fatalf("set per-broker log.retention.ms: %v %v", err, resp[0].Err)
		}
		state := []kadm.AlterConfig{{Name: "log.retention.bytes", Value: kadm.StringPtr("1073741824")}}
		resp, err = adm.AlterBrokerConfigsState(ctx, state) // no broker: the cluster default
		if err != nil || resp[0].Err != nil {
			t.Fatalf("set cluster-default log.retention.bytes: %v %v", err, resp[0].Err)
		}
		readOnly := []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "log.retention.hours", Value: kadm.StringPtr("2")}}
		resp, err = adm.AlterBrokerConfigs(ctx, readOnly, node)
		if err != nil || !errors.Is(resp[0].Err, kerr.InvalidConfig) {
			t.Fatalf("set read-only log.retention.hours: %v %v, want INVALID_CONFIG", err, resp[0].Err)
		}
		adminWantDynamicBrokerConfigs(t, adm, node)
	})

	t.Run("another broker's configs are refused", func(t *testing.T) {
		req := kmsg.NewPtrDescribeConfigsRequest()
		res := kmsg.NewDescribeConfigsRequestResource()
		res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeBroker, strconv.Itoa(int(node)+1)
		req.Resources = append(req.Resources, res)
		kresp, err := b.Client().Broker(int(node)).Request(testContext(t), req)
		if err != nil {
			t.Fatal(err)
		}
		if got := kresp.(*kmsg.DescribeConfigsResponse).Resources[0]; got.ErrorCode != kerr.InvalidRequest.Code {
			t.Fatalf("describe another broker: %v, want INVALID_REQUEST", kerr.ErrorForCode(got.ErrorCode))
		}
	})

	t.Run("dynamic configs survive a restart", func(t *testing.T) {
		b.Restart()
		adm := b.Admin()
		cfg := adminBrokerConfig(t, adm, node, "log.retention.ms")
		if cfg.Source != kmsg.ConfigSourceDynamicBrokerConfig {
			t.Fatalf("log.retention.ms after restart has source %v, want DYNAMIC_BROKER_CONFIG", cfg.Source)
		}
		adminWantDynamicBrokerConfigs(t, adm, node)
	})
}

// adminWantDynamicBrokerConfigs checks the configs the dynamic-config subtest set, as this
// broker, the cluster default and a topic without overrides report them.
func adminWantDynamicBrokerConfigs(t *testing.T, adm *kadm.Client, node int32) {
	t.Helper()
	cfg := adminBrokerConfig(t, adm, node, "log.retention.ms")
	if cfg.Value == nil || *cfg.Value != "7200000" || cfg.Source != kmsg.ConfigSourceDynamicBrokerConfig {
		t.Fatalf("log.retention.ms = %+v, want 7200000 from DYNAMIC_BROKER_CONFIG", cfg)
	}
	defaults, err := adm.DescribeBrokerConfigs(testContext(t))
	if err != nil || len(defaults) != 1 || len(defaults[0].Configs) != 1 {
		t.Fatalf("cluster defaults: %v %+v", err, defaults)
	}
	if c := defaults[0].Configs[0]; c.Key != "log.retention.bytes" || c.Source != kmsg.ConfigSourceDynamicDefaultBrokerConfig {
		t.Fatalf("cluster default = %+v, want log.retention.bytes from DYNAMIC_DEFAULT_BROKER_CONFIG", c)
	}
	adminWantConfig(t, adm, "plain", "retention.ms", "7200000", kmsg.ConfigSourceDynamicBrokerConfig)
	adminWantConfig(t, adm, "plain", "retention.bytes", "1073741824", kmsg.ConfigSourceDynamicDefaultBrokerConfig)
}

// adminWantConfig describes one topic config and checks its value and source.
func adminWantConfig(t *testing.T, adm *kadm.Client, topic, name, value string, source kmsg.ConfigSource) kadm.Config {
	t.Helper()
	rcs, err := adm.DescribeTopicConfigs(testContext(t), topic)
	if err != nil || len(rcs) != 1 || rcs[0].Err != nil {
		t.Fatalf("describe %s: %v %+v", topic, err, rcs)
	}
	for _, c := range rcs[0].Configs {
		if c.Key == name {
			if c.Value == nil || *c.Value != value || c.Source != source {
				t.Fatalf("%s %s = %v from %v, want %s from %v", topic, name, c.MaybeValue(), c.Source, value, source)
			}
			return c
		}
	}
	t.Fatalf("%s has no config %s", topic, name)
	return kadm.Config{}
}

// adminWantSynonyms checks a config's synonyms, each written name=value:SOURCE.
func adminWantSynonyms(t *testing.T, c kadm.Config, want ...string) {
	t.Helper()
	var got []string
	for _, s := range c.Synonyms {
		value := "<null>"
		if s.Value != nil {
			value = *s.Value
		}
		got = append(got, s.Key+"="+value+":"+s.Source.String())
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("%s synonyms = %v, want %v", c.Key, got, want)
	}
}

// adminBrokerConfig describes one config of broker node.
func adminBrokerConfig(t *testing.T, adm *kadm.Client, node int32, name string) kadm.Config {
	t.Helper()
	rcs, err := adm.DescribeBrokerConfigs(testContext(t), node)
	if err != nil || len(rcs) != 1 || rcs[0].Err != nil {
		t.Fatalf("describe broker %d: %v %+v", node, err, rcs)
	}
	for _, c := range rcs[0].Configs {
		if c.Key == name {
			return c
		}
	}
	t.Fatalf("broker %d has no config %s", node, name)
	return kadm.Config{}
}

// adminDeleteTopic deletes one topic by name and returns the topic's error.
func adminDeleteTopic(t *testing.T, adm *kadm.Client, topic string) error {
	t.Helper()
	resp, err := adm.DeleteTopics(testContext(t), topic)
	if err != nil {
		t.Fatalf("delete %s: %v", topic, err)
	}
	return resp[topic].Err
}

// adminProduce writes n small records to topic.
func adminProduce(t *testing.T, b *brokertest.Broker, topic string, n int) {
	t.Helper()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Value: []byte(strconv.Itoa(i))}
	}
	if err := b.Client().ProduceSync(testContext(t), recs...).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}

func adminEndOffsetSum(t *testing.T, adm *kadm.Client, topic string) int64 {
	t.Helper()
	offsets, err := adm.ListEndOffsets(testContext(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	offsets.Each(func(o kadm.ListedOffset) { total += o.Offset })
	return total
}

func adminPartitionCount(t *testing.T, adm *kadm.Client, topic string) int {
	t.Helper()
	topics, err := adm.ListTopics(testContext(t), topic)
	if err != nil || topics[topic].Err != nil {
		t.Fatalf("list %s: %v %v", topic, err, topics[topic].Err)
	}
	return len(topics[topic].Partitions)
}

// adminWantErr checks an error against a Kafka error, nil meaning none.
func adminWantErr(t *testing.T, what string, got error, want *kerr.Error) {
	t.Helper()
	if want == nil && got != nil || want != nil && !errors.Is(got, want) {
		t.Fatalf("%s: %v, want %v", what, got, want)
	}
}
