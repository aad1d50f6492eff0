package share_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/brokertest"
	"github.com/nagare-dev/nagare/internal/share"
)

// shareCluster is three brokers with a three-partition, fully replicated
// __share_group_state, so a share-partition's state may live on another broker than
// its data partition's leader.
func shareCluster(t *testing.T, extra map[string]string) []*brokertest.Broker {
	props := map[string]string{
		"share.auto.offset.reset":                          "earliest",
		"group.share.heartbeat.interval.ms":                "200",
		"offsets.topic.num.partitions":                     "1",
		"share.coordinator.state.topic.num.partitions":     "3",
		"share.coordinator.state.topic.replication.factor": "3",
		"share.coordinator.state.topic.min.isr":            "2",
		"broker.heartbeat.interval.ms":                     "100",
		"broker.session.timeout.ms":                        "1500",
	}
	for k, v := range extra {
		props[k] = v
	}
	return brokertest.StartCluster(t, 3, brokertest.WithProperties(props))
}

// produceReplicated creates topic (one partition, three replicas) and writes n records
// in batches of 10 with acks=all.
func produceReplicated(t *testing.T, ctx context.Context, b *brokertest.Broker, topic string, n int) {
	t.Helper()
	if _, err := b.Admin().CreateTopic(ctx, 1, 3, nil, topic); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	cl := b.Client(kgo.DefaultProduceTopic(topic))
	for i := 0; i < n; i += 10 {
		var rs []*kgo.Record
		for j := i; j < min(i+10, n); j++ {
			rs = append(rs, &kgo.Record{Value: fmt.Appendf(nil, "%d", j)})
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
}

// placement is where a topic's partition 0 and a group's state partition are led.
type placement struct {
	topicID     [16]byte
	dataLeader  int32
	stateLeader int32
}

// groupStatedElsewhere creates __share_group_state (a ShareFetch does) and returns a
// group name whose state partition for topic-0 is led by another broker than topic-0.
func groupStatedElsewhere(t *testing.T, ctx context.Context, b *brokertest.Broker, topic string) (string, placement) {
	t.Helper()
	cl := b.Client()
	req := kmsg.NewPtrShareFetchRequest()
	req.GroupID, req.MemberID = kmsg.StringPtr("creates-state-topic"), kmsg.StringPtr("m")
	_, _ = req.RequestWith(ctx, cl) // answers an error; creating the topic is the point
	adm := kadm.NewClient(cl)
	for ctx.Err() == nil {
		md, err := adm.Metadata(ctx, topic, share.StateTopic)
		st, ok := md.Topics[share.StateTopic]
		if err != nil || !ok || st.Err != nil || len(st.Partitions) != 3 || !ledAll(st) || !ledAll(md.Topics[topic]) {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		p := placement{topicID: md.Topics[topic].ID, dataLeader: md.Topics[topic].Partitions[0].Leader}
		for i := range 100 {
			g := fmt.Sprintf("g%d", i)
			n := share.StatePartitionFor(share.Key{Group: g, TopicID: p.topicID}, 3)
			if p.stateLeader = st.Partitions[n].Leader; p.stateLeader != p.dataLeader {
				return g, p
			}
		}
		t.Fatalf("every state partition is led by the data leader %d", p.dataLeader)
	}
	t.Fatal("__share_group_state never got leaders")
	return "", placement{}
}

func ledAll(t kadm.TopicDetail) bool {
	for _, p := range t.Partitions {
		if p.Leader < 0 || p.Err != nil {
			return false
		}
	}
	return len(t.Partitions) > 0
}

// consumeAcking polls with a share consumer until want records are acknowledged (or
// ctx ends), failing on a record in never; it returns the offsets it acknowledged.
func consumeAcking(t *testing.T, ctx context.Context, cl *kgo.Client, want int, never map[int64]bool) map[int64]bool {
	t.Helper()
	got := map[int64]bool{}
	for len(got) < want && ctx.Err() == nil {
		cl.PollRecords(ctx, 10).EachRecord(func(r *kgo.Record) {
			if never[r.Offset] {
				t.Errorf("offset %d was acknowledged before and delivered again", r.Offset)
			}
			r.Ack(kgo.AckAccept)
			got[r.Offset] = true
		})
	}
	if err := cl.FlushAcks(ctx); err != nil {
		t.Fatalf("flush acks: %v", err)
	}
	return got
}

func brokerByID(brokers []*brokertest.Broker, id int32) (leader *brokertest.Broker, other *brokertest.Broker) {
	for i, b := range brokers {
		if int32(i+1) == id {
			leader = b
		} else if other == nil {
			other = b
		}
	}
	return leader, other
}

// TestShareStateOnAnotherBroker: the data partition's leader keeps its share state on
// the leader of the state partition, another broker (WriteShareGroupState and
// ReadShareGroupState); after the data leader restarts, the new leader loads that state
// and acknowledged records are not delivered again.
func TestShareStateOnAnotherBroker(t *testing.T) {
	brokers := shareCluster(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const n = 60
	produceReplicated(t, ctx, brokers[0], "q", n)
	group, p := groupStatedElsewhere(t, ctx, brokers[0], "q")
	t.Logf("group %s: data leader %d, state leader %d", group, p.dataLeader, p.stateLeader)
	leader, other := brokerByID(brokers, p.dataLeader)

	cl := other.Client(kgo.ShareGroup(group), kgo.ConsumeTopics("q"), kgo.ShareMaxRecords(10))
	acked := consumeAcking(t, ctx, cl, 20, nil)
	cl.Close()
	if len(acked) >= n {
		t.Fatalf("acknowledged all %d records before the restart; the test needs some left", len(acked))
	}
	leader.Restart()
	cl2 := other.Client(kgo.ShareGroup(group), kgo.ConsumeTopics("q"), kgo.ShareMaxRecords(10))
	rest := consumeAcking(t, ctx, cl2, n-len(acked), acked)
	if len(rest) != n-len(acked) {
		t.Fatalf("after the restart got %d records, want %d", len(rest), n-len(acked))
	}
}

// acquireRaw acquires up to max records for member (a raw ShareFetch opening its
// session on b, the partition's leader) and never acknowledges them.
func acquireRaw(t *testing.T, ctx context.Context, b *brokertest.Broker, group, topic, member string, topicID [16]byte, max int32) []kmsg.ShareFetchResponseTopicPartitionAcquiredRecord {
	t.Helper()
	raw := b.Client()
	joinRaw(t, ctx, raw, group, topic, member)
	for ctx.Err() == nil {
		req := kmsg.NewPtrShareFetchRequest()
		req.GroupID, req.MemberID = kmsg.StringPtr(group), kmsg.StringPtr(member)
		req.MaxWaitMillis, req.MaxBytes, req.MaxRecords = 500, 1<<20, max
		fetchPartition0(req, topicID)
		resp, err := req.RequestWith(ctx, raw)
		if err == nil && resp.ErrorCode == 0 && len(resp.Topics) == 1 && resp.Topics[0].Partitions[0].ErrorCode == 0 {
			if acq := resp.Topics[0].Partitions[0].AcquiredRecords; len(acq) > 0 {
				return acq
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("raw share fetch acquired nothing")
	return nil
}

// TestShareKillKeepsAcknowledged: the data partition's leader, or the leader of the
// share-partition's state partition, is killed (no controlled shutdown, as kill -9)
// while a member holds acquired records; after the controller fences it and other
// replicas lead, acknowledged records are never delivered again and the in-flight ones
// are delivered (their lock died with the data leader, or expired), none lost.
func TestShareKillKeepsAcknowledged(t *testing.T) {
	for _, victim := range []string{"data leader", "state leader"} {
		t.Run(victim, func(t *testing.T) { testShareKill(t, victim == "data leader") })
	}
}

func testShareKill(t *testing.T, killDataLeader bool) {
	brokers := shareCluster(t, map[string]string{"group.share.record.lock.duration.ms": "3000"})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const n = 60
	produceReplicated(t, ctx, brokers[0], "k", n)
	group, p := groupStatedElsewhere(t, ctx, brokers[0], "k")
	leader, _ := brokerByID(brokers, p.dataLeader) // the second result is another broker
	victimID := p.stateLeader
	if killDataLeader {
		victimID = p.dataLeader
	}
	victim, _ := brokerByID(brokers, victimID)
	if leader == nil || victim == nil {
		t.Fatalf("no broker %d (data leader) or %d (victim) in the cluster", p.dataLeader, victimID)
	}
	var bystander *brokertest.Broker // leads neither
	for i, b := range brokers {
		if id := int32(i + 1); id != p.dataLeader && id != p.stateLeader {
			bystander = b
		}
	}

	cl := bystander.Client(kgo.ShareGroup(group), kgo.ConsumeTopics("k"), kgo.ShareMaxRecords(10))
	acked := consumeAcking(t, ctx, cl, 20, nil)
	cl.Close()
	inFlight := acquireRaw(t, ctx, leader, group, "k", "doomed-member-00000000000000000000", p.topicID, 10)
	t.Logf("acknowledged %d, in flight %+v; killing %d (data leader %d, state leader %d)",
		len(acked), inFlight, victimID, p.dataLeader, p.stateLeader)
	victim.Kill()

	cl2 := bystander.Client(kgo.ShareGroup(group), kgo.ConsumeTopics("k"), kgo.ShareMaxRecords(10))
	rest := consumeAcking(t, ctx, cl2, n-len(acked), acked)
	if len(rest) != n-len(acked) {
		t.Fatalf("after the kill got %d records, want %d", len(rest), n-len(acked))
	}
	for _, r := range inFlight {
		for o := r.FirstOffset; o <= r.LastOffset; o++ {
			if !rest[o] {
				t.Errorf("in-flight offset %d was lost", o)
			}
		}
	}
}
