package broker_test

// DescribeQuorum (key 55) against real brokers: the leader it names is the controller
// DescribeCluster names, the voters are the configured ones, the high watermark moves
// with the metadata log, and the leader learns the others' progress from their
// heartbeats.

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

// describeQuorumRequest asks for the one partition Kafka's raft client describes.
func describeQuorumRequest() *kmsg.DescribeQuorumRequest {
	req := kmsg.NewPtrDescribeQuorumRequest()
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = "__cluster_metadata"
	rp := kmsg.NewDescribeQuorumRequestTopicPartition()
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// describeQuorum sends DescribeQuorum through cl (franz-go sends it to the controller
// Metadata names) and returns the quorum partition, failing on any error.
func describeQuorum(ctx context.Context, t *testing.T, cl *kgo.Client) (*kmsg.DescribeQuorumResponse, kmsg.DescribeQuorumResponseTopicPartition) {
	t.Helper()
	resp, err := describeQuorumRequest().RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("describe quorum: %v", err)
	}
	return resp, quorumPartitionOf(t, resp)
}

func quorumPartitionOf(t *testing.T, resp *kmsg.DescribeQuorumResponse) kmsg.DescribeQuorumResponseTopicPartition {
	t.Helper()
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		t.Fatalf("describe quorum: %v", err)
	}
	if len(resp.Topics) != 1 || resp.Topics[0].Topic != "__cluster_metadata" || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("describe quorum topics: %+v", resp.Topics)
	}
	p := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil || p.Partition != 0 {
		t.Fatalf("describe quorum partition %d: %v", p.Partition, err)
	}
	return p
}

func replicaIDs(states []kmsg.DescribeQuorumResponseTopicPartitionReplicaState) []int32 {
	var ids []int32
	for _, s := range states {
		ids = append(ids, s.ReplicaID)
	}
	slices.Sort(ids)
	return ids
}

// describedController is the controller DescribeCluster names.
func describedController(ctx context.Context, t *testing.T, cl *kgo.Client) int32 {
	t.Helper()
	resp, err := kmsg.NewPtrDescribeClusterRequest().RequestWith(ctx, cl)
	if err != nil || resp.ErrorCode != 0 {
		t.Fatalf("describe cluster: %v %v", err, kerr.ErrorForCode(resp.ErrorCode))
	}
	return resp.ControllerID
}

func TestDescribeQuorumCluster(t *testing.T) {
	brokers := brokertest.StartCluster(t, 3, brokertest.WithProperties(map[string]string{
		"broker.heartbeat.interval.ms": "100",
	}))
	ctx := testContext(t)
	cl := brokers[0].Client()
	controller := describedController(ctx, t, cl)

	resp, p := describeQuorum(ctx, t, cl)
	if p.LeaderID != controller || p.LeaderEpoch <= 0 || p.HighWatermark <= 0 {
		t.Fatalf("leader %d epoch %d high watermark %d, want leader %d (DescribeCluster's controller), positive epoch and high watermark",
			p.LeaderID, p.LeaderEpoch, p.HighWatermark, controller)
	}
	if ids := replicaIDs(p.CurrentVoters); !slices.Equal(ids, []int32{1, 2, 3}) || len(p.Observers) != 0 {
		t.Fatalf("voters %v observers %v, want voters [1 2 3] and none", ids, replicaIDs(p.Observers))
	}
	checkQuorumNodes(t, resp)

	// Every voter heartbeats to the leader, which then knows its applied index.
	waitQuorum(ctx, t, cl, "every voter's progress known to the leader", func(p kmsg.DescribeQuorumResponseTopicPartition) bool {
		for _, v := range p.CurrentVoters {
			if v.LogEndOffset <= 0 || v.LastFetchTimestamp <= 0 || v.LastCaughtUpTimestamp <= 0 {
				return false
			}
		}
		return true
	})

	before := p.HighWatermark
	if resp, err := brokers[0].Admin().CreateTopic(ctx, 1, 3, nil, "quorum-moves"); err != nil || resp.Err != nil {
		t.Fatalf("create topic: %v %v", err, resp.Err)
	}
	if _, p := describeQuorum(ctx, t, cl); p.HighWatermark <= before {
		t.Fatalf("high watermark %d after a topic creation, was %d", p.HighWatermark, before)
	}

	// A node that does not lead forwards to the leader, as Kafka's brokers forward to the
	// active controller: asked directly, by a client that knows only that node, it reports
	// every voter's progress, not just its own.
	follower := int32(1)
	if controller == 1 {
		follower = 2
	}
	fp := describeQuorumAt(ctx, t, brokers[follower-1])
	if fp.LeaderID != controller || !slices.Equal(replicaIDs(fp.CurrentVoters), []int32{1, 2, 3}) {
		t.Fatalf("node %d: leader %d voters %v", follower, fp.LeaderID, replicaIDs(fp.CurrentVoters))
	}
	for _, v := range fp.CurrentVoters {
		if v.LogEndOffset <= 0 || v.LastFetchTimestamp <= 0 || v.LastCaughtUpTimestamp <= 0 {
			t.Errorf("node %d reports voter %d with log end offset %d, last fetch %d, last caught up %d, want the leader's view of every voter",
				follower, v.ReplicaID, v.LogEndOffset, v.LastFetchTimestamp, v.LastCaughtUpTimestamp)
		}
	}
	if fp.HighWatermark < p.HighWatermark {
		t.Errorf("node %d reports high watermark %d, the leader had %d", follower, fp.HighWatermark, p.HighWatermark)
	}
}

