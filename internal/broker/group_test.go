package broker_test

// Classic consumer groups against a real broker, with franz-go consumers (kgo) and its
// admin client (kadm): membership and rebalances with cooperative and eager balancers,
// static membership, session expiry, commits that survive a restart, and the group
// admin APIs. Brokers start with group.initial.rebalance.delay.ms=0 and a low minimum
// session timeout, so rebalances take milliseconds rather than seconds.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// groupProps make rebalances fast for tests; everything else is Kafka's default.
var groupProps = map[string]string{
	"group.initial.rebalance.delay.ms": "0",
	"group.min.session.timeout.ms":     "500",
}

func startGroupBroker(t *testing.T, opts ...brokertest.Option) *brokertest.Broker {
	t.Helper()
	return brokertest.Start(t, append([]brokertest.Option{brokertest.WithProperties(groupProps)}, opts...)...)
}

// produceValues produces n records per partition to topic, valued prefix-p-i, and
// returns the values.
func produceValues(t *testing.T, b *brokertest.Broker, topic, prefix string, partitions int32, n int) []string {
	t.Helper()
	cl := b.Client(kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var recs []*kgo.Record
	var values []string
	for p := range partitions {
		for i := range n {
			v := fmt.Sprintf("%s-%d-%d", prefix, p, i)
			values = append(values, v)
			recs = append(recs, &kgo.Record{Partition: p, Value: []byte(v)})
		}
	}
	if err := cl.ProduceSync(testContext(t), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	return values
}

// seenRecords counts, for every value consumed, which members consumed it.
type seenRecords struct {
	mu   sync.Mutex
	seen map[string][]string
}

func (s *seenRecords) add(value, member string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[string][]string{}
	}
	s.seen[value] = append(s.seen[value], member)
}

func (s *seenRecords) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

// check fails the test for every value consumed twice or never.
func (s *seenRecords) check(t *testing.T, want []string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range want {
		if by := s.seen[v]; len(by) != 1 {
			t.Errorf("record %s consumed %d times (by %v), want once", v, len(by), by)
		}
	}
	if len(s.seen) != len(want) {
		t.Errorf("consumed %d distinct records, want %d", len(s.seen), len(want))
	}
}

// groupConsumer is a member that processes each poll, commits it, and only then lets
// a rebalance proceed: the pattern that consumes every record exactly once across
// members as they come and go.
type groupConsumer struct {
	name   string
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}
}

func startGroupConsumer(t *testing.T, b *brokertest.Broker, groupID, topic, name string, seen *seenRecords, opts ...kgo.Opt) *groupConsumer {
	t.Helper()
	base := []kgo.Opt{
		kgo.SeedBrokers(b.Addr()), kgo.ClientID(name),
		kgo.ConsumerGroup(groupID), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll(),
		kgo.HeartbeatInterval(100 * time.Millisecond), kgo.SessionTimeout(3 * time.Second),
		kgo.FetchMaxWait(100 * time.Millisecond),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &groupConsumer{name: name, cl: cl, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			fs := cl.PollRecords(ctx, 100)
			if ctx.Err() != nil {
				cl.AllowRebalance()
				return
			}
			fs.EachRecord(func(r *kgo.Record) { seen.add(string(r.Value), name) })
			// Commit what was processed even if stop is under way: stopping must not
			// abandon the commit of records already counted as seen.
			commitCtx, cancelCommit := context.WithTimeout(context.Background(), 10*time.Second)
			if err := cl.CommitUncommittedOffsets(commitCtx); err != nil {
				t.Errorf("%s: commit: %v", name, err)
			}
			cancelCommit()
			cl.AllowRebalance()
		}
	}()
	t.Cleanup(c.stop)
	return c
}

// stop ends the member's loop and closes its client, which leaves the group.
func (c *groupConsumer) stop() {
	if c.cancel == nil {
		return
	}
	c.cancel()
	<-c.done
	c.cl.Close()
	c.cancel = nil
}

