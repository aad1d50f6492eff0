package broker_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// reassignProps add to replicationProps a replication quota measured over two one-second
// samples, so a throttle bites within a second, and small replica fetches, so it bites
// smoothly.
var reassignProps = map[string]string{
	"replica.lag.time.max.ms":               "1000",
	"replica.fetch.backoff.ms":              "100",
	"replica.fetch.max.bytes":               "65536",
	"replication.quota.window.num":          "2",
	"replication.quota.window.size.seconds": "1",
}

// TestReassignMovesPartition moves an RF 1 partition to another broker while an acks=all
// producer writes, with a follower throttle that makes the copy take about size/rate:
// ListPartitionReassignments shows the move meanwhile, every acknowledged record is read
// back at its offset from the new replica, and the old broker's log of it is deleted.
// Then a move back, throttled to a crawl, is cancelled: the partition stays where it was
// and the half-copied log is deleted.
func TestReassignMovesPartition(t *testing.T) {
	brokers := brokertest.StartCluster(t, 3, brokertest.WithProperties(reassignProps))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	adm := brokers[0].Admin()
	const topic = "moving"
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	partitionLeaders(ctx, t, adm, topic, 1)
	from := replicasOf(ctx, t, adm, topic)[0]
	to := from%3 + 1

	producer := clusterClient(t, brokers, kgo.DefaultProduceTopic(topic), kgo.DisableIdempotentWrite(),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0))
	acked := &ackedRecords{byOffset: map[int64]string{}}
	value := make([]byte, 1000)
	for i := range 1500 { // 1.5 MB to copy
		acked.produce(ctx, t, producer, fmt.Sprintf("pre-%d-%s", i, value))
	}
	if err := producer.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	const rate = 600_000 // bytes/s: the copy takes about 2.5 s
	setReplicationThrottle(ctx, t, adm, topic, rate, to)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // writes all along the move
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			acked.produce(ctx, t, producer, fmt.Sprintf("live-%d", i))
		}
	}()

	start := time.Now()
	alterAssignment(ctx, t, adm, topic, []int32{to})
	if moving := listReassignments(ctx, t, adm, topic); !slices.Equal(moving.AddingReplicas, []int32{to}) ||
		!slices.Equal(moving.RemovingReplicas, []int32{from}) || !slices.Equal(moving.Replicas, []int32{to, from}) {
		t.Fatalf("reassignment in progress: %+v, want replicas [%d %d], adding [%d], removing [%d]", moving, to, from, to, from)
	}
	waitFor(t, 60*time.Second, func() bool { return slices.Equal(replicasOf(ctx, t, adm, topic), []int32{to}) },
		func() string { return fmt.Sprintf("replicas %v to become [%d]", replicasOf(ctx, t, adm, topic), to) })
	took := time.Since(start)
	t.Logf("moved 1.5 MB at %d B/s in %v", rate, took)
	if took < time.Second {
		t.Errorf("the throttled copy took %v, want about 1.5 MB / %d B/s", took, rate)
	}
	time.Sleep(200 * time.Millisecond) // some writes to the new leader
	close(stop)
	wg.Wait()
	if err := producer.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	acked.check(ctx, t, brokers[to-1], topic)
	oldDir := filepath.Join(brokers[from-1].DataDir(), topic+"-0")
	waitFor(t, 10*time.Second, func() bool { _, err := os.Stat(oldDir); return errors.Is(err, os.ErrNotExist) },
		func() string { return "the old replica's log " + oldDir + " to be deleted" })

	// Back to the old broker at 1 KB/s, then cancelled.
	setReplicationThrottle(ctx, t, adm, topic, 1000, from)
	alterAssignment(ctx, t, adm, topic, []int32{from})
	time.Sleep(500 * time.Millisecond)
	if moving := listReassignments(ctx, t, adm, topic); !slices.Equal(moving.AddingReplicas, []int32{from}) {
		t.Fatalf("throttled reassignment: %+v, want %d being added", moving, from)
	}
	alterAssignment(ctx, t, adm, topic, nil)
	if moving := listReassignments(ctx, t, adm, topic); moving.Topic != "" {
		t.Fatalf("reassignment still listed after the cancel: %+v", moving)
	}
	if got := replicasOf(ctx, t, adm, topic); !slices.Equal(got, []int32{to}) {
		t.Fatalf("replicas after the cancel: %v, want [%d]", got, to)
	}
	waitFor(t, 10*time.Second, func() bool { _, err := os.Stat(oldDir); return errors.Is(err, os.ErrNotExist) },
		func() string { return "the cancelled replica's log " + oldDir + " to be deleted" })
	var again kadm.AlterPartitionAssignmentsReq
	again.CancelAssign(topic, 0)
	resps, err := adm.AlterPartitionAssignments(ctx, again)
	if err != nil || !errors.Is(resps[topic][0].Err, kerr.NoReassignmentInProgress) {
		t.Fatalf("second cancel: %v %+v, want NO_REASSIGNMENT_IN_PROGRESS", err, resps)
	}
}

