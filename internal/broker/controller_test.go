package broker_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// Short sessions, so that failover tests take about a second per fenced broker.
const (
	testHeartbeat      = 100 * time.Millisecond
	testSessionTimeout = time.Second
)

func startFastCluster(t *testing.T) []*brokertest.Broker {
	t.Helper()
	return brokertest.StartCluster(t, 3, brokertest.WithProperties(map[string]string{
		"broker.heartbeat.interval.ms": "100",
		"broker.session.timeout.ms":    "1000",
	}))
}

// clusterView is one Metadata answer: the listed brokers, the controller and the
// partitions of the topics asked for.
type clusterView struct {
	brokers    []int32
	controller int32
	partitions map[string]map[int32]kadm.PartitionDetail
}

// asker sends Metadata to one broker only: a client that knows the whole cluster would
// also try the dead broker and wait out its retries.
type asker struct{ seed *kgo.Broker }

func askBroker(b *brokertest.Broker) asker {
	return asker{seed: b.Client(kgo.SeedBrokers(b.Addr())).SeedBrokers()[0]}
}

func viewCluster(ctx context.Context, a asker, topics ...string) (clusterView, error) {
	req := kmsg.NewPtrMetadataRequest()
	for _, name := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, a.seed)
	if err != nil {
		return clusterView{}, err
	}
	v := clusterView{controller: resp.ControllerID, partitions: map[string]map[int32]kadm.PartitionDetail{}}
	for _, b := range resp.Brokers {
		v.brokers = append(v.brokers, b.NodeID)
	}
	slices.Sort(v.brokers)
	for _, rt := range resp.Topics {
		parts := map[int32]kadm.PartitionDetail{}
		for _, rp := range rt.Partitions {
			parts[rp.Partition] = kadm.PartitionDetail{Partition: rp.Partition, Leader: rp.Leader,
				LeaderEpoch: rp.LeaderEpoch, Replicas: rp.Replicas, ISR: rp.ISR}
		}
		if rt.Topic != nil && rt.ErrorCode == 0 {
			v.partitions[*rt.Topic] = parts
		}
	}
	return v, nil
}