// waitFor polls cond until it holds, failing the test with what() after timeout.
func waitFor(t *testing.T, timeout time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v: %s", timeout, what())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// describeGroup describes one group with kadm.
func describeGroup(t *testing.T, adm *kadm.Client, groupID string) kadm.DescribedGroup {
	t.Helper()
	described, err := adm.DescribeGroups(testContext(t), groupID)
	if err != nil {
		t.Fatalf("describe %s: %v", groupID, err)
	}
	return described[groupID]
}

// waitStable waits until the group is Stable with members members sharing every one
// of partitions partitions, and returns how many partitions each member holds.
func waitStable(t *testing.T, adm *kadm.Client, groupID string, members, partitions int) map[string]int {
	t.Helper()
	var last kadm.DescribedGroup
	var counts map[string]int
	waitFor(t, 20*time.Second, func() bool {
		last = describeGroup(t, adm, groupID)
		if last.State != "Stable" || len(last.Members) != members {
			return false
		}
		counts = map[string]int{}
		total := 0
		for _, m := range last.Members {
			a, ok := m.Assigned.AsConsumer()
			if !ok {
				return false
			}
			for _, topic := range a.Topics {
				counts[m.ClientID] += len(topic.Partitions)
				total += len(topic.Partitions)
			}
		}
		return total == partitions
	}, func() string {
		return fmt.Sprintf("group %s is %s with %d members, want Stable with %d sharing %d partitions", groupID, last.State, len(last.Members), members, partitions)
	})
	return counts
}

func TestGroupConsumeAndRebalance(t *testing.T) {
	b := startGroupBroker(t)
	adm := b.Admin()
	balancers := []struct {
		name     string
		balancer kgo.GroupBalancer
	}{
		{"cooperative-sticky", kgo.CooperativeStickyBalancer()},
		{"range (eager)", kgo.RangeBalancer()},
	}
	for i, bal := range balancers {
		t.Run(bal.name, func(t *testing.T) {
			topic, groupID := fmt.Sprintf("events-%d", i), fmt.Sprintf("readers-%d", i)
			createTopic(t, adm, topic, 6, nil)
			want := produceValues(t, b, topic, "a", 6, 50)
			seen := &seenRecords{}
			start := func(name string) *groupConsumer {
				return startGroupConsumer(t, b, groupID, topic, name, seen, kgo.Balancers(bal.balancer))
			}
			c1, c2, c3 := start("c1"), start("c2"), start("c3")
			_ = c1
			counts := waitStable(t, adm, groupID, 3, 6)
			for name, n := range counts {
				if n != 2 {
					t.Errorf("with 3 members %s holds %d partitions, want 2 (%v)", name, n, counts)
				}
			}
			waitFor(t, 20*time.Second, func() bool { return seen.count() == len(want) },
				func() string { return fmt.Sprintf("consumed %d of %d", seen.count(), len(want)) })

			// One leaves: the other two share its partitions.
			want = append(want, produceValues(t, b, topic, "b", 6, 50)...)
			c3.stop()
			counts = waitStable(t, adm, groupID, 2, 6)
			for name, n := range counts {
				if n != 3 {
					t.Errorf("with 2 members %s holds %d partitions, want 3 (%v)", name, n, counts)
				}
			}
			waitFor(t, 20*time.Second, func() bool { return seen.count() == len(want) },
				func() string { return fmt.Sprintf("after a leave: consumed %d of %d", seen.count(), len(want)) })

			// One joins: three again, and nothing is read twice.
			start("c4")
			want = append(want, produceValues(t, b, topic, "c", 6, 50)...)
			counts = waitStable(t, adm, groupID, 3, 6)
			for name, n := range counts {
				if n != 2 {
					t.Errorf("after a join %s holds %d partitions, want 2 (%v)", name, n, counts)
				}
			}
			waitFor(t, 20*time.Second, func() bool { return seen.count() == len(want) },
				func() string { return fmt.Sprintf("after a join: consumed %d of %d", seen.count(), len(want)) })
			seen.check(t, want)
			_ = c2

			// Every partition's commit is its end offset.
			waitCommittedTotal(t, adm, groupID, int64(len(want)))
		})
	}
}

func TestGroupStaticMembership(t *testing.T) {
	b := startGroupBroker(t)
	adm := b.Admin()
	createTopic(t, adm, "static", 4, nil)
	seen := &seenRecords{}
	var aAssigned atomic.Int32
	// a joins first and leads; b is the member that restarts. (A restarted static
	// leader may rebalance by its own choice: franz-go's KIP-814 workaround compares
	// the old assignment with one computed from possibly stale member metadata.)
	a := startGroupConsumer(t, b, "statics", "static", "a", seen, kgo.InstanceID("instance-a"),
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) { aAssigned.Add(1) }))
	waitStable(t, adm, "statics", 1, 4)
	first := startGroupConsumer(t, b, "statics", "static", "b", seen, kgo.InstanceID("instance-b"))
	before := waitStable(t, adm, "statics", 2, 4)
	_, genBefore := a.cl.GroupMetadata()
	oldB := ""
	for _, m := range describeGroup(t, adm, "statics").Members {
		if m.InstanceID == nil {
			t.Fatalf("member %s has no instance id", m.MemberID)
		}
		if *m.InstanceID == "instance-b" {
			oldB = m.MemberID
		}
	}
	// a was assigned when it joined alone and again when b joined; franz-go runs the
	// callback after it has the new generation, so wait for it before counting.
	waitFor(t, 10*time.Second, func() bool { return aAssigned.Load() >= 2 },
		func() string { return fmt.Sprintf("a assigned %d times before the restart, want 2", aAssigned.Load()) })
	aBefore := aAssigned.Load()

	// Restart b: a static member does not leave on close, and its return with the same
	// instance id replaces it without a rebalance.
	first.stop()
	second := startGroupConsumer(t, b, "statics", "static", "b", seen, kgo.InstanceID("instance-b"))
	waitFor(t, 10*time.Second, func() bool {
		id, _ := second.cl.GroupMetadata()
		return id != ""
	}, func() string { return "restarted static member never joined" })
	after := waitStable(t, adm, "statics", 2, 4)
	if before["a"] != after["a"] || before["b"] != after["b"] {
		t.Errorf("assignment changed across a static restart: before %v, after %v", before, after)
	}
	if _, gen := second.cl.GroupMetadata(); gen != genBefore {
		t.Errorf("restarted member is at generation %d, want %d (no rebalance)", gen, genBefore)
	}
	time.Sleep(300 * time.Millisecond) // several heartbeats: a rebalance would show by now
	if _, gen := a.cl.GroupMetadata(); gen != genBefore {
		t.Errorf("the other member is at generation %d after the restart, want %d", gen, genBefore)
	}
	if n := aAssigned.Load() - aBefore; n != 0 {
		t.Errorf("the other member was assigned %d times during the restart, want none", n)
	}
	newB := ""
	for _, m := range describeGroup(t, adm, "statics").Members {
		if *m.InstanceID == "instance-b" {
			newB = m.MemberID
		}
	}
	if newB == "" || newB == oldB {
		t.Errorf("restarted static member has member id %q, want a new one (was %q)", newB, oldB)
	}

	// The replaced member id is fenced.
	req := kmsg.NewPtrHeartbeatRequest()
	req.Group, req.MemberID, req.Generation, req.InstanceID = "statics", oldB, genBefore, kmsg.StringPtr("instance-b")
	resp, err := req.RequestWith(testContext(t), b.Client())
	if err != nil {
		t.Fatal(err)
	}
	if got := kerr.ErrorForCode(resp.ErrorCode); !errors.Is(got, kerr.FencedInstanceID) {
		t.Errorf("heartbeat of the replaced member id: %v, want FENCED_INSTANCE_ID", got)
	}

	// Removing a static member by instance id (what kafka-consumer-groups does) rebalances.
	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Group = "statics"
	leave.Members = []kmsg.LeaveGroupRequestMember{{InstanceID: kmsg.StringPtr("instance-b")}}
	second.stop()
	lresp, err := leave.RequestWith(testContext(t), b.Client())
	if err != nil || lresp.ErrorCode != 0 || lresp.Members[0].ErrorCode != 0 {
		t.Fatalf("leave by instance id: %v %+v", err, lresp)
	}
	if counts := waitStable(t, adm, "statics", 1, 4); counts["a"] != 4 {
		t.Errorf("after b was removed a holds %d partitions, want 4", counts["a"])
	}
}

