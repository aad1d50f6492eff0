package group

// KIP-848 consumer groups: the assignors, the revocation rule (no partition is ever
// given to a member while another still owns it), epochs, static members, sessions and
// the rules between classic and consumer groups. Timed tests run on synctest's clock.

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hashicorp/raft"

	"github.com/nagare-dev/nagare/internal/metadata"
)

// testTopics builds metadata images for the consumer group tests.
type testTopics struct {
	t     *testing.T
	fsm   *metadata.FSM
	index uint64
	ids   map[string]metadata.TopicID
}

func newTestTopics(t *testing.T, topics map[string]int32) *testTopics {
	tt := &testTopics{t: t, fsm: metadata.NewFSM(nil, nil), ids: map[string]metadata.TopicID{}}
	tt.apply(metadata.RegisterBroker{NodeID: 1, Host: "localhost", Port: 9092})
	for name, n := range topics {
		id := metadata.NewTopicID()
		tt.ids[name] = id
		tt.apply(metadata.CreateTopic{Name: name, TopicID: id, Partitions: assignments(0, n)})
	}
	return tt
}

func assignments(from, to int32) []metadata.PartitionAssignment {
	var out []metadata.PartitionAssignment
	for p := from; p < to; p++ {
		out = append(out, metadata.PartitionAssignment{Partition: p, Replicas: []int32{1}, Leader: 1, ISR: []int32{1}})
	}
	return out
}

func (tt *testTopics) apply(rec metadata.Record) {
	tt.t.Helper()
	data, err := metadata.EncodeRecord(rec)
	if err != nil {
		tt.t.Fatal(err)
	}
	tt.index++
	if err, _ := tt.fsm.Apply(&raft.Log{Index: tt.index, Data: data}).(error); err != nil {
		tt.t.Fatal(err)
	}
}

// install makes the current image the coordinator's (ApplyMetadata would drop the
// test's in-memory shard: the image has no __consumer_offsets).
func (tt *testTopics) install(c *Coordinator) { c.image.Store(tt.fsm.Image()) }

func sub(topics ...string) map[string]bool {
	out := map[string]bool{}
	for _, t := range topics {
		out[t] = true
	}
	return out
}

func loads(out map[string]partSet) map[string]int {
	l := map[string]int{}
	for id, s := range out {
		l[id] = len(s)
	}
	return l
}

func checkExclusive(t *testing.T, out map[string]partSet) {
	t.Helper()
	seen := map[TopicPartition]string{}
	for id, s := range out {
		for tp := range s {
			if o, ok := seen[tp]; ok {
				t.Fatalf("%v assigned to %s and %s", tp, o, id)
			}
			seen[tp] = id
		}
	}
}

func TestUniformAssignorBalancedAndSticky(t *testing.T) {
	parts := map[string]int32{"a": 6, "b": 1}
	members := []assignorMember{{id: "m1", topics: sub("a", "b")}, {id: "m2", topics: sub("a", "b")}, {id: "m3", topics: sub("a", "b")}}
	first := assignUniform(members, parts)
	checkExclusive(t, first)
	total := 0
	for id, n := range loads(first) {
		if n < 2 || n > 3 {
			t.Fatalf("%s has %d of 7 partitions: %v", id, n, loads(first))
		}
		total += n
	}
	if total != 7 {
		t.Fatalf("assigned %d of 7", total)
	}
	// A fourth member takes only what balance needs; the others keep the rest.
	for i := range members {
		members[i].current = first[members[i].id]
	}
	members = append(members, assignorMember{id: "m4", topics: sub("a", "b")})
	second := assignUniform(members, parts)
	checkExclusive(t, second)
	moved := 0
	for _, m := range members[:3] {
		for tp := range first[m.id] {
			if !second[m.id].has(tp) {
				moved++
			}
		}
	}
	if len(second["m4"]) != 1 || moved != 1 {
		t.Fatalf("m4 got %d, %d moved; want 1 and 1: %v", len(second["m4"]), moved, loads(second))
	}
	// A member leaving: only its partitions move.
	for i := range members {
		members[i].current = second[members[i].id]
	}
	third := assignUniform(members[1:], parts)
	for _, m := range members[1:] {
		for tp := range second[m.id] {
			if !third[m.id].has(tp) {
				t.Fatalf("%s lost %v when m1 left", m.id, tp)
			}
		}
	}
}

