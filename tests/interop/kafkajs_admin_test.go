package interop

// KafkaJS's admin client against Nagare: CreateTopics, Metadata, DescribeConfigs,
// CreatePartitions, ListGroups, DescribeGroups, OffsetFetch and DeleteTopics, each
// answer checked against what franz-go's kadm sees.

import (
	"fmt"
	"slices"
	"testing"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// kafkajsAdmin is what testdata/kafkajs/admin.js prints.
type kafkajsAdmin struct {
	Created      bool              `json:"created"`
	CreatedAgain bool              `json:"createdAgain"`
	Metadata     []kafkajsMetadata `json:"metadata"`
	Grown        []kafkajsMetadata `json:"grown"`
	Configs      []struct {
		Name      string `json:"name"`
		ErrorCode int16  `json:"errorCode"`
		Entries   []struct {
			Name      string  `json:"name"`
			Value     *string `json:"value"`
			IsDefault bool    `json:"isDefault"`
			ReadOnly  bool    `json:"readOnly"`
		} `json:"entries"`
	} `json:"configs"`
	Listed    []kafkajsListedGroup `json:"listed"`
	Described []struct {
		GroupID      string `json:"groupId"`
		ErrorCode    int16  `json:"errorCode"`
		State        string `json:"state"`
		ProtocolType string `json:"protocolType"`
		Protocol     string `json:"protocol"`
		Members      []struct {
			ClientID   string             `json:"clientId"`
			Assignment map[string][]int32 `json:"assignment"`
		} `json:"members"`
	} `json:"described"`
	Offsets []struct {
		Topic      string `json:"topic"`
		Partitions []struct {
			Partition int32 `json:"partition"`
			Offset    int64 `json:"offset"`
		} `json:"partitions"`
	} `json:"offsets"`
	TopicsAfterDelete []string `json:"topicsAfterDelete"`
}

type kafkajsListedGroup struct {
	GroupID      string `json:"groupId"`
	ProtocolType string `json:"protocolType"`
}

type kafkajsMetadata struct {
	Name       string `json:"name"`
	Partitions []struct {
		Partition int32   `json:"partition"`
		ErrorCode int16   `json:"errorCode"`
		Leader    int32   `json:"leader"`
		Replicas  []int32 `json:"replicas"`
		ISR       []int32 `json:"isr"`
	} `json:"partitions"`
}

func TestKafkaJSAdmin(t *testing.T) {
	requireKafkaJS(t)
	b := brokertest.Start(t, brokertest.WithProperties(map[string]string{"group.initial.rebalance.delay.ms": "0"}))
	const topic, doomed, group = "kjs-admin", "kjs-doomed", "kjs-admin-group"
	createTopic(t, b, doomed, 1)
	var res kafkajsAdmin
	runKafkaJS(t, &res, "admin.js", b.Addr(), topic, doomed, group)

	if !res.Created || res.CreatedAgain {
		t.Errorf("createTopics returned %v, then %v for the same topic; want true then false", res.Created, res.CreatedAgain)
	}

	// Metadata before and after CreatePartitions, against kadm's view now.
	ctx := testContext(t)
	topics, err := b.Admin().ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	detail, ok := topics[topic]
	if !ok || detail.Err != nil {
		t.Fatalf("kadm does not see %s: %v", topic, detail.Err)
	}
	if len(detail.Partitions) != 4 {
		t.Errorf("kadm sees %d partitions of %s, want 4 after createPartitions", len(detail.Partitions), topic)
	}
	for _, c := range []struct {
		name string
		md   []kafkajsMetadata
		want int
	}{{"fetchTopicMetadata after createTopics", res.Metadata, 2}, {"fetchTopicMetadata after createPartitions", res.Grown, 4}} {
		if len(c.md) != 1 || c.md[0].Name != topic || len(c.md[0].Partitions) != c.want {
			t.Errorf("%s: %+v, want %s with %d partitions", c.name, c.md, topic, c.want)
			continue
		}
		for _, p := range c.md[0].Partitions {
			k := detail.Partitions[p.Partition]
			if p.ErrorCode != 0 || p.Leader != k.Leader || !slices.Equal(p.Replicas, k.Replicas) || !slices.Equal(p.ISR, k.ISR) {
				t.Errorf("%s: partition %+v, kadm sees leader %d replicas %v isr %v", c.name, p, k.Leader, k.Replicas, k.ISR)
			}
		}
	}

	// DescribeConfigs: the retention.ms createTopics set, and a default, as kadm reads them.
	rcs, err := b.Admin().DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil {
		t.Fatal(err)
	}
	kadmValue := map[string]string{}
	for _, c := range rc.Configs {
		kadmValue[c.Key] = c.MaybeValue()
	}
	if kadmValue["retention.ms"] != "3600000" {
		t.Errorf("kadm reads retention.ms=%q, want the 3600000 KafkaJS created %s with", kadmValue["retention.ms"], topic)
	}
	if len(res.Configs) != 1 || res.Configs[0].Name != topic || res.Configs[0].ErrorCode != 0 || len(res.Configs[0].Entries) != 2 {
		t.Fatalf("describeConfigs: %+v, want cleanup.policy and retention.ms of %s", res.Configs, topic)
	}
	for _, e := range res.Configs[0].Entries {
		wantDefault := e.Name != "retention.ms"
		if e.Value == nil || *e.Value != kadmValue[e.Name] || e.IsDefault != wantDefault || e.ReadOnly {
			t.Errorf("describeConfigs: %s=%v default=%v readOnly=%v, want %q default=%v (kadm's value) and writable",
				e.Name, deref(e.Value), e.IsDefault, e.ReadOnly, kadmValue[e.Name], wantDefault)
		}
	}

	// ListGroups and DescribeGroups while the member held all four partitions.
	if !slices.ContainsFunc(res.Listed, func(g kafkajsListedGroup) bool {
		return g.GroupID == group && g.ProtocolType == "consumer"
	}) {
		t.Errorf("listGroups %+v lacks %s (consumer)", res.Listed, group)
	}
	if len(res.Described) != 1 {
		t.Fatalf("describeGroups: %+v, want one group", res.Described)
	}
	d := res.Described[0]
	if d.GroupID != group || d.ErrorCode != 0 || d.State != "Stable" || d.ProtocolType != "consumer" || d.Protocol == "" ||
		len(d.Members) != 1 || d.Members[0].ClientID != "kafkajs-admin" ||
		fmt.Sprint(d.Members[0].Assignment) != fmt.Sprint(map[string][]int32{topic: {0, 1, 2, 3}}) {
		t.Errorf("describeGroups: %+v, want %s Stable with one kafkajs-admin member assigned %s 0-3", d, group, topic)
	}

	// OffsetFetch: what the member committed, as kadm fetches it.
	want := map[int32]int64{0: 1, 1: 1, 2: 1, 3: 1}
	got := map[int32]int64{}
	for _, o := range res.Offsets {
		for _, p := range o.Partitions {
			if o.Topic == topic {
				got[p.Partition] = p.Offset
			}
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("fetchOffsets: %+v, want %v", res.Offsets, want)
	}
	wantCommitted(t, b, group, topic, want)

	// DeleteTopics.
	if slices.Contains(res.TopicsAfterDelete, doomed) || !slices.Contains(res.TopicsAfterDelete, topic) {
		t.Errorf("listTopics after deleteTopics([%s]): %v", doomed, res.TopicsAfterDelete)
	}
	if topics, err := b.Admin().ListTopics(testContext(t)); err != nil || topics.Has(doomed) {
		t.Errorf("kadm still lists %s after KafkaJS deleted it (%v)", doomed, err)
	}
}