// describeQuorumAt sends DescribeQuorum to b itself: through the seed broker of a client
// that knows only b's address (franz-go would send it to the controller Metadata names).
func describeQuorumAt(ctx context.Context, t *testing.T, b *brokertest.Broker) kmsg.DescribeQuorumResponseTopicPartition {
	t.Helper()
	seeds := b.Client().SeedBrokers()
	if len(seeds) != 1 {
		t.Fatalf("%d seed brokers, want 1", len(seeds))
	}
	resp, err := seeds[0].Request(ctx, describeQuorumRequest())
	if err != nil {
		t.Fatalf("describe quorum at %s: %v", b.Addr(), err)
	}
	return quorumPartitionOf(t, resp.(*kmsg.DescribeQuorumResponse))
}

// checkQuorumNodes: v2 lists every voter with its CONTROLLER endpoint.
func checkQuorumNodes(t *testing.T, resp *kmsg.DescribeQuorumResponse) {
	t.Helper()
	if resp.Version < 2 {
		t.Fatalf("answered at v%d, want v2", resp.Version)
	}
	ports := map[uint16]bool{}
	for _, n := range resp.Nodes {
		if len(n.Listeners) != 1 || n.Listeners[0].Name != "CONTROLLER" || n.Listeners[0].Host != "127.0.0.1" || n.Listeners[0].Port == 0 {
			t.Errorf("node %d listeners %+v", n.NodeID, n.Listeners)
			continue
		}
		ports[n.Listeners[0].Port] = true
	}
	if len(resp.Nodes) != 3 || len(ports) != 3 {
		t.Errorf("nodes %+v, want the 3 voters with distinct CONTROLLER ports", resp.Nodes)
	}
}

// waitQuorum asks for the quorum until ok accepts it, for up to 10 s.
func waitQuorum(ctx context.Context, t *testing.T, cl *kgo.Client, what string, ok func(kmsg.DescribeQuorumResponseTopicPartition) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, p := describeQuorum(ctx, t, cl)
		if ok(p) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %+v", what, p)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDescribeQuorumSingleNode: a node without cluster settings is a quorum of itself.
func TestDescribeQuorumSingleNode(t *testing.T) {
	b := brokertest.Start(t)
	ctx := testContext(t)
	cl := b.Client()
	controller := describedController(ctx, t, cl)
	resp, p := describeQuorum(ctx, t, cl)
	if p.LeaderID != controller || p.HighWatermark <= 0 || len(p.CurrentVoters) != 1 || p.CurrentVoters[0].ReplicaID != controller {
		t.Fatalf("quorum %+v, want node %d its only voter and leader", p, controller)
	}
	if v := p.CurrentVoters[0]; v.LogEndOffset < p.HighWatermark || v.LastFetchTimestamp <= 0 {
		t.Errorf("the leader's own state %+v, want its log end at or past the high watermark %d", v, p.HighWatermark)
	}
	if len(resp.Nodes) != 1 {
		t.Errorf("nodes %+v, want the one voter", resp.Nodes)
	}

	// Only __cluster_metadata partition 0 is described.
	req := describeQuorumRequest()
	req.Topics[0].Partitions[0].Partition = 1
	other, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(other.Topics) != 1 || len(other.Topics[0].Partitions) != 1 ||
		other.Topics[0].Partitions[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("partition 1: %+v, want UNKNOWN_TOPIC_OR_PARTITION", other.Topics)
	}
}

// TestDescribeQuorumAuthorization: DescribeQuorum needs DESCRIBE on the cluster.
func TestDescribeQuorumAuthorization(t *testing.T) {
	b := brokertest.Start(t, brokertest.WithProperties(map[string]string{"authorizer.class.name": standardAuthorizer}))
	resp, err := describeQuorumRequest().RequestWith(testContext(t), b.Client())
	if err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != kerr.ClusterAuthorizationFailed.Code || len(resp.Topics) != 0 {
		t.Fatalf("without DESCRIBE on the cluster: %v, topics %+v", kerr.ErrorForCode(resp.ErrorCode), resp.Topics)
	}
}

// TestDescribeQuorumDedicatedController: with a dedicated controller, clients can reach
// only the broker, which is not in the raft leader's seat; its answer is the controller's
// view, so the controller's own log end and the broker's progress are both known.
func TestDescribeQuorumDedicatedController(t *testing.T) {
	brokers := brokertest.StartCluster(t, 2, brokertest.WithControllers(1), brokertest.WithProperties(map[string]string{
		"broker.heartbeat.interval.ms": "100",
	}))
	ctx := testContext(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		p := describeQuorumAt(ctx, t, brokers[1])
		if len(p.CurrentVoters) != 1 || len(p.Observers) != 1 || p.LeaderID != 1 ||
			p.CurrentVoters[0].ReplicaID != 1 || p.Observers[0].ReplicaID != 2 {
			t.Fatalf("quorum %+v, want node 1 the leader and only voter, node 2 its observer", p)
		}
		v, o := p.CurrentVoters[0], p.Observers[0]
		if v.LogEndOffset >= p.HighWatermark && v.LastFetchTimestamp > 0 && o.LogEndOffset > 0 && o.LastFetchTimestamp > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the broker's answer lacks the controller's view: voter %+v observer %+v high watermark %d", v, o, p.HighWatermark)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