// joinRaw joins groupID as a member franz-go's balancers understand, by hand, and
// returns its member id and generation once the join barrier completes.
func joinRaw(t *testing.T, cl *kgo.Client, groupID, topic string, session time.Duration) (string, int32, string) {
	t.Helper()
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Topics = []string{topic}
	join := kmsg.NewPtrJoinGroupRequest()
	join.Group, join.ProtocolType = groupID, "consumer"
	join.SessionTimeoutMillis = int32(session / time.Millisecond)
	join.RebalanceTimeoutMillis = 10_000
	join.Protocols = []kmsg.JoinGroupRequestProtocol{
		{Name: "cooperative-sticky", Metadata: meta.AppendTo(nil)},
		{Name: "range", Metadata: meta.AppendTo(nil)},
	}
	for range 2 { // the first join answers MEMBER_ID_REQUIRED with the id to use (KIP-394)
		resp, err := join.RequestWith(testContext(t), cl)
		if err != nil {
			t.Fatal(err)
		}
		switch err := kerr.ErrorForCode(resp.ErrorCode); {
		case errors.Is(err, kerr.MemberIDRequired):
			join.MemberID = resp.MemberID
		case err != nil:
			t.Fatalf("join: %v", err)
		default:
			return resp.MemberID, resp.Generation, resp.LeaderID
		}
	}
	t.Fatal("join did not complete")
	return "", 0, ""
}

