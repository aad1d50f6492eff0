package broker_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/brokertest"
	"github.com/nagare-dev/nagare/internal/group"
)

// TestClusterServesLeadersOnly runs three brokers as one cluster with a topic of six
// partitions at replication factor 1: each partition lives on one broker and only that
// broker serves it. A producer bootstrapped from one broker and a consumer bootstrapped
// from another move 600 records (franz-go sends each partition to its leader); a
// Produce or Fetch sent to a broker that does not lead the partition gets
// NOT_LEADER_OR_FOLLOWER naming the leader (KIP-951); each data dir holds only its own
// partitions; a consumer group works across the brokers, its coordinator the leader of
// its __consumer_offsets partition.
func TestClusterServesLeadersOnly(t *testing.T) {
	brokers := brokertest.StartCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const topic, partitions, records = "spread", 6, 600

	admin := brokers[0].Admin()
	created, err := admin.CreateTopic(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = created.Err
	}
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	leaders := partitionLeaders(ctx, t, brokers[1].Admin(), topic, partitions)
	t.Logf("leaders by partition: %v", leaders)
	for id := int32(1); id <= 3; id++ {
		if !slices.Contains(leaders, id) {
			t.Errorf("broker %d leads no partition of %d: %v", id, partitions, leaders)
		}
	}

	producer := brokers[0].Client(kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	for i := range records {
		r := &kgo.Record{Key: []byte(fmt.Sprintf("key-%d", i)), Value: []byte(fmt.Sprintf("value-%d", i))}
		producer.Produce(ctx, r, func(r *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce %s: %v", r.Key, err)
			}
		})
	}
	if err := producer.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	consumer := brokers[1].Client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	perPartition := consumeAll(ctx, t, consumer, records)
	for p := range partitions {
		if perPartition[int32(p)] == 0 {
			t.Errorf("partition %d got no records; keys should spread over all", p)
		}
	}

	// Raw requests to a broker that does not lead partition 0.
	leader := leaders[0]
	other := brokers[leader%3] // node ids are 1..3; index leader%3 is another node
	seed := other.Client(kgo.SeedBrokers(other.Addr())).SeedBrokers()[0]
	details, err := admin.ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	produce := kmsg.NewPtrProduceRequest()
	produce.Acks, produce.TimeoutMillis = 1, 5000
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic, pt.TopicID = topic, details[topic].ID // v13 names topics by ID
	pp := kmsg.NewProduceRequestTopicPartition()
	pt.Partitions = append(pt.Partitions, pp) // partition 0; refused before its records are read
	produce.Topics = append(produce.Topics, pt)
	presp, err := produce.RequestWith(ctx, seed)
	if err != nil {
		t.Fatal(err)
	}
	prp := presp.Topics[0].Partitions[0]
	if prp.ErrorCode != kerr.NotLeaderForPartition.Code {
		t.Errorf("produce to a non-leader: %v, want NOT_LEADER_OR_FOLLOWER", kerr.ErrorForCode(prp.ErrorCode))
	}
	if presp.Version >= 10 && (prp.CurrentLeader.LeaderID != leader || len(presp.Brokers) != 1 || presp.Brokers[0].NodeID != leader) {
		t.Errorf("produce v%d: current leader %+v, endpoints %+v; want node %d", presp.Version, prp.CurrentLeader, presp.Brokers, leader)
	}

	fetch := fetchPartition0(topic, details[topic].ID)
	fresp, err := fetch.RequestWith(ctx, seed)
	if err != nil {
		t.Fatal(err)
	}
	frp := fresp.Topics[0].Partitions[0]
	if frp.ErrorCode != kerr.NotLeaderForPartition.Code || len(frp.RecordBatches) != 0 {
		t.Errorf("fetch from a non-leader: %v, %d bytes; want NOT_LEADER_OR_FOLLOWER", kerr.ErrorForCode(frp.ErrorCode), len(frp.RecordBatches))
	}
	if fresp.Version >= 12 && frp.CurrentLeader.LeaderID != leader {
		t.Errorf("fetch v%d: current leader %+v, want node %d", fresp.Version, frp.CurrentLeader, leader)
	}
	if fresp.Version >= 16 && (len(fresp.Brokers) != 1 || fresp.Brokers[0].NodeID != leader) {
		t.Errorf("fetch v%d: node endpoints %+v, want node %d", fresp.Version, fresp.Brokers, leader)
	}

	// Each data dir holds the directories of the partitions its broker leads, no others.
	for i, b := range brokers {
		var got, want []string
		entries, err := os.ReadDir(b.DataDir())
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), topic+"-") {
				got = append(got, e.Name())
			}
		}
		for p, l := range leaders {
			if l == int32(i+1) {
				want = append(want, fmt.Sprintf("%s-%d", topic, p))
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("broker %d data dir: %v, want %v", i+1, got, want)
		}
	}

	checkClusterGroup(ctx, t, brokers, topic, records)
}

