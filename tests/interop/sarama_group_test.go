package interop

// sarama's ConsumerGroup (its own JoinGroup/SyncGroup/Heartbeat/OffsetCommit loop and
// client-side range assignor) with two members against Nagare's coordinator.

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// groupMember runs one sarama ConsumerGroup member and records what it is given.
type groupMember struct {
	name   string
	group  sarama.ConsumerGroup
	cancel context.CancelFunc
	done   chan struct{}
	out    chan<- consumedBy

	mu         sync.Mutex
	generation int32   // guarded by mu: the generation of the latest session
	claims     []int32 // guarded by mu: the partitions of the latest session
}

type consumedBy struct {
	member    string
	partition int32
	offset    int64
	value     string
}

func (m *groupMember) Setup(s sarama.ConsumerGroupSession) error {
	var claims []int32
	for _, ps := range s.Claims() {
		claims = append(claims, ps...)
	}
	slices.Sort(claims)
	m.mu.Lock()
	m.generation, m.claims = s.GenerationID(), claims
	m.mu.Unlock()
	return nil
}

func (m *groupMember) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (m *groupMember) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for msg := range claim.Messages() {
		m.out <- consumedBy{m.name, msg.Partition, msg.Offset, string(msg.Value)}
		s.MarkMessage(msg, "")
	}
	return nil
}

func (m *groupMember) session() (int32, []int32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.generation, m.claims
}

// startMember joins the group and consumes until stop; errors go to the test log.
func startMember(t *testing.T, name string, cfg *sarama.Config, addr, groupID, topic string, out chan<- consumedBy) *groupMember {
	t.Helper()
	g, err := sarama.NewConsumerGroup([]string{addr}, groupID, cfg)
	if err != nil {
		t.Fatalf("member %s: %v", name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &groupMember{name: name, group: g, cancel: cancel, done: make(chan struct{}), out: out}
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			if err := g.Consume(ctx, []string{topic}, m); err != nil && ctx.Err() == nil {
				t.Logf("member %s: Consume: %v", name, err)
				time.Sleep(100 * time.Millisecond)
			}
		}
	}()
	go func() {
		for err := range g.Errors() {
			t.Logf("member %s: %v", name, err)
		}
	}()
	t.Cleanup(m.stop)
	return m
}

// stop leaves the group (committing what was marked) and waits for the member's loop.
func (m *groupMember) stop() {
	m.cancel()
	<-m.done
	_ = m.group.Close()
}

