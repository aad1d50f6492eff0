package broker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// startElectCluster is startFastCluster with the leader rebalance set as given.
func startElectCluster(t *testing.T, rebalance map[string]string) []*brokertest.Broker {
	t.Helper()
	props := map[string]string{
		"broker.heartbeat.interval.ms": "100",
		"broker.session.timeout.ms":    "1000",
	}
	for k, v := range rebalance {
		props[k] = v
	}
	return brokertest.StartCluster(t, 3, brokertest.WithProperties(props))
}

// bouncePreferred restarts a broker that is not the controller (a controlled shutdown
// moves its leaderships away) and waits until it is back in every ISR of topic. It
// returns the node id and the partition it is the preferred leader of.
func bouncePreferred(ctx context.Context, t *testing.T, brokers []*brokertest.Broker, topic string) (int32, int32) {
	t.Helper()
	var v clusterView
	waitView(ctx, t, askBroker(brokers[0]), 10*time.Second, "topic created", func(got clusterView) bool {
		v = got
		return len(got.partitions[topic]) == 3
	}, topic)
	var node, preferredOf int32 = -1, -1
	for p, pd := range v.partitions[topic] {
		if first := pd.Replicas[0]; first != v.controller && pd.Leader == first {
			node, preferredOf = first, p
			break
		}
	}
	if node < 0 {
		t.Fatalf("no partition led by its preferred replica off the controller: %+v", v)
	}
	brokers[node-1].Restart()
	ask := askBroker(brokers[node%3])
	waitView(ctx, t, ask, 10*time.Second, "restarted broker back in the ISRs", func(v clusterView) bool {
		for _, pd := range v.partitions[topic] {
			if len(pd.ISR) != 3 {
				return false
			}
		}
		return len(v.brokers) == 3
	}, topic)
	return node, preferredOf
}

// TestElectLeaders: after a broker restarts, the partition it is preferred for is led
// elsewhere; ElectLeaders (sent to another broker, so the election is forwarded to the
// controller) gives it back, then answers ELECTION_NOT_NEEDED; a null topic list lists
// nothing when all is balanced; unclean on a led partition and unknown partitions answer
// as Kafka does; a preferred replica that is down is PREFERRED_LEADER_NOT_AVAILABLE.
func TestElectLeaders(t *testing.T) {
	brokers := startElectCluster(t, map[string]string{"auto.leader.rebalance.enable": "false"})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const topic = "elect"
	createClusterTopic(ctx, t, brokers[0].Admin(), topic, 3, 3)
	node, p := bouncePreferred(ctx, t, brokers, topic)
	ask := askBroker(brokers[node%3])
	before, err := viewCluster(ctx, ask, topic)
	if err != nil {
		t.Fatal(err)
	}
	if got := before.partitions[topic][p].Leader; got == node {
		t.Fatalf("partition %d still led by %d after its restart", p, node)
	}

	adm := brokers[node%3].Admin()
	elect := func(how kadm.ElectLeadersHow, set kadm.TopicsSet) kadm.ElectLeadersResults {
		t.Helper()
		res, err := adm.ElectLeaders(ctx, how, set)
		if err != nil {
			t.Fatalf("elect leaders: %v", err)
		}
		return res
	}
	one := func(topic string, p int32) kadm.TopicsSet {
		s := make(kadm.TopicsSet)
		s.Add(topic, p)
		return s
	}
	if r := elect(kadm.ElectPreferredReplica, one(topic, p))[topic][p]; r.Err != nil {
		t.Fatalf("preferred election: %v", r.Err)
	}
	waitView(ctx, t, ask, 5*time.Second, "preferred leader elected", func(v clusterView) bool {
		pd := v.partitions[topic][p]
		return pd.Leader == node && pd.LeaderEpoch > before.partitions[topic][p].LeaderEpoch
	}, topic)
	if r := elect(kadm.ElectPreferredReplica, one(topic, p))[topic][p]; !errors.Is(r.Err, kerr.ElectionNotNeeded) {
		t.Errorf("second preferred election: %v, want ELECTION_NOT_NEEDED", r.Err)
	}
	for tp, parts := range elect(kadm.ElectPreferredReplica, nil) {
		for _, r := range parts {
			t.Errorf("all partitions: %s-%d listed (%v), though every preferred replica leads", tp, r.Partition, r.Err)
		}
	}
	if r := elect(kadm.ElectLiveReplica, one(topic, p))[topic][p]; !errors.Is(r.Err, kerr.ElectionNotNeeded) {
		t.Errorf("unclean election of a led partition: %v, want ELECTION_NOT_NEEDED", r.Err)
	}
	if r := elect(kadm.ElectPreferredReplica, one("nope", 0))["nope"][0]; !errors.Is(r.Err, kerr.UnknownTopicOrPartition) {
		t.Errorf("unknown topic: %v, want UNKNOWN_TOPIC_OR_PARTITION", r.Err)
	}
	if r := elect(kadm.ElectPreferredReplica, one(topic, 9))[topic][9]; !errors.Is(r.Err, kerr.UnknownTopicOrPartition) {
		t.Errorf("unknown partition: %v, want UNKNOWN_TOPIC_OR_PARTITION", r.Err)
	}

	brokers[node-1].Stop() // controlled shutdown: its leadership moves, it is fenced
	if r := elect(kadm.ElectPreferredReplica, one(topic, p))[topic][p]; !errors.Is(r.Err, kerr.PreferredLeaderNotAvailable) {
		t.Errorf("preferred replica stopped: %v, want PREFERRED_LEADER_NOT_AVAILABLE", r.Err)
	}
}

// TestAutoLeaderRebalance: with leader.imbalance.check.interval.seconds=1, a restarted
// broker leads the partition it is preferred for again without any request (1 of 1
// partitions not led is over the 10% allowed).
func TestAutoLeaderRebalance(t *testing.T) {
	brokers := startElectCluster(t, map[string]string{"leader.imbalance.check.interval.seconds": "1"})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const topic = "rebalance"
	createClusterTopic(ctx, t, brokers[0].Admin(), topic, 3, 3)
	node, p := bouncePreferred(ctx, t, brokers, topic)
	took := waitView(ctx, t, askBroker(brokers[node%3]), 5*time.Second, "leadership back to the preferred replica",
		func(v clusterView) bool { return v.partitions[topic][p].Leader == node }, topic)
	t.Logf("broker %d leads partition %d again %v after rejoining its ISR", node, p, took.Round(time.Millisecond))
}