func TestUniformAssignorMixedSubscriptions(t *testing.T) {
	parts := map[string]int32{"a": 4, "b": 4}
	members := []assignorMember{{id: "m1", topics: sub("a")}, {id: "m2", topics: sub("a", "b")}, {id: "m3", topics: sub("b")}}
	out := assignUniform(members, parts)
	checkExclusive(t, out)
	for id, s := range out {
		for tp := range s {
			if !members[map[string]int{"m1": 0, "m2": 1, "m3": 2}[id]].topics[tp.Topic] {
				t.Fatalf("%s got %v it does not subscribe to", id, tp)
			}
		}
	}
	if l := loads(out); l["m1"]+l["m2"]+l["m3"] != 8 || l["m1"] < 2 || l["m3"] < 2 || l["m2"] < 2 {
		t.Fatalf("unbalanced: %v", l)
	}
}

func TestRangeAssignor(t *testing.T) {
	parts := map[string]int32{"a": 5, "b": 2}
	members := []assignorMember{{id: "x", topics: sub("a", "b")}, {id: "y", topics: sub("a", "b")}, {id: "z", topics: sub("a")}}
	out := assignRange(members, parts)
	want := map[string][]TopicPartition{
		"x": {{"a", 0}, {"a", 1}, {"b", 0}},
		"y": {{"a", 2}, {"a", 3}, {"b", 1}},
		"z": {{"a", 4}},
	}
	for id, w := range want {
		if got := out[id].sorted(); fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("%s: got %v, want %v", id, got, w)
		}
	}
}

// fakeMember is a well-behaved client: it owns exactly what it was last given.
type fakeMember struct {
	id    string
	epoch int32
	owned []OwnedTopic
}

func heartbeat(c *Coordinator, m *fakeMember, topics []string) (ConsumerHeartbeatResult, error) {
	req := ConsumerHeartbeatRequest{GroupID: "g", MemberID: m.id, MemberEpoch: m.epoch, RebalanceTimeout: -1, Owned: m.owned}
	if m.epoch == 0 {
		req.SubscribedTopics, req.Owned = topics, nil
		req.RebalanceTimeout = 30 * time.Second
	}
	res, err := c.ConsumerHeartbeat(req)
	if err == nil {
		m.id, m.epoch = res.MemberID, res.MemberEpoch
		if res.Assignment != nil {
			m.owned = res.Assignment
		}
	}
	return res, err
}

func mustHeartbeat(t *testing.T, c *Coordinator, m *fakeMember, topics ...string) ConsumerHeartbeatResult {
	t.Helper()
	res, err := heartbeat(c, m, topics)
	if err != nil {
		t.Fatalf("heartbeat of %q: %v", m.id, err)
	}
	return res
}

func count(owned []OwnedTopic) int {
	n := 0
	for _, t := range owned {
		n += len(t.Partitions)
	}
	return n
}

// checkNoSharedPartitions is the revocation rule as clients see it.
func checkNoSharedPartitions(t *testing.T, members []*fakeMember) {
	t.Helper()
	seen := map[string]string{}
	for _, m := range members {
		for _, ot := range m.owned {
			for _, p := range ot.Partitions {
				k := fmt.Sprintf("%s-%d", ot.Topic, p)
				if o, ok := seen[k]; ok {
					t.Fatalf("%s owned by %s and %s", k, o, m.id)
				}
				seen[k] = m.id
			}
		}
	}
}