// waitView polls Metadata until ok accepts a view, and returns how long it took.
func waitView(ctx context.Context, t *testing.T, admin asker, limit time.Duration, what string, ok func(clusterView) bool, topics ...string) time.Duration {
	t.Helper()
	start := time.Now()
	var last clusterView
	var lastErr error
	for time.Since(start) < limit {
		v, err := viewCluster(ctx, admin, topics...)
		if err == nil && ok(v) {
			return time.Since(start)
		}
		last, lastErr = v, err
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v; last view %+v, err %v", what, limit, last, lastErr)
	return 0
}

func createClusterTopic(ctx context.Context, t *testing.T, admin *kadm.Client, name string, partitions int32, rf int16) {
	t.Helper()
	resp, err := admin.CreateTopic(ctx, partitions, rf, nil, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
}

// TestClusterFailover: a broker that stops without a controlled shutdown is fenced once
// its session lapses; every partition it led gets a new leader from its ISR with a higher
// leader epoch, Metadata stops listing it, and a partition it alone held goes offline.
// Restarted, it is unfenced, listed again and leads its offline partition again. Then a
// controlled shutdown of another broker moves its leaderships before it stops.
func TestClusterFailover(t *testing.T) {
	brokers := startFastCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	createClusterTopic(ctx, t, brokers[0].Admin(), "rf3", 6, 3)
	createClusterTopic(ctx, t, brokers[0].Admin(), "rf1", 3, 1)
	admin0 := askBroker(brokers[0])
	var before clusterView
	waitView(ctx, t, admin0, 10*time.Second, "topics created", func(v clusterView) bool {
		before = v
		return len(v.partitions["rf3"]) == 6 && len(v.partitions["rf1"]) == 3 && len(v.brokers) == 3
	}, "rf3", "rf1")
	// The victim: a broker that is not the controller (that case is
	// TestControllerFailover) and leads partitions of both topics.
	var victim int32
	for id := int32(1); id <= 3 && victim == 0; id++ {
		if id != before.controller && leads(before.partitions["rf3"], id) > 0 && leads(before.partitions["rf1"], id) > 0 {
			victim = id
		}
	}
	if victim == 0 {
		t.Fatalf("no broker other than controller %d leads partitions of both topics: %+v", before.controller, before.partitions)
	}
	survivor := brokers[victim%3] // another node: IDs are 1..3
	admin := askBroker(survivor)
	t.Logf("controller %d; killing broker %d", before.controller, victim)

	brokers[victim-1].Kill()
	took := waitView(ctx, t, admin, testSessionTimeout+5*time.Second, "failover", func(v clusterView) bool {
		if slices.Contains(v.brokers, victim) {
			return false
		}
		for p, old := range before.partitions["rf3"] {
			now := v.partitions["rf3"][p]
			if old.Leader == victim && (now.Leader == victim || now.Leader < 0 || !slices.Contains(old.ISR, now.Leader) || now.LeaderEpoch <= old.LeaderEpoch) {
				return false
			}
			if slices.Contains(now.ISR, victim) {
				return false // dropped from the ISR of partitions it followed too
			}
		}
		for p, old := range before.partitions["rf1"] {
			if old.Leader == victim && v.partitions["rf1"][p].Leader != -1 {
				return false
			}
		}
		return true
	}, "rf3", "rf1")
	t.Logf("broker %d fenced and its partitions moved %v after it stopped", victim, took.Round(time.Millisecond))
	if took > testSessionTimeout+time.Second {
		t.Errorf("failover took %v, more than the session timeout + 1s", took)
	}

	brokers[victim-1].Restart()
	took = waitView(ctx, t, admin, 10*time.Second, "unfence", func(v clusterView) bool {
		if !slices.Contains(v.brokers, victim) {
			return false
		}
		for p, old := range before.partitions["rf1"] {
			now := v.partitions["rf1"][p]
			if old.Leader == victim && (now.Leader != victim || now.LeaderEpoch <= old.LeaderEpoch) {
				return false
			}
		}
		return true
	}, "rf1")
	t.Logf("broker %d unfenced and leads its offline partitions again %v after its restart", victim, took.Round(time.Millisecond))

	// Controlled shutdown of the survivor we have been asking: ask another node now.
	current, err := viewCluster(ctx, admin, "rf3")
	if err != nil {
		t.Fatal(err)
	}
	leaving := survivor
	leavingID := victim%3 + 1
	if leads(current.partitions["rf3"], leavingID) == 0 {
		t.Fatalf("broker %d leads no rf3 partition to move: %+v", leavingID, current.partitions["rf3"])
	}
	other := askBroker(brokers[leavingID%3])
	start := time.Now()
	leaving.Stop()
	stopped := time.Since(start)
	// The controller moved the leaderships before the stop completed; the broker asked
	// applies that on its own schedule, within a heartbeat or so.
	waitView(ctx, t, other, time.Second, fmt.Sprintf("broker %d's leaderships moved and it unlisted", leavingID), func(v clusterView) bool {
		for _, pd := range v.partitions["rf3"] {
			if pd.Leader == leavingID || pd.Leader < 0 {
				return false
			}
		}
		return !slices.Contains(v.brokers, leavingID)
	}, "rf3")
	if stopped > testSessionTimeout {
		t.Errorf("controlled shutdown took %v", stopped)
	}
	t.Logf("controlled shutdown of broker %d took %v", leavingID, stopped.Round(time.Millisecond))
}

// TestControllerFailover: when the active controller's node dies, the next controller
// gives every broker a fresh session (it fences none of the live ones) and still fences
// the dead one once its session lapses.
func TestControllerFailover(t *testing.T) {
	brokers := startFastCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	v, err := viewCluster(ctx, askBroker(brokers[0]))
	if err != nil {
		t.Fatal(err)
	}
	dead := v.controller
	admin := askBroker(brokers[dead%3])
	brokers[dead-1].Kill()
	start := time.Now()
	var live []int32
	for id := int32(1); id <= 3; id++ {
		if id != dead {
			live = append(live, id)
		}
	}
	took := waitView(ctx, t, admin, 10*time.Second, "new controller", func(v clusterView) bool {
		return v.controller != dead && v.controller > 0
	})
	t.Logf("controller %d killed; a new one after %v", dead, took.Round(time.Millisecond))
	took = waitView(ctx, t, admin, 10*time.Second, "dead controller fenced", func(v clusterView) bool {
		if v.controller == dead || v.controller < 0 {
			return false
		}
		for _, id := range live {
			if !slices.Contains(v.brokers, id) {
				t.Errorf("new controller %d fenced live broker %d", v.controller, id)
			}
		}
		return !slices.Contains(v.brokers, dead)
	})
	t.Logf("controller %d fenced by its successor %v later", dead, took.Round(time.Millisecond))
	// And nobody live is fenced afterwards either.
	for time.Since(start) < took+2*testSessionTimeout {
		v, err := viewCluster(ctx, admin)
		if err == nil && !slices.Equal(v.brokers, live) {
			t.Fatalf("brokers %v, want %v", v.brokers, live)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func leads(parts map[int32]kadm.PartitionDetail, id int32) int {
	n := 0
	for _, p := range parts {
		if p.Leader == id {
			n++
		}
	}
	return n
}