// checkClusterGroup consumes topic in a group through the third broker, commits, and
// checks where the group lives: every broker names the same coordinator, the leader of
// the group's __consumer_offsets partition, and the others answer NOT_COORDINATOR.
func checkClusterGroup(ctx context.Context, t *testing.T, brokers []*brokertest.Broker, topic string, records int) {
	t.Helper()
	const groupID = "cluster-group"
	member := brokers[2].Client(kgo.ConsumeTopics(topic), kgo.ConsumerGroup(groupID),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	consumeAll(ctx, t, member, records)
	if err := member.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}

	offsetsLeaders := partitionLeaders(ctx, t, brokers[0].Admin(), group.OffsetsTopic, -1)
	coordinator := offsetsLeaders[group.PartitionFor(groupID, len(offsetsLeaders))]
	for i, b := range brokers {
		seed := b.Client(kgo.SeedBrokers(b.Addr())).SeedBrokers()[0]
		find := kmsg.NewPtrFindCoordinatorRequest()
		find.CoordinatorKey, find.CoordinatorKeys = groupID, []string{groupID}
		resp, err := find.RequestWith(ctx, seed)
		if err != nil {
			t.Fatal(err)
		}
		node, code := resp.NodeID, resp.ErrorCode
		if len(resp.Coordinators) == 1 {
			node, code = resp.Coordinators[0].NodeID, resp.Coordinators[0].ErrorCode
		}
		if code != 0 || node != coordinator {
			t.Errorf("FindCoordinator on broker %d: node %d (%v), want %d", i+1, node, kerr.ErrorForCode(code), coordinator)
		}
		hb := kmsg.NewPtrHeartbeatRequest()
		hb.Group, hb.MemberID, hb.Generation = groupID, "nobody", 1
		hresp, err := hb.RequestWith(ctx, seed)
		if err != nil {
			t.Fatal(err)
		}
		if want := kerr.NotCoordinator.Code; int32(i+1) != coordinator && hresp.ErrorCode != want {
			t.Errorf("Heartbeat on non-coordinator broker %d: %v, want NOT_COORDINATOR", i+1, kerr.ErrorForCode(hresp.ErrorCode))
		}
	}

	committed, err := brokers[1].Admin().FetchOffsets(ctx, groupID)
	if err != nil {
		t.Fatalf("fetch offsets: %v", err)
	}
	var total int64
	committed.Each(func(o kadm.OffsetResponse) {
		if o.Err != nil {
			t.Errorf("offset of %s-%d: %v", o.Topic, o.Partition, o.Err)
		}
		total += o.At
	})
	if total != int64(records) {
		t.Errorf("committed offsets add up to %d, want %d", total, records)
	}
}

// partitionLeaders returns the leader of each partition of topic, from Metadata; with
// want >= 0 it waits until the topic has that many partitions.
func partitionLeaders(ctx context.Context, t *testing.T, admin *kadm.Client, topic string, want int) []int32 {
	t.Helper()
	for {
		md, err := admin.Metadata(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		td := md.Topics[topic]
		if td.Err == nil && (want < 0 || len(td.Partitions) == want) {
			leaders := make([]int32, len(td.Partitions))
			for _, p := range td.Partitions {
				leaders[p.Partition] = p.Leader
			}
			return leaders
		}
		if ctx.Err() != nil {
			t.Fatalf("metadata of %s: %v", topic, td.Err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// consumeAll polls until n records arrived and returns how many came from each partition.
func consumeAll(ctx context.Context, t *testing.T, cl *kgo.Client, n int) map[int32]int {
	t.Helper()
	got := map[int32]int{}
	seen := map[string]bool{}
	for len(seen) < n {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records: %v", len(seen), n, ctx.Err())
		}
		fetches.EachError(func(topic string, p int32, err error) { t.Errorf("fetch %s-%d: %v", topic, p, err) })
		fetches.EachRecord(func(r *kgo.Record) {
			got[r.Partition]++
			seen[string(r.Key)] = true
		})
	}
	return got
}