func TestGroupSessionTimeout(t *testing.T) {
	b := startGroupBroker(t)
	adm := b.Admin()
	createTopic(t, adm, "sessions", 4, nil)
	seen := &seenRecords{}
	// Eager balancing, so the silent member below gets its share in one rebalance.
	startGroupConsumer(t, b, "sessions", "sessions", "alive", seen, kgo.Balancers(kgo.RangeBalancer()))
	waitStable(t, adm, "sessions", 1, 4)

	// A member that joins and syncs, then never heartbeats again.
	cl := b.Client()
	start := time.Now()
	id, gen, leader := joinRaw(t, cl, "sessions", "sessions", time.Second)
	if leader == id {
		t.Fatal("the silent member became leader; the test expects the franz-go member to lead")
	}
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.MemberID, sync.Generation = "sessions", id, gen
	resp, err := sync.RequestWith(testContext(t), cl)
	if err != nil || resp.ErrorCode != 0 {
		t.Fatalf("sync: %v %v", err, kerr.ErrorForCode(resp.ErrorCode))
	}
	var assigned kmsg.ConsumerMemberAssignment
	if err := assigned.ReadFrom(resp.MemberAssignment); err != nil || len(assigned.Topics) != 1 || len(assigned.Topics[0].Partitions) != 2 {
		t.Fatalf("the silent member was assigned %+v (%v), want 2 of 4 partitions", assigned.Topics, err)
	}
	counts := waitStable(t, adm, "sessions", 2, 4)
	if counts["alive"] != 2 {
		t.Fatalf("with two members the live one holds %d partitions, want 2", counts["alive"])
	}

	// Its session (1s) expires: it is removed and the live member gets everything.
	counts = waitStable(t, adm, "sessions", 1, 4)
	if counts["alive"] != 4 {
		t.Errorf("after the expiry the live member holds %d partitions, want 4", counts["alive"])
	}
	if took := time.Since(start); took < time.Second {
		t.Errorf("the member was removed after %v, before its 1s session could expire", took)
	}
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID, hb.Generation = "sessions", id, gen
	hbResp, err := hb.RequestWith(testContext(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	if got := kerr.ErrorForCode(hbResp.ErrorCode); !errors.Is(got, kerr.UnknownMemberID) {
		t.Errorf("heartbeat of the expired member: %v, want UNKNOWN_MEMBER_ID", got)
	}
}

func TestGroupOffsetsSurviveRestart(t *testing.T) {
	b := startGroupBroker(t)
	createTopic(t, b.Admin(), "durable", 3, nil)
	want := produceValues(t, b, "durable", "v", 3, 40)

	// Consume about half, committing, then leave.
	seen := &seenRecords{}
	c := startGroupConsumer(t, b, "keeper", "durable", "first", seen)
	waitFor(t, 20*time.Second, func() bool { return seen.count() >= len(want)/2 },
		func() string { return fmt.Sprintf("consumed %d of %d", seen.count(), len(want)) })
	c.stop()
	before, err := b.Admin().FetchOffsets(testContext(t), "keeper")
	if err != nil {
		t.Fatal(err)
	}
	committed := int64(0)
	before.Each(func(o kadm.OffsetResponse) { committed += o.At })
	if committed == 0 {
		t.Fatal("nothing was committed before the restart")
	}

	b.Restart()
	ctx := testContext(t)
	var after kadm.OffsetResponses
	waitFor(t, 20*time.Second, func() bool {
		after, err = b.Admin().FetchOffsets(ctx, "keeper")
		return err == nil
	}, func() string { return fmt.Sprintf("fetch offsets after restart: %v", err) })
	before.Each(func(o kadm.OffsetResponse) {
		got, ok := after.Lookup(o.Topic, o.Partition)
		if !ok || got.At != o.At {
			t.Errorf("%s/%d: committed %d before the restart, %d (found %v) after", o.Topic, o.Partition, o.At, got.At, ok)
		}
	})
	if g := describeGroup(t, b.Admin(), "keeper"); g.State != "Empty" || g.ProtocolType != "consumer" {
		t.Errorf("after restart the group is %s (%q), want Empty (consumer)", g.State, g.ProtocolType)
	}

	// A new member resumes where the first left off: together they read everything once.
	startGroupConsumer(t, b, "keeper", "durable", "second", seen)
	waitFor(t, 20*time.Second, func() bool { return seen.count() == len(want) },
		func() string { return fmt.Sprintf("consumed %d of %d", seen.count(), len(want)) })
	time.Sleep(200 * time.Millisecond) // a duplicate would arrive by now
	seen.check(t, want)
}

func TestGroupAdmin(t *testing.T) {
	b := startGroupBroker(t)
	adm := b.Admin()
	ctx := testContext(t)
	createTopic(t, adm, "orders", 2, nil)
	createTopic(t, adm, "audit", 1, nil)

	t.Run("fetch offsets of an unknown group", func(t *testing.T) {
		offsets, err := adm.FetchOffsets(ctx, "nobody")
		if err != nil || len(offsets) != 0 {
			t.Fatalf("offsets %v, err %v; want none", offsets, err)
		}
		fetched, err := adm.FetchOffsetsForTopics(ctx, "nobody", "orders")
		if err != nil {
			t.Fatal(err)
		}
		fetched.Each(func(o kadm.OffsetResponse) {
			if o.At != -1 || o.Err != nil {
				t.Errorf("%s/%d: offset %d err %v, want -1 and no error", o.Topic, o.Partition, o.At, o.Err)
			}
		})
		if g := describeGroup(t, adm, "nobody"); !errors.Is(g.Err, kerr.GroupIDNotFound) && g.State != "Dead" {
			t.Errorf("describe unknown group: state %s err %v", g.State, g.Err)
		}
	})

	t.Run("commit, fetch, delete offsets and the group", func(t *testing.T) {
		var commits kadm.Offsets
		commits.Add(kadm.Offset{Topic: "orders", Partition: 0, At: 7, LeaderEpoch: 0, Metadata: "m0"})
		commits.Add(kadm.Offset{Topic: "orders", Partition: 1, At: 9, LeaderEpoch: -1})
		commits.Add(kadm.Offset{Topic: "audit", Partition: 0, At: 3, LeaderEpoch: -1})
		if err := adm.CommitAllOffsets(ctx, "admin-group", commits); err != nil {
			t.Fatalf("commit: %v", err)
		}
		fetched, err := adm.FetchOffsets(ctx, "admin-group")
		if err != nil {
			t.Fatal(err)
		}
		if o, _ := fetched.Lookup("orders", 0); o.At != 7 || o.Metadata != "m0" || o.LeaderEpoch != 0 {
			t.Errorf("orders/0: %+v, want 7 with metadata m0 and epoch 0", o.Offset)
		}
		if o, _ := fetched.Lookup("audit", 0); o.At != 3 {
			t.Errorf("audit/0: %+v", o.Offset)
		}
		listed, err := adm.ListGroups(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if g, ok := listed["admin-group"]; !ok || g.State != "Empty" {
			t.Errorf("ListGroups: %+v, want admin-group Empty", listed)
		}

		// Offsets of unknown topics are refused.
		var bad kadm.Offsets
		bad.Add(kadm.Offset{Topic: "no-such-topic", Partition: 0, At: 1})
		resps, err := adm.CommitOffsets(ctx, "admin-group", bad)
		if err != nil {
			t.Fatal(err)
		}
		if e := resps.Error(); !errors.Is(e, kerr.UnknownTopicOrPartition) {
			t.Errorf("commit to an unknown topic: %v, want UNKNOWN_TOPIC_OR_PARTITION", e)
		}

		deleted, err := adm.DeleteOffsets(ctx, "admin-group", kadm.TopicsSet{"audit": {0: {}}})
		if err != nil || deleted.Error() != nil {
			t.Fatalf("delete offsets: %v %v", err, deleted.Error())
		}
		fetched, _ = adm.FetchOffsets(ctx, "admin-group")
		if _, ok := fetched.Lookup("audit", 0); ok {
			t.Errorf("audit/0 still committed after DeleteOffsets")
		}

		resp, err := adm.DeleteGroup(ctx, "admin-group")
		if err != nil || resp.Err != nil {
			t.Fatalf("delete group: %v %v", err, resp.Err)
		}
		if fetched, _ := adm.FetchOffsets(ctx, "admin-group"); len(fetched) != 0 {
			t.Errorf("offsets left after DeleteGroups: %v", fetched)
		}
		if resp, _ := adm.DeleteGroup(ctx, "admin-group"); !errors.Is(resp.Err, kerr.GroupIDNotFound) {
			t.Errorf("deleting it again: %v, want GROUP_ID_NOT_FOUND", resp.Err)
		}
	})

	t.Run("deleting a topic drops its committed offsets", func(t *testing.T) {
		createTopic(t, adm, "doomed", 1, nil)
		var commits kadm.Offsets
		commits.Add(kadm.Offset{Topic: "doomed", Partition: 0, At: 4, LeaderEpoch: -1})
		commits.Add(kadm.Offset{Topic: "orders", Partition: 0, At: 2, LeaderEpoch: -1})
		if err := adm.CommitAllOffsets(ctx, "watcher", commits); err != nil {
			t.Fatal(err)
		}
		if err := adminDeleteTopic(t, adm, "doomed"); err != nil {
			t.Fatal(err)
		}
		var fetched kadm.OffsetResponses
		waitFor(t, 10*time.Second, func() bool {
			fetched, _ = adm.FetchOffsets(ctx, "watcher")
			_, stillThere := fetched.Lookup("doomed", 0)
			return !stillThere
		}, func() string { return fmt.Sprintf("offsets of the deleted topic remain: %v", fetched) })
		if o, ok := fetched.Lookup("orders", 0); !ok || o.At != 2 {
			t.Errorf("offsets of a live topic went with it: %v", fetched)
		}
	})

	t.Run("a group with members", func(t *testing.T) {
		seen := &seenRecords{}
		produceValues(t, b, "orders", "o", 2, 5)
		c := startGroupConsumer(t, b, "busy", "orders", "member", seen)
		waitStable(t, adm, "busy", 1, 2)
		waitFor(t, 10*time.Second, func() bool { return seen.count() == 10 }, func() string { return "records not consumed" })
		var extra kadm.Offsets
		extra.Add(kadm.Offset{Topic: "audit", Partition: 0, At: 1, LeaderEpoch: -1})
		if resps, err := adm.CommitOffsets(ctx, "busy", extra); err != nil || !errors.Is(resps.Error(), kerr.UnknownMemberID) {
			t.Errorf("a simple commit to a group with members: %v %v, want UNKNOWN_MEMBER_ID", err, resps.Error())
		}

		g := describeGroup(t, adm, "busy")
		if g.State != "Stable" || g.ProtocolType != "consumer" || g.Protocol != "cooperative-sticky" || len(g.Members) != 1 {
			t.Fatalf("describe: %+v", g)
		}
		m := g.Members[0]
		if m.ClientID != "member" || m.ClientHost != "/127.0.0.1" {
			t.Errorf("member client %q host %q, want member and /127.0.0.1", m.ClientID, m.ClientHost)
		}
		if join, ok := m.Join.AsConsumer(); !ok || !slices.Equal(join.Topics, []string{"orders"}) {
			t.Errorf("member subscription %+v", join)
		}
		listed, err := adm.ListGroups(ctx, "Stable")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := listed["busy"]; !ok || len(listed) != 1 {
			t.Errorf("ListGroups(Stable): %v, want only busy", listed.Groups())
		}

		if resp, _ := adm.DeleteGroup(ctx, "busy"); !errors.Is(resp.Err, kerr.NonEmptyGroup) {
			t.Errorf("delete a group with members: %v, want NON_EMPTY_GROUP", resp.Err)
		}
		deleted, err := adm.DeleteOffsets(ctx, "busy", kadm.TopicsSet{"orders": {0: {}}})
		if err != nil {
			t.Fatal(err)
		}
		if e := deleted.Error(); !errors.Is(e, kerr.GroupSubscribedToTopic) {
			t.Errorf("delete offsets of a subscribed topic: %v, want GROUP_SUBSCRIBED_TO_TOPIC", e)
		}

		c.stop()
		waitFor(t, 10*time.Second, func() bool { return describeGroup(t, adm, "busy").State == "Empty" },
			func() string { return "group never became empty after its member left" })
		if resp, err := adm.DeleteGroup(ctx, "busy"); err != nil || resp.Err != nil {
			t.Errorf("delete after the member left: %v %v", err, resp.Err)
		}
	})
}

func TestGroupProtocolErrors(t *testing.T) {
	b := startGroupBroker(t)
	createTopic(t, b.Admin(), "raw", 1, nil)
	cl := b.Client()
	ctx := testContext(t)

	// Session timeouts outside group.min/max.session.timeout.ms are refused.
	join := kmsg.NewPtrJoinGroupRequest()
	join.Group, join.ProtocolType, join.SessionTimeoutMillis = "raw", "consumer", 100
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range"}}
	resp, err := join.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if got := kerr.ErrorForCode(resp.ErrorCode); !errors.Is(got, kerr.InvalidSessionTimeout) {
		t.Errorf("session timeout 100ms: %v, want INVALID_SESSION_TIMEOUT", got)
	}

	// A member of another protocol type cannot join.
	id, gen, _ := joinRaw(t, cl, "raw", "raw", 5*time.Second)
	other := kmsg.NewPtrJoinGroupRequest()
	other.Group, other.ProtocolType, other.SessionTimeoutMillis = "raw", "connect", 5000
	other.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range"}}
	other.MemberID = "x"
	if resp, err := other.RequestWith(ctx, cl); err != nil || !errors.Is(kerr.ErrorForCode(resp.ErrorCode), kerr.InconsistentGroupProtocol) {
		t.Errorf("join with another protocol type: %v %v, want INCONSISTENT_GROUP_PROTOCOL", err, kerr.ErrorForCode(resp.ErrorCode))
	}

	// Commits and heartbeats of a wrong generation, and an unknown member.
	topics, err := b.Admin().ListTopics(ctx, "raw")
	if err != nil {
		t.Fatal(err)
	}
	commit := func(member string, generation int32) error {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Group, req.MemberID, req.Generation = "raw", member, generation
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic, rt.TopicID = "raw", topics["raw"].ID // v10 names topics by id
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Offset = 1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		return kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode)
	}
	if err := commit(id, gen+1); !errors.Is(err, kerr.IllegalGeneration) {
		t.Errorf("commit with a future generation: %v, want ILLEGAL_GENERATION", err)
	}
	if err := commit("stranger", gen); !errors.Is(err, kerr.UnknownMemberID) {
		t.Errorf("commit by an unknown member: %v, want UNKNOWN_MEMBER_ID", err)
	}
	// Between JoinGroup and SyncGroup the generation's commits wait for the assignment.
	if err := commit(id, gen); !errors.Is(err, kerr.RebalanceInProgress) {
		t.Errorf("commit before SyncGroup: %v, want REBALANCE_IN_PROGRESS", err)
	}
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.MemberID, sync.Generation = "raw", id, gen
	sync.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{{MemberID: id, MemberAssignment: []byte{0, 0, 0, 0, 0, 0, 0, 0}}}
	if resp, err := sync.RequestWith(ctx, cl); err != nil || resp.ErrorCode != 0 {
		t.Fatalf("sync: %v %v", err, kerr.ErrorForCode(resp.ErrorCode))
	}
	if err := commit(id, gen); err != nil {
		t.Errorf("commit by the member: %v", err)
	}

	// Leave by member id; leaving twice is UNKNOWN_MEMBER_ID.
	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Group = "raw"
	leave.Members = []kmsg.LeaveGroupRequestMember{{MemberID: id}, {MemberID: "stranger"}}
	lresp, err := leave.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if lresp.ErrorCode != 0 || lresp.Members[0].ErrorCode != 0 || !errors.Is(kerr.ErrorForCode(lresp.Members[1].ErrorCode), kerr.UnknownMemberID) {
		t.Errorf("leave: top %v, members %v and %v", kerr.ErrorForCode(lresp.ErrorCode),
			kerr.ErrorForCode(lresp.Members[0].ErrorCode), kerr.ErrorForCode(lresp.Members[1].ErrorCode))
	}
	if g := describeGroup(t, b.Admin(), "raw"); g.State != "Empty" {
		t.Errorf("after the only member left the group is %s, want Empty", g.State)
	}

	// FindCoordinator: batched group keys (v4+) all land here; transactions are not served yet.
	find := kmsg.NewPtrFindCoordinatorRequest()
	find.CoordinatorKeys = []string{"raw", "other", ""}
	fresp, err := find.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range fresp.Coordinators {
		if c.ErrorCode != 0 || c.NodeID < 0 {
			t.Errorf("coordinator for %q: node %d err %v", c.Key, c.NodeID, kerr.ErrorForCode(c.ErrorCode))
		}
	}
	find.CoordinatorType = 1
	find.CoordinatorKeys = []string{"txn"}
	if fresp, err := find.RequestWith(ctx, cl); err != nil || fresp.Coordinators[0].ErrorCode != 0 || fresp.Coordinators[0].NodeID < 0 {
		t.Errorf("transaction coordinator: %v %+v, want a coordinator", err, fresp)
	}
}

// TestGroupOffsetsSurviveKill commits offsets to a `nagare serve` process, kills it with
// SIGKILL and starts it again on the same data dir: the acknowledged commits and the
// group's membership come back from __consumer_offsets.
func TestGroupOffsetsSurviveKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the nagare binary")
	}
	bin := buildNagare(t)
	dataDir := t.TempDir()
	p := startNagare(t, bin, dataDir)
	adm := kadm.NewClient(p.client(t))
	ctx := testContext(t)
	createTopic(t, adm, "killed", 3, nil)
	var commits kadm.Offsets
	for part := range int32(3) {
		commits.Add(kadm.Offset{Topic: "killed", Partition: part, At: int64(10 * (part + 1)), LeaderEpoch: -1, Metadata: "before the kill"})
	}
	if err := adm.CommitAllOffsets(ctx, "survivors", commits); err != nil {
		t.Fatalf("commit: %v", err)
	}
	member := p.client(t, kgo.ConsumerGroup("members"), kgo.ConsumeTopics("killed"))
	waitFor(t, 20*time.Second, func() bool {
		_, gen := member.GroupMetadata()
		return gen > 0 && describeGroup(t, adm, "members").State == "Stable"
	}, func() string { return "the member never got a stable assignment" })

	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = p.wait(t, 10*time.Second)
	member.Close()

	p = startNagare(t, bin, dataDir)
	adm = kadm.NewClient(p.client(t))
	var fetched kadm.OffsetResponses
	var err error
	waitFor(t, 20*time.Second, func() bool {
		fetched, err = adm.FetchOffsets(ctx, "survivors")
		return err == nil && len(fetched) > 0
	}, func() string { return fmt.Sprintf("fetch offsets after the kill: %v %v", fetched, err) })
	commits.Each(func(o kadm.Offset) {
		got, ok := fetched.Lookup(o.Topic, o.Partition)
		if !ok || got.At != o.At || got.Metadata != o.Metadata {
			t.Errorf("%s/%d after the kill: %+v (found %v), want %d %q", o.Topic, o.Partition, got.Offset, ok, o.At, o.Metadata)
		}
	})
	// The group with a member was Stable when killed: it comes back Stable with that
	// member, whose session then runs out (no client heartbeats for it any more).
	if g := describeGroup(t, adm, "members"); g.State != "Stable" || len(g.Members) != 1 {
		t.Errorf("after the kill the group is %s with %d members, want Stable with 1", g.State, len(g.Members))
	}
}

// waitCommittedTotal waits until a group's committed offsets add up to total: every
// produced record consumed and committed.
func waitCommittedTotal(t *testing.T, adm *kadm.Client, group string, total int64) {
	t.Helper()
	ctx := testContext(t)
	waitFor(t, 10*time.Second, func() bool {
		offsets, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			return false
		}
		sum := int64(0)
		offsets.Each(func(o kadm.OffsetResponse) { sum += o.At })
		return sum == total
	}, func() string { return "committed offsets never summed to the records produced" })
}
