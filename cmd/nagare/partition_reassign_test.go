package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// TestPartitionReassign drives `nagare partition reassign` end to end on two brokers:
// a throttled move shows in `partition reassignments`, --verify keeps the throttles
// while it runs, --cancel reverts it, and an unthrottled move completes, after which
// --verify removes the throttles.
func TestPartitionReassign(t *testing.T) {
	brokers := brokertest.StartCluster(t, 2)
	boot := []string{"--bootstrap", brokers[0].Addr()}
	run := func(args ...string) cliResult { return mustRun(t, "", append(args, boot...)...) }
	run("topic", "create", "moves", "--partitions", "1", "--replication-factor", "1")
	leader := partitionReplicas(t, brokers[0], "moves")[0]
	other := 3 - leader // node ids are 1 and 2
	fill(t, brokers[0], "moves", 200, 1000)

	// A move throttled to 1 KB/s is still in progress when listed.
	target := []string{"--topic", "moves", "--partition", "0", "--replicas"}
	r := run(append([]string{"partition", "reassign"}, append(target, strconv.Itoa(int(other)), "--throttle", "1000")...)...)
	if !strings.Contains(r.stdout, "reassigning moves-0 to replicas "+strconv.Itoa(int(other))) {
		t.Fatalf("reassign printed %q", r.stdout)
	}
	r = run("partition", "reassignments")
	if !strings.Contains(r.stdout, "moves") || !strings.Contains(r.stdout, "ADDING") {
		t.Fatalf("reassignments while moving:\n%s", r.stdout)
	}
	v := nagare(t, "", append([]string{"partition", "reassign", "--verify"}, boot...)...)
	if v.code != exitFailure || !strings.Contains(v.stderr, "still moving") {
		t.Fatalf("verify while moving: exit %d, stdout %q, stderr %q", v.code, v.stdout, v.stderr)
	}
	r = run("partition", "reassign", "--topic", "moves", "--partition", "0", "--cancel")
	if !strings.Contains(r.stdout, "cancelled the reassignment of moves-0") {
		t.Fatalf("cancel printed %q", r.stdout)
	}
	waitReplicas(t, brokers[0], "moves", leader)

	// Unthrottled, the move completes and --verify clears the throttles left behind.
	run(append([]string{"partition", "reassign"}, append(target, strconv.Itoa(int(other)))...)...)
	waitReplicas(t, brokers[0], "moves", other)
	r = run("partition", "reassign", "--verify")
	if !strings.Contains(r.stdout, "replication throttles removed") {
		t.Fatalf("verify after the move printed %q", r.stdout)
	}
	// The broker asked may apply the config change a moment after the one that made it.
	deadline := time.Now().Add(5 * time.Second)
	for r = run("topic", "describe", "moves"); strings.Contains(r.stdout, "throttled.replicas"); r = run("topic", "describe", "moves") {
		if time.Now().After(deadline) {
			t.Fatalf("throttled replicas left on the topic:\n%s", r.stdout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// partitionReplicas is partition 0's replica list as the cluster's metadata has it. Each
// try uses a new client: franz-go answers a Metadata request from its cache for
// MetadataMinAge (5 s), which would hide the topic from a client that asked too early.
func partitionReplicas(t *testing.T, b *brokertest.Broker, topic string) []int32 {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		adm := b.Admin()
		md, err := adm.Metadata(ctx, topic)
		adm.Close()
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if p, ok := md.Topics[topic].Partitions[0]; ok {
			return p.Replicas
		}
		if time.Now().After(deadline) { // the broker asked has not applied the topic yet
			t.Fatalf("no partition 0 of %s in %+v", topic, md.Topics)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitReplicas waits until partition 0 of topic has the one replica want, as seen by b
// (which may apply a change a moment after the broker that made it).
func waitReplicas(t *testing.T, b *brokertest.Broker, topic string, want int32) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for got := partitionReplicas(t, b, topic); len(got) != 1 || got[0] != want; got = partitionReplicas(t, b, topic) {
		if time.Now().After(deadline) {
			t.Fatalf("replicas %v, want [%d]", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fill writes n records of size bytes each to topic, acknowledged by all replicas.
func fill(t *testing.T, b *brokertest.Broker, topic string, n, size int) {
	t.Helper()
	cl := b.Client(kgo.DefaultProduceTopic(topic))
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	value := make([]byte, size)
	records := make([]*kgo.Record, n)
	for i := range records {
		records[i] = &kgo.Record{Value: value}
	}
	if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}