func TestConsumerRevokeBeforeAssign(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := newTestCoordinator(testSettings)
		defer c.Close()
		newTestTopics(t, map[string]int32{"a": 6}).install(c)
		a, b := &fakeMember{id: "a"}, &fakeMember{id: "b"}
		mustHeartbeat(t, c, a, "a")
		if count(a.owned) != 6 || a.epoch != 1 {
			t.Fatalf("a: epoch %d owns %d", a.epoch, count(a.owned))
		}
		mustHeartbeat(t, c, b, "a")
		if count(b.owned) != 0 || b.epoch != 2 {
			t.Fatalf("b must wait for a to revoke: epoch %d owns %v", b.epoch, b.owned)
		}
		// a is told to keep 3: its epoch stays until it has revoked the others.
		res := mustHeartbeat(t, c, a)
		if count(res.Assignment) != 3 || res.MemberEpoch != 1 {
			t.Fatalf("a: epoch %d assigned %v", res.MemberEpoch, res.Assignment)
		}
		d, _ := c.DescribeConsumerGroup("g")
		if d.State != ConsumerReconciling || d.Epoch != 2 {
			t.Fatalf("described %+v", d)
		}
		mustHeartbeat(t, c, b)
		if count(b.owned) != 0 {
			t.Fatalf("b got partitions a has not acknowledged revoking: %v", b.owned)
		}
		mustHeartbeat(t, c, a) // reports owning 3: the revocation is acknowledged
		if a.epoch != 2 {
			t.Fatalf("a at epoch %d after revoking", a.epoch)
		}
		mustHeartbeat(t, c, b)
		if count(b.owned) != 3 {
			t.Fatalf("b owns %v", b.owned)
		}
		checkNoSharedPartitions(t, []*fakeMember{a, b})
		if d, _ := c.DescribeConsumerGroup("g"); d.State != ConsumerStable || len(d.Members) != 2 {
			t.Fatalf("described %+v", d)
		}
		if l, _ := c.ListGroups(nil, nil); len(l) != 1 || l[0].Type != "consumer" || l[0].State != "Stable" {
			t.Fatalf("listed %+v", l)
		}
	})
}

// TestConsumerRevocationRuleRandom runs random joins, leaves and heartbeats of
// well-behaved members and checks after every step that no two own a partition, and
// that a quiet group converges to its whole target.
func TestConsumerRevocationRuleRandom(t *testing.T) {
	for _, assignor := range []string{UniformAssignor, RangeAssignor} {
		t.Run(assignor, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, _ := newTestCoordinator(testSettings)
				defer c.Close()
				newTestTopics(t, map[string]int32{"a": 7, "b": 3}).install(c)
				rng := rand.New(rand.NewPCG(1, 2))
				var members []*fakeMember
				for step := range 400 {
					switch r := rng.IntN(10); {
					case r == 0 && len(members) < 6 || len(members) == 0:
						m := &fakeMember{id: fmt.Sprintf("m%d", step)}
						res, err := c.ConsumerHeartbeat(ConsumerHeartbeatRequest{GroupID: "g", MemberID: m.id,
							SubscribedTopics: []string{"a", "b"}, ServerAssignor: &assignor, RebalanceTimeout: time.Minute})
						if err != nil {
							t.Fatal(err)
						}
						m.epoch, m.owned = res.MemberEpoch, res.Assignment
						members = append(members, m)
					case r == 1 && len(members) > 1:
						i := rng.IntN(len(members))
						if _, err := c.ConsumerHeartbeat(ConsumerHeartbeatRequest{GroupID: "g", MemberID: members[i].id, MemberEpoch: leaveEpoch}); err != nil {
							t.Fatal(err)
						}
						members = append(members[:i], members[i+1:]...)
					default:
						mustHeartbeat(t, c, members[rng.IntN(len(members))])
					}
					checkNoSharedPartitions(t, members)
				}
				for range 4 {
					for _, m := range members {
						mustHeartbeat(t, c, m)
					}
				}
				total := 0
				for _, m := range members {
					total += count(m.owned)
				}
				if d, _ := c.DescribeConsumerGroup("g"); d.State != ConsumerStable || total != 10 || d.Assignor != assignor {
					t.Fatalf("after quiet heartbeats: %s with %d of 10 partitions owned, assignor %s", d.State, total, d.Assignor)
				}
			})
		})
	}
}

func TestConsumerEpochsAndErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := newTestCoordinator(testSettings)
		defer c.Close()
		newTestTopics(t, map[string]int32{"a": 2}).install(c)
		a := &fakeMember{id: "a"}
		mustHeartbeat(t, c, a, "a")
		stale := *a
		stale.epoch = 7
		if _, err := heartbeat(c, &stale, nil); !errors.Is(err, ErrFencedMemberEpoch) {
			t.Fatalf("wrong epoch: %v", err)
		}
		if _, err := heartbeat(c, &fakeMember{id: "nobody", epoch: 3}, nil); !errors.Is(err, ErrUnknownMemberID) {
			t.Fatalf("unknown member: %v", err)
		}
		bad := "sticky"
		if _, err := c.ConsumerHeartbeat(ConsumerHeartbeatRequest{GroupID: "g", MemberID: "x", SubscribedTopics: []string{"a"}, ServerAssignor: &bad}); !errors.Is(err, ErrUnsupportedAssignor) {
			t.Fatalf("assignor: %v", err)
		}
		re := "a("
		if _, err := c.ConsumerHeartbeat(ConsumerHeartbeatRequest{GroupID: "g", MemberID: "x", SubscribedRegex: &re}); !errors.Is(err, ErrInvalidRegularExpression) {
			t.Fatalf("regex: %v", err)
		}
		if _, err := c.ConsumerHeartbeat(ConsumerHeartbeatRequest{GroupID: "g", MemberID: "x"}); !errors.Is(err, ErrInvalidRequest) {
			t.Fatalf("join without subscription: %v", err)
		}

		// Commits: the member's current epoch with v9+.
		commit := func(ref MemberRef, version int16) error {
			return c.CommitOffsets(CommitRequest{MemberRef: ref, Version: version,
				Offsets: []OffsetCommit{{TopicPartition: TopicPartition{"a", 0}, Offset: 5}}})[0]
		}
		if err := commit(MemberRef{GroupID: "g", MemberID: a.id, Generation: a.epoch}, 9); err != nil {
			t.Fatal(err)
		}
		if err := commit(MemberRef{GroupID: "g", MemberID: a.id, Generation: a.epoch - 1}, 9); !errors.Is(err, ErrStaleMemberEpoch) {
			t.Fatalf("stale commit: %v", err)
		}
		if err := commit(MemberRef{GroupID: "g", MemberID: a.id, Generation: a.epoch}, 8); !errors.Is(err, ErrUnsupportedVersion) {
			t.Fatalf("v8 commit: %v", err)
		}
		if err := commit(MemberRef{GroupID: "g", Generation: -1}, 9); !errors.Is(err, ErrUnknownMemberID) {
			t.Fatalf("simple commit to a group with members: %v", err)
		}
		if _, err := c.FetchMemberOffsets(MemberRef{GroupID: "g", MemberID: a.id, Generation: 99}, nil); !errors.Is(err, ErrStaleMemberEpoch) {
			t.Fatalf("stale fetch: %v", err)
		}
		if got, err := c.FetchMemberOffsets(MemberRef{GroupID: "g", MemberID: a.id, Generation: a.epoch}, nil); err != nil || got[TopicPartition{"a", 0}].Offset != 5 {
			t.Fatalf("fetch: %v %v", got, err)
		}

		// Classic and consumer groups do not mix.
		if r := join(c, joiner("")).must(t); !errors.Is(r.Err, ErrInconsistentProtocol) {
			t.Fatalf("classic join of a consumer group: %v", r.Err)
		}
		if _, err := c.DescribeGroup("g"); !errors.Is(err, ErrGroupIDNotFound) {
			t.Fatalf("DescribeGroups of a consumer group: %v", err)
		}
		if errs, err := c.DeleteOffsets("g", []TopicPartition{{"a", 0}, {"gone", 0}}); err != nil ||
			!errors.Is(errs[0], ErrGroupSubscribedToTopic) || errs[1] != nil {
			t.Fatalf("OffsetDelete of a consumer group: %v %v", errs, err)
		}
		if err := c.DeleteGroup("g"); !errors.Is(err, ErrNonEmptyGroup) {
			t.Fatalf("delete: %v", err)
		}

		// Leaving empties the group; the offsets stay; a classic member may then join.
		res, err := c.ConsumerHeartbeat(ConsumerHeartbeatRequest{GroupID: "g", MemberID: a.id, MemberEpoch: leaveEpoch})
		if err != nil || res.MemberEpoch != leaveEpoch {
			t.Fatalf("leave: %v %v", res, err)
		}
		if l, _ := c.ListGroups(nil, nil); len(l) != 1 || l[0].State != "Empty" || l[0].Type != "consumer" {
			t.Fatalf("listed %+v", l)
		}
		classic := join(c, joiner(""))
		time.Sleep(testSettings.InitialRebalanceDelay + time.Millisecond)
		if r := classic.must(t); r.Err != nil {
			t.Fatalf("classic join of an empty consumer group: %v", r.Err)
		}
		if _, err := heartbeat(c, &fakeMember{id: "late"}, []string{"a"}); !errors.Is(err, ErrGroupIDNotFound) {
			t.Fatalf("consumer join of a classic group with members: %v", err)
		}
		if got, _ := c.FetchOffsets("g", nil); got[TopicPartition{"a", 0}].Offset != 5 {
			t.Fatalf("offsets lost: %v", got)
		}
	})
}

func TestConsumerStaticMemberAndSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := testSettings
		st.ConsumerSessionTimeout = 10 * time.Second
		c, _ := newTestCoordinator(st)
		defer c.Close()
		newTestTopics(t, map[string]int32{"a": 4}).install(c)
		join := func(id, instance string) (ConsumerHeartbeatResult, error) {
			return c.ConsumerHeartbeat(ConsumerHeartbeatRequest{GroupID: "g", MemberID: id, InstanceID: instance,
				SubscribedTopics: []string{"a"}, RebalanceTimeout: time.Minute})
		}
		s1, err := join("s1", "inst")
		if err != nil {
			t.Fatal(err)
		}
		d := &fakeMember{id: "d"}
		mustHeartbeat(t, c, d, "a")
		s := &fakeMember{id: "s1", epoch: s1.MemberEpoch, owned: s1.Assignment}
		mustHeartbeat(t, c, s) // revokes 2
		mustHeartbeat(t, c, s)
		mustHeartbeat(t, c, d)
		if count(s.owned) != 2 || count(d.owned) != 2 {
			t.Fatalf("s owns %v, d owns %v", s.owned, d.owned)
		}
		if _, err := join("s2", "inst"); !errors.Is(err, ErrUnreleasedInstanceID) {
			t.Fatalf("second instance: %v", err)
		}
		if r, err := c.ConsumerHeartbeat(ConsumerHeartbeatRequest{GroupID: "g", MemberID: s.id, InstanceID: "inst", MemberEpoch: staticLeaveEpoch}); err != nil || r.MemberEpoch != staticLeaveEpoch {
			t.Fatalf("static leave: %v %v", r, err)
		}
		before, _ := c.DescribeConsumerGroup("g")
		back, err := join("s2", "inst")
		if err != nil || count(back.Assignment) != 2 || back.MemberEpoch != s.epoch {
			t.Fatalf("static rejoin: %+v %v", back, err)
		}
		if after, _ := c.DescribeConsumerGroup("g"); after.Epoch != before.Epoch {
			t.Fatalf("static rejoin rebalanced: epoch %d → %d", before.Epoch, after.Epoch)
		}
		// s2 stops heartbeating: its session ends and d takes everything.
		for range 3 {
			time.Sleep(4 * time.Second)
			mustHeartbeat(t, c, d)
		}
		mustHeartbeat(t, c, d)
		if count(d.owned) != 4 {
			t.Fatalf("after s2's session: d owns %v", d.owned)
		}
	})
}

func TestConsumerMetadataChangeAndRegex(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := newTestCoordinator(testSettings)
		defer c.Close()
		tt := newTestTopics(t, map[string]int32{"orders": 2, "other": 3})
		tt.install(c)
		re := "ord.*"
		res, err := c.ConsumerHeartbeat(ConsumerHeartbeatRequest{GroupID: "g", MemberID: "m", SubscribedRegex: &re, RebalanceTimeout: time.Minute})
		if err != nil || count(res.Assignment) != 2 || res.Assignment[0].ID != tt.ids["orders"] {
			t.Fatalf("regex join: %+v %v", res, err)
		}
		m := &fakeMember{id: "m", epoch: res.MemberEpoch, owned: res.Assignment}
		tt.apply(metadata.CreatePartitions{TopicID: tt.ids["orders"], New: assignments(2, 5)})
		tt.apply(metadata.CreateTopic{Name: "orders-eu", TopicID: metadata.NewTopicID(), Partitions: assignments(0, 1)})
		tt.install(c)
		mustHeartbeat(t, c, m)
		if count(m.owned) != 6 || m.epoch != res.MemberEpoch+1 {
			t.Fatalf("after growth: epoch %d owns %v", m.epoch, m.owned)
		}
	})
}
