package broker_test

// Kafka's replication error codes as a client reads them off the wire, from a
// three-broker cluster. Every request goes straight to one broker as a raw kmsg request,
// so no client retry can hide the code the broker answered.

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// replicaErrorsProps make the cluster's reactions quick: a follower leaves the ISR 500 ms
// after it stops catching up; a broker's heartbeats come every 100 ms. The session lasts
// 2 s, much longer than a produce takes to arrive after a broker is killed, so the killed
// broker is still in the ISR when that produce is appended. No automatic leader rebalance:
// a leadership moved by the test stays where the test put it.
var replicaErrorsProps = map[string]string{
	"default.replication.factor":   "3",
	"replica.lag.time.max.ms":      "500",
	"replica.fetch.backoff.ms":     "100",
	"broker.heartbeat.interval.ms": "100",
	"broker.session.timeout.ms":    "2000",
	"auto.leader.rebalance.enable": "false",
}

// TestReplicaErrors runs its cases in order on one cluster, each on its own topic: the
// first two leave all three brokers running, the last kills one.
func TestReplicaErrors(t *testing.T) {
	brokers := brokertest.StartCluster(t, 3, brokertest.WithProperties(replicaErrorsProps))
	// Torn down as by a crash: with one broker dead, the controlled shutdowns of the other
	// two would wait out the lost quorum for seconds, for a cluster thrown away anyway.
	t.Cleanup(func() {
		for _, b := range brokers {
			b.Kill()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cases := []struct {
		name string
		run  func(context.Context, *testing.T, []*brokertest.Broker)
	}{
		{"DefaultReplicationFactor", checkDefaultReplicationFactor},
		{"FencedLeaderEpoch", checkFencedLeaderEpoch},
		{"NotEnoughReplicas", checkNotEnoughReplicas},
	}
	for _, c := range cases {
		if !t.Run(c.name, func(t *testing.T) { c.run(ctx, t, brokers) }) {
			return // a broken case may leave the cluster unfit for the next
		}
	}
}

// checkDefaultReplicationFactor: CreateTopics with replication factor -1 places
// default.replication.factor (3) replicas per partition; asking for 4 replicas on three
// brokers is INVALID_REPLICATION_FACTOR and creates nothing.
func checkDefaultReplicationFactor(ctx context.Context, t *testing.T, brokers []*brokertest.Broker) {
	seed := askBroker(brokers[1]).seed // forwarded to the controller unless node 2 is it
	create := func(name string, rf int16) kmsg.CreateTopicsResponseTopic {
		t.Helper()
		req := kmsg.NewPtrCreateTopicsRequest()
		req.TimeoutMillis = 10000
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 3, rf
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, seed)
		if err != nil {
			t.Fatalf("CreateTopics %s: %v", name, err)
		}
		return resp.Topics[0]
	}

	got := create("default-rf", -1)
	if got.ErrorCode != 0 || got.ReplicationFactor != 3 || got.NumPartitions != 3 {
		t.Fatalf("CreateTopics with replication factor -1: %v, replication factor %d, %d partitions; want 3 and 3",
			kerr.ErrorForCode(got.ErrorCode), got.ReplicationFactor, got.NumPartitions)
	}
	waitView(ctx, t, askBroker(brokers[0]), 10*time.Second, "three replicas on three brokers per partition", func(v clusterView) bool {
		parts := v.partitions["default-rf"]
		for _, p := range parts {
			if len(p.Replicas) != 3 || len(slices.Compact(slices.Sorted(slices.Values(p.Replicas)))) != 3 {
				return false
			}
		}
		return len(parts) == 3
	}, "default-rf")

	if got := create("rf-4", 4); got.ErrorCode != kerr.InvalidReplicationFactor.Code {
		t.Fatalf("CreateTopics with replication factor 4 on 3 brokers: %v, want INVALID_REPLICATION_FACTOR", kerr.ErrorForCode(got.ErrorCode))
	}
	if v, err := viewCluster(ctx, askBroker(brokers[0]), "rf-4"); err != nil || v.partitions["rf-4"] != nil {
		t.Fatalf("the refused topic exists: %+v (%v)", v.partitions["rf-4"], err)
	}
}

// checkFencedLeaderEpoch: once a controlled shutdown has moved the leadership (a new,
// higher leader epoch), Fetch, ListOffsets and OffsetForLeaderEpoch carrying the old epoch
// as current_leader_epoch are FENCED_LEADER_EPOCH, at the new leader and at the old one
// back as a follower; one above the new epoch is UNKNOWN_LEADER_EPOCH; the new epoch
// itself is served. A consumer with stale metadata must not be served by, or be told
// "not leader" by, a replica that knows better: the fenced code makes it refresh first.
func checkFencedLeaderEpoch(ctx context.Context, t *testing.T, brokers []*brokertest.Broker) {
	const topic = "fenced"
	createClusterTopic(ctx, t, brokers[0].Admin(), topic, 1, 3)
	oldLeader := leaderIndex(t, brokers, topic)
	p, _ := brokers[oldLeader].Partitions().Get(topic, 0)
	id, old := p.TopicID(), p.LeaderEpoch()
	brokers[oldLeader].Stop()
	newLeader := leaderIndex(t, brokers, topic)
	p, _ = brokers[newLeader].Partitions().Get(topic, 0)
	current := p.LeaderEpoch()
	if current <= old {
		t.Fatalf("leader epoch %d after the leadership moved from node %d to node %d, was %d", current, oldLeader+1, newLeader+1, old)
	}
	t.Logf("leadership moved from node %d (epoch %d) to node %d (epoch %d)", oldLeader+1, old, newLeader+1, current)

	leader := askBroker(brokers[newLeader]).seed
	for _, c := range []struct {
		epoch int32
		want  *kerr.Error
	}{{old, kerr.FencedLeaderEpoch}, {current + 1, kerr.UnknownLeaderEpoch}, {current, nil}} {
		want := int16(0)
		if c.want != nil {
			want = c.want.Code
		}
		for api, code := range epochCodes(ctx, t, leader, topic, id, c.epoch) {
			if code != want {
				t.Errorf("%s to the leader at epoch %d with current_leader_epoch %d: %v, want %v",
					api, current, c.epoch, kerr.ErrorForCode(code), kerr.ErrorForCode(want))
			}
		}
	}

	// The old leader, back as a follower of the new epoch, fences the old epoch too.
	brokers[oldLeader].Restart()
	waitView(ctx, t, askBroker(brokers[newLeader]), 10*time.Second, "the old leader back in the ISR", func(v clusterView) bool {
		return len(v.brokers) == 3 && len(v.partitions[topic][0].ISR) == 3
	}, topic)
	rp, _ := brokers[oldLeader].Partitions().Get(topic, 0)
	if rp.LeaderEpoch() != current || rp.IsLeader() {
		t.Fatalf("restarted old leader: epoch %d, leading %v; want a follower at epoch %d", rp.LeaderEpoch(), rp.IsLeader(), current)
	}
	for api, code := range epochCodes(ctx, t, askBroker(brokers[oldLeader]).seed, topic, id, old) {
		if code != kerr.FencedLeaderEpoch.Code {
			t.Errorf("%s to the old leader with its old epoch %d: %v, want FENCED_LEADER_EPOCH", api, old, kerr.ErrorForCode(code))
		}
	}
	// The next case places a topic on all three brokers: every broker must see all three
	// unfenced, whichever the controller is.
	for _, b := range brokers {
		waitView(ctx, t, askBroker(b), 10*time.Second, "three brokers listed", func(v clusterView) bool { return len(v.brokers) == 3 })
	}
}

// epochCodes sends Fetch, ListOffsets and OffsetForLeaderEpoch for partition 0 of topic
// to one broker, each with current_leader_epoch epoch, and returns their partition codes.
func epochCodes(ctx context.Context, t *testing.T, to *kgo.Broker, topic string, id [16]byte, epoch int32) map[string]int16 {
	t.Helper()
	codes := map[string]int16{}

	fetch := fetchPartition0(topic, id)
	fetch.Topics[0].Partitions[0].CurrentLeaderEpoch = epoch
	if resp, err := fetch.RequestWith(ctx, to); err != nil || resp.ErrorCode != 0 {
		t.Fatalf("Fetch: %v (top-level %v)", err, resp)
	} else {
		codes["Fetch"] = resp.Topics[0].Partitions[0].ErrorCode
	}

	list := kmsg.NewPtrListOffsetsRequest()
	list.ReplicaID = -1
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = topic
	lp := kmsg.NewListOffsetsRequestTopicPartition()
	lp.CurrentLeaderEpoch, lp.Timestamp = epoch, -1
	lt.Partitions = append(lt.Partitions, lp)
	list.Topics = append(list.Topics, lt)
	if resp, err := list.RequestWith(ctx, to); err != nil {
		t.Fatalf("ListOffsets: %v", err)
	} else {
		codes["ListOffsets"] = resp.Topics[0].Partitions[0].ErrorCode
	}

	ofle := kmsg.NewPtrOffsetForLeaderEpochRequest()
	ofle.ReplicaID = -1
	ot := kmsg.NewOffsetForLeaderEpochRequestTopic()
	ot.Topic = topic
	op := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
	op.CurrentLeaderEpoch, op.LeaderEpoch = epoch, 0
	ot.Partitions = append(ot.Partitions, op)
	ofle.Topics = append(ofle.Topics, ot)
	if resp, err := ofle.RequestWith(ctx, to); err != nil {
		t.Fatalf("OffsetForLeaderEpoch: %v", err)
	} else {
		codes["OffsetForLeaderEpoch"] = resp.Topics[0].Partitions[0].ErrorCode
	}
	return codes
}

// checkNotEnoughReplicas, on a topic with replication factor 3 and min.insync.replicas=3:
//
//   - A follower is killed (no controlled shutdown, so it stays in the ISR until it lags).
//     An acks=all produce passes the min.insync.replicas check, is appended, and waits for
//     the killed follower. 500 ms on, the leader drops it from the ISR; the high watermark
//     then passes the batch over the two left, which are fewer than min.insync.replicas:
//     NOT_ENOUGH_REPLICAS_AFTER_APPEND (Kafka's DelayedProduce). The batch is in the log
//     and committed all the same: the code says the durability asked for was not had.
//   - With that ISR of two, the next acks=all produce is NOT_ENOUGH_REPLICAS and nothing
//     is appended; an acks=1 produce is still appended and answered.
//
// Deterministic: before the append the killed follower has everything the leader has, so
// lag cannot drop it, and its session (2 s) outlasts the produce's trip by far.
func checkNotEnoughReplicas(ctx context.Context, t *testing.T, brokers []*brokertest.Broker) {
	const topic = "min-isr-3"
	minISR := "3"
	created, err := brokers[0].Admin().CreateTopic(ctx, 1, 3, map[string]*string{"min.insync.replicas": &minISR}, topic)
	if err == nil {
		err = created.Err
	}
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	leader := leaderIndex(t, brokers, topic)
	part, _ := brokers[leader].Partitions().Get(topic, 0)
	id := part.TopicID()
	// kgo sends a raw ProduceRequest with its client's acks, whatever the request says:
	// one client of the leader per acks setting.
	seeds := map[int16]*kgo.Broker{}
	for acks, opt := range map[int16]kgo.Acks{-1: kgo.AllISRAcks(), 1: kgo.LeaderAck()} {
		cl := brokers[leader].Client(kgo.RequiredAcks(opt), kgo.DisableIdempotentWrite())
		seeds[acks] = cl.SeedBrokers()[0]
	}
	produce := func(acks int16) kmsg.ProduceResponseTopicPartition {
		t.Helper()
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis = acks, 10000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic, rt.TopicID = topic, id
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = recordBatch("v")
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, seeds[acks])
		if err != nil {
			t.Fatalf("produce acks=%d: %v", acks, err)
		}
		return resp.Topics[0].Partitions[0]
	}

	// A first acks=all produce makes both followers fetch in this leadership: one that
	// never had would leave the ISR for that alone, before any append.
	if rp := produce(-1); rp.ErrorCode != 0 {
		t.Fatalf("acks=all produce with three in sync: %v", kerr.ErrorForCode(rp.ErrorCode))
	}
	waitReplicasEqual(t, brokers, topic, 3)
	// Kill a follower that is not the active controller: a controller failover would only
	// slow the ISR change down.
	controller := brokers[leader].MetadataStore().ControllerID()
	victim := (leader + 1) % 3
	if int32(victim+1) == controller {
		victim = (leader + 2) % 3
	}
	brokers[victim].Kill()

	end := part.Log().LogEndOffset()
	start := time.Now()
	rp := produce(-1)
	t.Logf("acks=all produce answered %v after %v (node %d killed, leader node %d)",
		kerr.ErrorForCode(rp.ErrorCode), time.Since(start).Round(time.Millisecond), victim+1, leader+1)
	if rp.ErrorCode != kerr.NotEnoughReplicasAfterAppend.Code {
		t.Fatalf("acks=all produce while the ISR shrank below min.insync.replicas: %v, want NOT_ENOUGH_REPLICAS_AFTER_APPEND",
			kerr.ErrorForCode(rp.ErrorCode))
	}
	if rp.BaseOffset != end || part.Log().HighWatermark() <= end {
		t.Errorf("batch at offset %d (log end was %d), high watermark %d: want it appended and committed",
			rp.BaseOffset, end, part.Log().HighWatermark())
	}
	if isr := part.ISR(); len(isr) != 2 || slices.Contains(isr, int32(victim+1)) {
		t.Fatalf("ISR %v, want the two live brokers", isr)
	}

	end = part.Log().LogEndOffset()
	if rp := produce(-1); rp.ErrorCode != kerr.NotEnoughReplicas.Code {
		t.Errorf("acks=all produce with 2 in sync, min.insync.replicas=3: %v, want NOT_ENOUGH_REPLICAS", kerr.ErrorForCode(rp.ErrorCode))
	}
	if got := part.Log().LogEndOffset(); got != end {
		t.Errorf("log end %d after a refused acks=all produce, was %d", got, end)
	}
	if rp := produce(1); rp.ErrorCode != 0 || rp.BaseOffset != end {
		t.Errorf("acks=1 produce with 2 in sync: %v at offset %d, want success at %d", kerr.ErrorForCode(rp.ErrorCode), rp.BaseOffset, end)
	}
}
