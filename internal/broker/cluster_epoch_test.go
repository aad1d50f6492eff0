package broker_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/brokertest"
	"github.com/nagare-dev/nagare/internal/metadata"
)

// TestClusterRestartNewIncarnation: a broker killed and restarted within its session
// (no controlled shutdown, so its session never lapsed) registers a new incarnation with
// a higher broker epoch; its previous leaderships move to another ISR member before it
// serves; the old process's epoch is refused for heartbeats, controlled shutdown and
// replica fetches (KIP-631, KIP-903).
func TestClusterRestartNewIncarnation(t *testing.T) {
	brokers := startFastCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	createClusterTopic(ctx, t, brokers[0].Admin(), "inc", 6, 3)
	var before clusterView
	waitView(ctx, t, askBroker(brokers[0]), 10*time.Second, "topic created", func(v clusterView) bool {
		before = v
		return len(v.partitions["inc"]) == 6
	}, "inc")
	victim := brokers[1] // node 2
	oldEpoch := victim.BrokerEpoch()
	victim.Kill()
	victim.Restart()
	if victim.BrokerEpoch() <= oldEpoch {
		t.Fatalf("broker epoch %d after restart, was %d", victim.BrokerEpoch(), oldEpoch)
	}
	// The controller moved broker 2's leaderships before answering its registration, but
	// broker 1 applies that on its own schedule (CI once asked it first): wait for it.
	var v clusterView
	waitView(ctx, t, askBroker(brokers[0]), 10*time.Second, "broker 2's old leaderships moved", func(now clusterView) bool {
		v = now
		for p, old := range before.partitions["inc"] {
			if cur := now.partitions["inc"][p]; old.Leader == 2 && (cur.Leader == 2 || cur.LeaderEpoch <= old.LeaderEpoch) {
				return false
			}
		}
		return true
	}, "inc")

	store := brokers[0].MetadataStore()
	unfenced := func() bool { b, _ := store.Image().Broker(2); return !b.Fenced && b.Epoch == victim.BrokerEpoch() }
	waitView(ctx, t, askBroker(brokers[0]), 5*time.Second, "broker 2 unfenced here", func(clusterView) bool { return unfenced() })
	if err := store.Heartbeat(ctx, 2, oldEpoch); !errors.Is(err, metadata.ErrStaleBrokerEpoch) {
		t.Errorf("heartbeat at the old epoch: %v, want ErrStaleBrokerEpoch", err)
	}
	if err := store.ControlledShutdown(ctx, 2, oldEpoch, metadata.ShutdownDone); !errors.Is(err, metadata.ErrStaleBrokerEpoch) {
		t.Errorf("controlled shutdown at the old epoch: %v, want ErrStaleBrokerEpoch", err)
	}
	time.Sleep(200 * time.Millisecond) // a fence, had it been written, would have reached this node
	if !unfenced() {
		t.Error("the old process's controlled shutdown fenced the new one")
	}
	checkStaleReplicaFetch(ctx, t, brokers, v, oldEpoch)
}

// checkStaleReplicaFetch sends a replica Fetch as broker 2's old process to the leader
// of a partition broker 2 follows.
func checkStaleReplicaFetch(ctx context.Context, t *testing.T, brokers []*brokertest.Broker, v clusterView, epoch int64) {
	t.Helper()
	for p, d := range v.partitions["inc"] {
		if d.Leader == 2 || d.Leader < 0 {
			continue
		}
		req := kmsg.NewPtrFetchRequest()
		req.Version = 15
		req.ReplicaID, req.ReplicaState.ID, req.ReplicaState.Epoch = -1, 2, epoch
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = "inc"
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.CurrentLeaderEpoch, rp.PartitionMaxBytes = p, d.LeaderEpoch, 1<<20
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		seed := askBroker(brokers[d.Leader-1]).seed
		resp, err := req.RequestWith(ctx, seed)
		if err != nil {
			t.Fatal(err)
		}
		code := resp.ErrorCode
		if len(resp.Topics) == 1 && len(resp.Topics[0].Partitions) == 1 && code == 0 {
			code = resp.Topics[0].Partitions[0].ErrorCode
		}
		if code != kerr.StaleBrokerEpoch.Code {
			t.Errorf("replica fetch at a stale epoch answered %v, want STALE_BROKER_EPOCH", kerr.ErrorForCode(code))
		}
		return
	}
	t.Fatal("no partition led by another broker")
}

