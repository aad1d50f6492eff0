package broker_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// BenchmarkGroupStabilize measures the time for a 10-member group to become stable
// after one more member joins: from the new member's start until every member holds an
// assignment again. group.initial.rebalance.delay.ms only delays a group's first
// rebalance, so it does not enter the figure.
func BenchmarkGroupStabilize(b *testing.B) {
	for _, proto := range []string{"classic-cooperative", "classic-eager", "consumer"} {
		b.Run(proto, func(b *testing.B) {
			br := brokertest.Start(b, brokertest.WithProperties(map[string]string{
				"group.initial.rebalance.delay.ms": "0", "group.consumer.heartbeat.interval.ms": "100"}))
			topic := "stab-" + proto
			if _, err := br.Admin().CreateTopic(context.Background(), 32, 1, nil, topic); err != nil {
				b.Fatal(err)
			}
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				group := fmt.Sprintf("g-%s-%d", proto, i)
				members := make([]*groupMember, 0, 11)
				for m := 0; m < 10; m++ {
					members = append(members, startMember(b, br, proto, group, topic))
				}
				waitAssigned(b, members)
				b.StartTimer()
				members = append(members, startMember(b, br, proto, group, topic))
				waitAssigned(b, members)
				b.StopTimer()
				for _, m := range members {
					m.close()
				}
			}
		})
	}
}

// groupMember is one consumer of a benchmark group and what it currently owns.
type groupMember struct {
	cl       *kgo.Client
	mu       sync.Mutex
	assigned int
	done     chan struct{}
}

func startMember(b *testing.B, br *brokertest.Broker, proto, group, topic string) *groupMember {
	m := &groupMember{done: make(chan struct{})}
	opts := []kgo.Opt{kgo.SeedBrokers(br.Addr()), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) { m.add(len(a[topic])) }),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, r map[string][]int32) { m.add(-len(r[topic])) }),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, l map[string][]int32) { m.add(-len(l[topic])) }),
	}
	switch proto {
	case "classic-eager":
		opts = append(opts, kgo.Balancers(kgo.RangeBalancer()))
	case "consumer":
		opts = append(opts, kgo.ServerSideBalancer())
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		b.Fatal(err)
	}
	m.cl = cl
	go func() {
		defer close(m.done)
		for {
			if fs := cl.PollFetches(context.Background()); fs.IsClientClosed() {
				return
			}
		}
	}()
	return m
}

func (m *groupMember) add(n int) {
	m.mu.Lock()
	m.assigned += n
	m.mu.Unlock()
}

func (m *groupMember) owned() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.assigned
}

func (m *groupMember) close() {
	m.cl.Close()
	<-m.done
}

// waitAssigned waits until every member owns at least one partition and together they
// own all 32.
func waitAssigned(b *testing.B, members []*groupMember) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		total, ok := 0, true
		for _, m := range members {
			n := m.owned()
			total += n
			ok = ok && n > 0
		}
		if ok && total == 32 {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	b.Fatal("group did not stabilise within 60s")
}

// BenchmarkOffsetCommit measures OffsetCommit throughput: one admin client committing
// one offset per partition of a 10-partition topic per request (each op is one request
// of 10 offsets), appended to __consumer_offsets with acks=all.
func BenchmarkOffsetCommit(b *testing.B) {
	br := brokertest.Start(b)
	adm := br.Admin()
	ctx := context.Background()
	if _, err := adm.CreateTopic(ctx, 10, 1, nil, "committed"); err != nil {
		b.Fatal(err)
	}
	offsets := make(kadm.Offsets)
	for p := int32(0); p < 10; p++ {
		offsets.Add(kadm.Offset{Topic: "committed", Partition: p, At: 1, LeaderEpoch: -1})
	}
	if _, err := adm.CommitOffsets(ctx, "bench", offsets); err != nil { // creates __consumer_offsets
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := adm.CommitOffsets(ctx, "bench", offsets)
		if err != nil || resp.Error() != nil {
			b.Fatalf("commit: %v %v", err, resp.Error())
		}
	}
	b.ReportMetric(float64(b.N*10)/b.Elapsed().Seconds(), "offsets/s")
}