// ackedRecords are the records the broker acknowledged, by offset.
type ackedRecords struct {
	mu       sync.Mutex
	byOffset map[int64]string
}

func (a *ackedRecords) produce(ctx context.Context, t *testing.T, cl *kgo.Client, v string) {
	cl.Produce(ctx, &kgo.Record{Value: []byte(v)}, func(r *kgo.Record, err error) {
		if err != nil {
			return // not acknowledged: nothing to check
		}
		a.mu.Lock()
		a.byOffset[r.Offset] = string(r.Value)
		a.mu.Unlock()
	})
}

// check reads the partition from b from offset 0 and compares every acknowledged record.
func (a *ackedRecords) check(ctx context.Context, t *testing.T, b *brokertest.Broker, topic string) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	var last int64
	for o := range a.byOffset {
		last = max(last, o)
	}
	cl := b.Client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(0)}}))
	defer cl.Close()
	read := map[int64]string{}
	for len(read) == 0 || !hasOffset(read, last) {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("reading back up to offset %d: %v", last, err)
		}
		fs.EachRecord(func(r *kgo.Record) { read[r.Offset] = string(r.Value) })
	}
	for o, v := range a.byOffset {
		if read[o] != v {
			t.Fatalf("offset %d: read %.20q, acknowledged %.20q", o, read[o], v)
		}
	}
	t.Logf("%d acknowledged records read back at their offsets", len(a.byOffset))
}

func hasOffset(m map[int64]string, o int64) bool { _, ok := m[o]; return ok }

func replicasOf(ctx context.Context, t *testing.T, adm *kadm.Client, topic string) []int32 {
	t.Helper()
	topics, err := adm.ListTopics(ctx, topic)
	if err != nil || topics[topic].Err != nil {
		t.Fatalf("list topic: %v %v", err, topics[topic].Err)
	}
	return topics[topic].Partitions[0].Replicas
}

// setReplicationThrottle throttles every out-of-sync replica of topic and sets the
// follower rate on broker id.
func setReplicationThrottle(ctx context.Context, t *testing.T, adm *kadm.Client, topic string, rate int, id int32) {
	t.Helper()
	all, r := "*", strconv.Itoa(rate)
	resps, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "follower.replication.throttled.replicas", Value: &all}}, topic)
	if err == nil {
		err = resps[0].Err
	}
	if err != nil {
		t.Fatalf("throttled replicas: %v", err)
	}
	resps, err = adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Name: "follower.replication.throttled.rate", Value: &r}}, id)
	if err == nil {
		err = resps[0].Err
	}
	if err != nil {
		t.Fatalf("follower rate on broker %d: %v", id, err)
	}
}

func alterAssignment(ctx context.Context, t *testing.T, adm *kadm.Client, topic string, replicas []int32) {
	t.Helper()
	var req kadm.AlterPartitionAssignmentsReq
	req.Assign(topic, 0, replicas)
	resps, err := adm.AlterPartitionAssignments(ctx, req)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		t.Fatalf("reassign %s-0 to %v: %v", topic, replicas, err)
	}
}

func listReassignments(ctx context.Context, t *testing.T, adm *kadm.Client, topic string) kadm.ListPartitionReassignmentsResponse {
	t.Helper()
	set := make(kadm.TopicsSet)
	set.Add(topic, 0)
	resps, err := adm.ListPartitionReassignments(ctx, set)
	if err != nil {
		t.Fatalf("list reassignments: %v", err)
	}
	return resps[topic][0]
}
