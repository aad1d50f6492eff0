package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// TestClusterUp starts three nodes as child processes (the test binary stands in for
// nagare, see TestMain), reads the bootstrap servers from the output, asks cluster status
// through them, then cancels (as Ctrl-C does) and checks that every node stopped.
func TestClusterUp(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three broker processes")
	}
	up := startClusterUp(t, "--nodes", "3")
	if n := len(strings.Split(up.seeds, ",")); n != 3 {
		t.Fatalf("bootstrap servers %q: %d, want 3", up.seeds, n)
	}
	status := mustRun(t, "", "cluster", "status", "--bootstrap", up.seeds)
	if !strings.Contains(status.stdout, "(controller)") || len(brokerLine.FindAllString(status.stdout, -1)) != 3 {
		log, _ := os.ReadFile(filepath.Join(up.dir, "node-2.log"))
		t.Errorf("status:\n%s\nnode 2's log:\n%s", status.stdout, log)
	}
	up.stopAndCheck(t, "1", "2", "3")
}

// brokerLine matches a broker of cluster status's brokers section ("  1 host:port"), not
// the quorum's voters and observers.
var brokerLine = regexp.MustCompile(`(?m)^  \d+ \S+:\d+`)

// TestClusterUpControllers starts one controller-only node and two broker-only nodes:
// the bootstrap servers and cluster status list the two brokers alone, and the brokers
// stop before the controller whose quorum their controlled shutdowns need.
func TestClusterUpControllers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three node processes")
	}
	up := startClusterUp(t, "--controllers", "1", "--nodes", "2")
	if !strings.Contains(up.out.String(), "node 1: controller,") || !strings.Contains(up.out.String(), "node 3: broker,") {
		t.Errorf("roles:\n%s", up.out.String())
	}
	if n := len(strings.Split(up.seeds, ",")); n != 2 {
		t.Fatalf("bootstrap servers %q: %d, want the 2 brokers", up.seeds, n)
	}
	status := mustRun(t, "", "cluster", "status", "--bootstrap", up.seeds)
	if !strings.Contains(status.stdout, "(controller)") || len(brokerLine.FindAllString(status.stdout, -1)) != 2 ||
		!strings.Contains(status.stdout, "\n  2 ") || !strings.Contains(status.stdout, "\n  3 ") {
		t.Errorf("status:\n%s", status.stdout)
	}
	up.stopAndCheck(t, "1", "2", "3")
	if out := up.out.String(); strings.Index(out, "node 1 stopped") < strings.Index(out, "node 3 stopped") {
		t.Errorf("the controller stopped before a broker:\n%s", out)
	}
}

// clusterUpRun is a cluster up running in the background.
type clusterUpRun struct {
	dir, seeds  string
	out, errOut *syncBuffer
	stop        context.CancelFunc
	done        chan int
}