func TestSaramaConsumerGroup(t *testing.T) {
	b := brokertest.Start(t, brokertest.WithProperties(map[string]string{"group.initial.rebalance.delay.ms": "0"}))
	for _, v := range saramaVersions {
		t.Run(v.name, func(t *testing.T) {
			topic, groupID := "sarama-group-"+v.name, "sarama-readers-"+v.name
			const partitions, perPartition = 4, 10
			createTopic(t, b, topic, partitions)
			rec := newAPIRecorder()
			cfg := saramaConfig(v.version, rec)
			cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
			cfg.Consumer.Offsets.AutoCommit.Interval = 100 * time.Millisecond
			cfg.Consumer.Group.Session.Timeout = 6 * time.Second
			cfg.Consumer.Group.Heartbeat.Interval = 200 * time.Millisecond
			cfg.Consumer.Group.Rebalance.Timeout = 5 * time.Second
			cfg.Consumer.Group.Rebalance.Retry.Backoff = 100 * time.Millisecond
			cfg.Producer.Partitioner = sarama.NewManualPartitioner
			producer := saramaSyncProducer(t, cfg, b.Addr())
			produce := func(label string) []string {
				t.Helper()
				var msgs []*sarama.ProducerMessage
				var values []string
				for p := range int32(partitions) {
					for i := range perPartition {
						v := fmt.Sprintf("%s-%d-%d", label, p, i)
						values = append(values, v)
						msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Partition: p, Value: sarama.StringEncoder(v)})
					}
				}
				if err := producer.SendMessages(msgs); err != nil {
					t.Fatalf("SendMessages: %v", err)
				}
				return values
			}

			consumed := make(chan consumedBy, 1000)
			a := startMember(t, "a", cfg, b.Addr(), groupID, topic, consumed)
			bm := startMember(t, "b", cfg, b.Addr(), groupID, topic, consumed)

			// Both members hold partitions of the same generation, together all four once.
			waitFor(t, 15*time.Second, "both members assigned in one generation", func() string {
				ga, ca := a.session()
				gb, cb := bm.session()
				all := slices.Sorted(slices.Values(slices.Concat(ca, cb)))
				if ga != gb || len(ca) == 0 || len(cb) == 0 || !slices.Equal(all, []int32{0, 1, 2, 3}) {
					return fmt.Sprintf("a: generation %d %v, b: generation %d %v", ga, ca, gb, cb)
				}
				return ""
			})
			gen, claimsA := a.session()
			_, claimsB := bm.session()
			t.Logf("generation %d: a holds %v, b holds %v", gen, claimsA, claimsB)

			var got []consumedBy
			collect := func(n int) {
				t.Helper()
				timeout := time.After(15 * time.Second)
				for len(got) < n {
					select {
					case c := <-consumed:
						got = append(got, c)
					case <-timeout:
						t.Fatalf("consumed %d of %d records", len(got), n)
					}
				}
			}
			first := produce("first")
			collect(len(first))
			for _, c := range got {
				owner := claimsA
				if c.member == "b" {
					owner = claimsB
				}
				if !slices.Contains(owner, c.partition) {
					t.Errorf("member %s read partition %d, which it was not assigned", c.member, c.partition)
				}
			}

			// b leaves: a takes all four partitions in a new generation and reads on from
			// the offsets committed, b's included.
			bm.stop()
			waitFor(t, 15*time.Second, "a alone holds every partition", func() string {
				ga, ca := a.session()
				if ga <= gen || !slices.Equal(ca, []int32{0, 1, 2, 3}) {
					return fmt.Sprintf("a: generation %d %v", ga, ca)
				}
				return ""
			})
			second := produce("second")
			collect(len(first) + len(second))
			for _, c := range got[len(first):] {
				if c.member != "a" {
					t.Errorf("after b left, %s read %s", c.member, c.value)
				}
			}
			select {
			case c := <-consumed:
				t.Errorf("record %s (partition %d offset %d) read again by %s", c.value, c.partition, c.offset, c.member)
			case <-time.After(300 * time.Millisecond):
			}
			var values []string
			for _, c := range got {
				values = append(values, c.value)
			}
			checkOnce(t, "the group", values, slices.Concat(first, second))

			// The committed offsets, seen by sarama's ClusterAdmin, are each partition's end.
			admin, err := sarama.NewClusterAdmin([]string{b.Addr()}, saramaConfig(v.version, rec))
			if err != nil {
				t.Fatal(err)
			}
			defer admin.Close()
			waitFor(t, 5*time.Second, "offsets committed", func() string {
				offsets, err := admin.ListConsumerGroupOffsets(groupID, map[string][]int32{topic: {0, 1, 2, 3}})
				if err != nil {
					return err.Error()
				}
				for p := range int32(partitions) {
					if blk := offsets.GetBlock(topic, p); blk == nil || blk.Err != sarama.ErrNoError || blk.Offset != 2*perPartition {
						return fmt.Sprintf("partition %d: %+v, want offset %d", p, blk, 2*perPartition)
					}
				}
				return ""
			})
			descs, err := admin.DescribeConsumerGroups([]string{groupID})
			if err != nil || len(descs) != 1 {
				t.Fatalf("DescribeConsumerGroups: %v %v", descs, err)
			}
			d := descs[0]
			if d.State != "Stable" || d.ProtocolType != "consumer" || d.Protocol != "range" || len(d.Members) != 1 {
				t.Errorf("group %s: state %s protocol type %s protocol %s with %d members, want Stable consumer range with 1",
					groupID, d.State, d.ProtocolType, d.Protocol, len(d.Members))
			}
			for id, m := range d.Members {
				assignment, err := m.GetMemberAssignment()
				if err != nil {
					t.Fatalf("member %s assignment: %v", id, err)
				}
				if got := slices.Sorted(slices.Values(assignment.Topics[topic])); !slices.Equal(got, []int32{0, 1, 2, 3}) {
					t.Errorf("member %s is assigned %v, want all four", id, assignment.Topics)
				}
			}
			a.stop()
			for _, key := range []int16{8, 9, 10, 11, 12, 13, 14, 15} {
				if len(rec.versions(key)) == 0 {
					t.Errorf("sarama sent no request of API key %d; sent: %s", key, rec)
				}
			}
			t.Logf("sarama %s (Kafka %s) sent: %s", v.name, v.version, rec)
		})
	}
}

// waitFor polls cond (which says what is still wrong, or "") until it holds.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		why := cond()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting %v for %s: %s", timeout, what, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
