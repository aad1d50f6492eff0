package metadata

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// freeAddrs returns n loopback addresses whose ports were free a moment ago.
func freeAddrs(t testing.TB, n int) []string {
	t.Helper()
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, ln.Addr().String())
		ln.Close()
	}
	return addrs
}

// clusterConfig is node id's config in a quorum of voters; timeouts are raised above the
// one-node defaults so that the race detector on a busy machine does not cost leaderships,
// and kept below the cluster defaults so that failover tests stay quick.
func clusterConfig(t testing.TB, dir string, id int32, bind string, voters map[int32]string) Config {
	cfg := testConfig(t, dir)
	cfg.NodeID = id
	cfg.BindAddr = bind
	cfg.Voters = voters
	cfg.HeartbeatTimeout = 300 * time.Millisecond
	cfg.ElectionTimeout = 600 * time.Millisecond
	cfg.LeaderLeaseTimeout = 300 * time.Millisecond
	return cfg
}

// waitFor polls cond until it holds or the test timeout passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func hasTopic(s *Store, name string) bool {
	_, ok := s.Image().TopicByName(name)
	return ok
}

// TestClusterQuorum runs a three-voter quorum in-process: started in reverse order, a
// proposal forwarded from a follower, an error that keeps its identity across the wire, a
// failover, a restarted voter catching up, a broker-only node joining, and Close leaving no
// goroutine behind.
func TestClusterQuorum(t *testing.T) {
	baseline := runtime.NumGoroutine()
	addrs := freeAddrs(t, 4)
	voters := map[int32]string{1: addrs[0], 2: addrs[1], 3: addrs[2]}
	dirs := map[int32]string{1: t.TempDir(), 2: t.TempDir(), 3: t.TempDir()}
	stores := map[int32]*Store{}
	closeAll := func() {
		for id, s := range stores {
			s.Close()
			delete(stores, id)
		}
	}
	defer closeAll()

	start := time.Now()
	for _, id := range []int32{3, 2, 1} {
		s, err := Open(clusterConfig(t, dirs[id], id, voters[id], voters))
		if err != nil {
			t.Fatal(err)
		}
		stores[id] = s
		time.Sleep(50 * time.Millisecond) // later nodes start after the first ones wait
	}
	ready(t, stores)
	t.Logf("three voters ready in %v", time.Since(start).Round(time.Millisecond))

	leader := leaderOf(t, stores)
	follower := stores[leader%3+1]
	propose(t, follower, RegisterBroker{NodeID: 1, Host: "127.0.0.1", Port: 9092})
	topic := CreateTopic{Name: "orders", TopicID: NewTopicID(), Partitions: []PartitionAssignment{assignment(0, 1)}}
	propose(t, follower, topic)
	if !hasTopic(follower, "orders") {
		t.Fatal("Propose returned on a follower before its Image had the record")
	}
	for id, s := range stores {
		waitFor(t, fmt.Sprintf("node %d to apply the topic", id), func() bool { return hasTopic(s, "orders") })
		if got := s.ControllerID(); got != leader {
			t.Errorf("node %d: ControllerID %d, want %d", id, got, leader)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	_, err := follower.Propose(ctx, CreateTopic{Name: "orders", TopicID: NewTopicID(), Partitions: []PartitionAssignment{assignment(0, 1)}})
	if !errors.Is(err, ErrTopicExists) || !strings.Contains(err.Error(), "orders") {
		t.Fatalf("forwarded duplicate CreateTopic: %v, want ErrTopicExists naming the topic", err)
	}
	checkForwardedQuorum(ctx, t, follower, leader)

	// CatchUp: once it returns, a follower's Image has what the leader had applied.
	other := stores[(leader+1)%3+1]
	propose(t, stores[leader], CreateTopic{Name: "caught-up", TopicID: NewTopicID(), Partitions: []PartitionAssignment{assignment(0, 1)}})
	if err := other.CatchUp(ctx); err != nil {
		t.Fatalf("CatchUp on a follower: %v", err)
	}
	if !hasTopic(other, "caught-up") {
		t.Fatal("CatchUp returned before the follower applied the leader's record")
	}

	// Failover: stop the leader; the survivors elect another and proposals go on.
	start = time.Now()
	stores[leader].Close()
	delete(stores, leader)
	survivor := stores[leader%3+1]
	propose(t, survivor, CreateTopic{Name: "after-failover", TopicID: NewTopicID(), Partitions: []PartitionAssignment{assignment(0, 1)}})
	t.Logf("proposal after the leader stopped took %v", time.Since(start).Round(time.Millisecond))
	if got := survivor.ControllerID(); got == leader || got < 0 {
		t.Errorf("ControllerID after failover = %d, old leader %d", got, leader)
	}

	// The old leader restarts and catches up.
	s, err := Open(clusterConfig(t, dirs[leader], leader, voters[leader], voters))
	if err != nil {
		t.Fatal(err)
	}
	stores[leader] = s
	ready(t, map[int32]*Store{leader: s})
	waitFor(t, "the restarted node to catch up", func() bool { return hasTopic(s, "after-failover") })

	// A broker-only node joins as a non-voter and serves the same Image.
	observer, err := Open(clusterConfig(t, t.TempDir(), 4, addrs[3], voters))
	if err != nil {
		t.Fatal(err)
	}
	stores[4] = observer
	ready(t, map[int32]*Store{4: observer})
	if !hasTopic(observer, "orders") || !hasTopic(observer, "after-failover") {
		t.Fatal("broker-only node is ready without the quorum's topics")
	}
	propose(t, observer, CreateTopic{Name: "from-observer", TopicID: NewTopicID(), Partitions: []PartitionAssignment{assignment(0, 1)}})
	for id, s := range stores {
		waitFor(t, fmt.Sprintf("node %d to apply the observer's topic", id), func() bool { return hasTopic(s, "from-observer") })
	}

	closeAll()
	checkGoroutines(t, baseline)
}

// checkForwardedQuorum: DescribeQuorum on a follower is the leader's view, in which the
// leader's own log end and times are known (a follower's own view has them unknown).
func checkForwardedQuorum(ctx context.Context, t *testing.T, follower *Store, leader int32) {
	t.Helper()
	q, err := follower.DescribeQuorum(ctx, time.Now())
	if err != nil {
		t.Fatalf("describe quorum on a follower: %v", err)
	}
	if q.LeaderID != leader || len(q.Voters) != 3 {
		t.Fatalf("describe quorum on a follower: %+v, want leader %d and 3 voters", q, leader)
	}
	for _, v := range q.Voters {
		if v.NodeID == leader && (v.LastIndex < int64(q.CommitIndex) || v.LastFetch.IsZero() || v.LastCaughtUp.IsZero()) {
			t.Errorf("the leader's entry %+v (commit index %d), want the leader's own view of itself", v, q.CommitIndex)
		}
	}
}

// ready waits for every store to be ready.
func ready(t testing.TB, stores map[int32]*Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	for id, s := range stores {
		if err := s.WaitReady(ctx); err != nil {
			t.Fatalf("node %d: %v", id, err)
		}
	}
}

// leaderOf returns the node ID every store agrees leads.
func leaderOf(t testing.TB, stores map[int32]*Store) int32 {
	t.Helper()
	var leader int32 = -1
	waitFor(t, "one agreed leader", func() bool {
		leader = -1
		for _, s := range stores {
			id := s.ControllerID()
			if id < 0 || (leader >= 0 && id != leader) {
				return false
			}
			leader = id
		}
		return stores[leader] != nil && stores[leader].IsLeader()
	})
	return leader
}

// checkGoroutines fails when, after a settling time, more goroutines run than at baseline.
func checkGoroutines(t testing.TB, baseline int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after Close, %d before:\n%s", runtime.NumGoroutine(), baseline, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClusterRefusesOtherQuorum refuses a one-node data directory started as a member of a
// three-voter quorum, which would otherwise elect itself alone.
func TestClusterRefusesOtherQuorum(t *testing.T) {
	dir := t.TempDir()
	s := openReady(t, testConfig(t, dir))
	s.Close()
	addrs := freeAddrs(t, 3)
	voters := map[int32]string{1: addrs[0], 2: addrs[1], 3: addrs[2]}
	s, err := Open(clusterConfig(t, dir, 1, addrs[0], voters))
	if err == nil {
		s.Close()
		t.Fatal("Open accepted a one-node directory as a three-voter quorum member")
	}
	if !errors.Is(err, ErrVotersMismatch) {
		t.Fatalf("err = %v, want ErrVotersMismatch", err)
	}
}