// startClusterUp runs cluster up with args in a temporary data dir until it prints the
// bootstrap servers.
func startClusterUp(t *testing.T, args ...string) *clusterUpRun {
	t.Helper()
	up := &clusterUpRun{dir: t.TempDir(), out: new(syncBuffer), errOut: new(syncBuffer), done: make(chan int, 1)}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	t.Cleanup(cancel)
	upCtx, stop := context.WithCancel(ctx)
	t.Cleanup(stop)
	up.stop = stop
	go func() {
		up.done <- run(upCtx, append([]string{"cluster", "up", "--data-dir", up.dir}, args...), strings.NewReader(""), up.out, up.errOut)
	}()
	bootstrap := regexp.MustCompile(`bootstrap servers: (\S+)`)
	for up.seeds == "" {
		select {
		case code := <-up.done:
			log, _ := os.ReadFile(filepath.Join(up.dir, "node-1.log"))
			t.Fatalf("cluster up exited %d before it was up\nstdout:\n%s\nstderr:\n%s\nnode 1's log:\n%s", code, up.out.String(), up.errOut.String(), log)
		case <-ctx.Done():
			t.Fatalf("cluster up not up in time\nstdout:\n%s", up.out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if m := bootstrap.FindStringSubmatch(up.out.String()); m != nil {
			up.seeds = m[1]
		}
	}
	return up
}

// stopAndCheck cancels cluster up (as Ctrl-C does) and checks that it exits cleanly
// and that each of the nodes ids stopped.
func (up *clusterUpRun) stopAndCheck(t *testing.T, ids ...string) {
	t.Helper()
	up.stop()
	select {
	case code := <-up.done:
		if code != exitOK {
			t.Errorf("cluster up exited %d\nstderr:\n%s", code, up.errOut.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("cluster up did not stop its nodes in time")
	}
	for _, id := range ids {
		if !strings.Contains(up.out.String(), "node "+id+" stopped") {
			t.Errorf("node %s did not stop cleanly:\n%s", id, up.out.String())
		}
	}
}

// TestClusterStatus: with one broker of three stopped (and fenced), cluster status lists
// the two others, the partitions of a replication factor 3 topic that lost it as
// under-replicated, the replication factor 1 partition it held as offline, and the
// partition it was the preferred leader of, now led by another, as imbalanced.
func TestClusterStatus(t *testing.T) {
	brokers := brokertest.StartCluster(t, 3, brokertest.WithProperties(map[string]string{
		"broker.heartbeat.interval.ms": "100",
		"broker.session.timeout.ms":    "1000",
	}))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	admin := brokers[0].Admin()
	for _, topic := range []struct {
		name string
		rf   int16
	}{{"wide", 3}, {"narrow", 1}} {
		if resp, err := admin.CreateTopic(ctx, 3, topic.rf, nil, topic.name); err != nil || resp.Err != nil {
			t.Fatalf("create %s: %v %v", topic.name, err, resp.Err)
		}
	}
	seeds := brokers[0].Addr()
	// Each broker is the preferred leader of one partition of each topic (round-robin
	// placement). Status may come from a broker that has not applied both topics yet.
	healthy := waitStatus(t, seeds, "healthy cluster", func(out string) bool {
		return strings.Contains(out, "under-replicated partitions: 0") && strings.Contains(out, "offline partitions: 0") &&
			strings.Contains(out, "not led by their preferred replica: 0") &&
			strings.Count(out, "leads 2 of its 2 preferred partitions") == 3 &&
			// The quorum leader knows every voter's progress from its heartbeats.
			len(knownVoter.FindAllString(out, -1)) == 3
	})
	m := quorumLine.FindStringSubmatch(healthy.stdout)
	if m == nil || !strings.Contains(healthy.stdout, "controller "+m[1]+"\n") || !strings.Contains(healthy.stdout, "voter "+m[1]+" (leader)") {
		t.Fatalf("the quorum leader is not the controller:\n%s", healthy.stdout)
	}

	brokers[2].Kill() // node 3: leads one partition of each topic
	r := waitStatus(t, seeds, "status after broker 3 stopped", func(out string) bool {
		return strings.Contains(out, "under-replicated partitions: 3") && strings.Contains(out, "offline partitions: 1") &&
			!strings.Contains(out, " 3 127.0.0.1") &&
			// Broker 3's wide partition moved to another replica; its narrow one is offline.
			strings.Contains(out, "not led by their preferred replica: 1") &&
			// Voter 3 falls behind the high watermark (or is unknown to a new leader).
			laggingVoter3.MatchString(out)
	})
	t.Logf("status:\n%s", r.stdout)
}

// The quorum in cluster status: its summary line (group 1 the leader), a voter whose
// progress is known, and voter 3 behind or unknown.
var (
	quorumLine    = regexp.MustCompile(`metadata quorum: leader (\d+), epoch [1-9]\d*, high watermark [1-9]\d*\n`)
	knownVoter    = regexp.MustCompile(`(?m)^  voter \d+( \(leader\))?: log end [1-9]\d*, lag \d+`)
	laggingVoter3 = regexp.MustCompile(`(?m)^  voter 3: log end (unknown|\d+, lag [1-9]\d*)`)
)

// waitStatus runs cluster status until ok accepts its output, for up to 10 s.
func waitStatus(t *testing.T, seeds, what string, ok func(string) bool) cliResult {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := mustRun(t, "", "cluster", "status", "--bootstrap", seeds)
		if ok(r.stdout) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s:\n%s", what, r.stdout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestLeaderImbalance: a partition led by another replica than its first counts against
// the first and is listed; an offline one counts against it too but is left to the
// offline list.
func TestLeaderImbalance(t *testing.T) {
	topics := kadm.TopicDetails{"t": {Topic: "t", Partitions: kadm.PartitionDetails{
		0: {Partition: 0, Leader: 1, Replicas: []int32{1, 2}},
		1: {Partition: 1, Leader: 1, Replicas: []int32{2, 1}},
		2: {Partition: 2, Leader: -1, Replicas: []int32{2}},
		3: {Partition: 3, Leader: 2, Replicas: []int32{2, 1}},
	}}}
	counts, imbalanced := leaderImbalance(topics)
	if counts[1] != (preferredLeads{preferred: 1, leading: 1}) || counts[2] != (preferredLeads{preferred: 3, leading: 1}) {
		t.Errorf("counts %+v", counts)
	}
	if len(imbalanced) != 1 || !strings.HasPrefix(imbalanced[0], "  t-1 leader 1 ") {
		t.Errorf("imbalanced %q, want t-1 only", imbalanced)
	}
}

// cluster up gives each node its share of the machine's cpus, unless the operator set
// GOMAXPROCS.
func TestSharedMachineEnv(t *testing.T) {
	base := []string{"HOME=/h"}
	for _, c := range []struct {
		nodes, cpus int
		want        string
	}{{3, 2, "GOMAXPROCS=2"}, {3, 16, "GOMAXPROCS=5"}, {1, 8, "GOMAXPROCS=8"}, {3, 1, "GOMAXPROCS=1"}} {
		env := sharedMachineEnv(base, c.nodes, c.cpus)
		if len(env) != 2 || env[1] != c.want || len(base) != 1 {
			t.Errorf("%d nodes on %d cpus: %v, want %s added", c.nodes, c.cpus, env, c.want)
		}
	}
	set := []string{"GOMAXPROCS=7", "HOME=/h"}
	if env := sharedMachineEnv(set, 3, 2); !slices.Equal(env, set) {
		t.Errorf("GOMAXPROCS set by the operator was changed: %v", env)
	}
}