// TestClusterDedicatedControllers: three controller-only nodes and two brokers form a
// cluster; Metadata lists only the brokers and names one of them as controller; topics
// are placed on brokers only and survive the loss of the active controller.
func TestClusterDedicatedControllers(t *testing.T) {
	nodes := brokertest.StartCluster(t, 5, brokertest.WithControllers(3), brokertest.WithProperties(map[string]string{
		"broker.heartbeat.interval.ms": "100",
		"broker.session.timeout.ms":    "1000",
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, n := range nodes[:3] {
		if n.IsBroker() || n.Addr() != "" {
			t.Fatalf("controller-only node is a broker (listener %q)", n.Addr())
		}
	}
	admin := askBroker(nodes[3])
	waitView(ctx, t, admin, 10*time.Second, "two brokers", func(v clusterView) bool {
		return slices.Equal(v.brokers, []int32{4, 5}) && (v.controller == 4 || v.controller == 5)
	})
	// The topic is placed from the image of the broker that receives CreateTopics: it
	// must see both brokers unfenced too.
	waitView(ctx, t, askBroker(nodes[4]), 10*time.Second, "two brokers from broker 5", func(v clusterView) bool {
		return slices.Equal(v.brokers, []int32{4, 5})
	})
	createClusterTopic(ctx, t, nodes[4].Admin(), "dedicated", 4, 2)
	active := nodes[3].MetadataStore().ControllerID()
	if active < 1 || active > 3 {
		t.Fatalf("active controller %d is not a controller-only node", active)
	}
	nodes[active-1].Kill()
	waitView(ctx, t, admin, 10*time.Second, "new active controller", func(clusterView) bool {
		id := nodes[3].MetadataStore().ControllerID()
		return id >= 1 && id <= 3 && id != active
	})
	createClusterTopic(ctx, t, nodes[3].Admin(), "after", 2, 2)
	if err := produceOne(ctx, nodes[4].Client(kgo.RecordRetries(20)), "after"); err != nil {
		t.Fatalf("produce after the controller failover: %v", err)
	}
}

// TestClusterListeners: every broker registers all its listeners, so Metadata answers a
// client with each broker's address on the listener the client came in on, and other
// brokers dial the inter-broker listener.
func TestClusterListeners(t *testing.T) {
	nodes := brokertest.StartCluster(t, 3, brokertest.WithClientListener("EXTERNAL"),
		brokertest.WithProperties(map[string]string{"inter.broker.listener.name": "EXTERNAL"}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, listener := range []string{"PLAINTEXT", "EXTERNAL"} {
		addr, ok := nodes[0].ListenerAddr(listener)
		if !ok {
			t.Fatalf("no %s listener", listener)
		}
		cl := nodes[0].Client(kgo.SeedBrokers(addr))
		var resp *kmsg.MetadataResponse
		for start := time.Now(); resp == nil || len(resp.Brokers) < 3 && time.Since(start) < 5*time.Second; {
			var err error
			if resp, err = kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if len(resp.Brokers) != 3 {
			t.Fatalf("%s: %d brokers", listener, len(resp.Brokers))
		}
		for _, b := range resp.Brokers {
			want, _ := nodes[b.NodeID-1].ListenerAddr(listener)
			if got := joinHostPort(b.Host, b.Port); got != want {
				t.Errorf("%s: broker %d at %s, want %s", listener, b.NodeID, got, want)
			}
		}
	}
	reg, _ := nodes[0].MetadataStore().Image().Broker(2)
	if want, _ := nodes[1].ListenerAddr("EXTERNAL"); joinHostPort(reg.Host, reg.Port) != want {
		t.Errorf("broker 2's inter-broker address %s:%d, want its EXTERNAL listener %s", reg.Host, reg.Port, want)
	}
}

func joinHostPort(host string, port int32) string {
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}
