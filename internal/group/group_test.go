package group

// The state machine's timing, run on testing/synctest's fake clock against an offsets
// partition kept in memory: the initial rebalance delay, the rebalance, session,
// pending-member and pending-sync deadlines, offset expiry, and replaying what was
// written. The broker-level tests (internal/broker/group_test.go) run real clients.

import (
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/config"
	"github.com/nagare-dev/nagare/internal/log"
)

// memStore is an offsets partition in memory: it checks and keeps what is appended.
type memStore struct {
	mu       sync.Mutex
	data     []byte
	next     int64
	maxBytes int
	fail     error
}

func (m *memStore) Append(records []byte, _ int16, _ time.Time) (log.AppendResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return log.AppendResult{}, m.fail
	}
	if _, _, err := log.ValidateBatches(records, m.Config().MaxMessageBytes); err != nil {
		return log.AppendResult{}, err
	}
	base := m.next
	for pos := 0; pos < len(records); {
		size := 12 + int(binary.BigEndian.Uint32(records[pos+8:]))
		binary.BigEndian.PutUint64(records[pos:], uint64(m.next))
		m.next += int64(binary.BigEndian.Uint32(records[pos+57:]))
		pos += size
	}
	m.data = append(m.data, records...)
	return log.AppendResult{BaseOffset: base, LastOffset: m.next - 1}, nil
}

func (m *memStore) Config() config.Topic {
	if m.maxBytes > 0 {
		return config.Topic{MaxMessageBytes: m.maxBytes}
	}
	return config.Topic{MaxMessageBytes: 1 << 20}
}

func (m *memStore) bytes() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.data)
}

var testSettings = Settings{
	MinSessionTimeout:     time.Second,
	MaxSessionTimeout:     time.Minute,
	InitialRebalanceDelay: 3 * time.Second,
	MaxSize:               100,
	MaxMetadataBytes:      4096,
	OffsetsRetention:      time.Hour,
	RetentionCheck:        time.Minute,
}

// newTestCoordinator serves one offsets partition from memory. Call inside a synctest
// bubble and Close before the bubble ends.
func newTestCoordinator(st Settings) (*Coordinator, *memStore) {
	c := New(Config{NodeID: 1, Settings: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	store := &memStore{}
	s := &shard{coord: c, store: store, cancel: func() {}, state: shardLoaded, groups: map[string]*group{}}
	c.shards.Install(0, 1, s)
	return c, store
}

// pendingJoin is a JoinGroup waiting for its answer.
type pendingJoin chan JoinResult

func join(c *Coordinator, req JoinRequest) pendingJoin {
	ch := make(pendingJoin, 1)
	c.Join(req, func(r JoinResult) { ch <- r })
	return ch
}

// result returns the answer if there is one yet.
func (p pendingJoin) result() (JoinResult, bool) {
	select {
	case r := <-p:
		p <- r
		return r, true
	default:
		return JoinResult{}, false
	}
}

func (p pendingJoin) must(t *testing.T) JoinResult {
	t.Helper()
	synctest.Wait()
	r, ok := p.result()
	if !ok {
		t.Fatal("JoinGroup not answered")
	}
	return r
}

func joiner(id string, protocols ...string) JoinRequest {
	req := JoinRequest{GroupID: "g", MemberID: id, ClientID: "client", ProtocolType: "consumer",
		SessionTimeout: 10 * time.Second, RebalanceTimeout: 10 * time.Second}
	if len(protocols) == 0 {
		protocols = []string{"range"}
	}
	meta := kmsg.NewConsumerMemberMetadata() // a consumer subscribed to topic "a"
	meta.Topics = []string{"a"}
	for _, p := range protocols {
		req.Protocols = append(req.Protocols, Protocol{Name: p, Metadata: meta.AppendTo(nil)})
	}
	return req
}

func syncMember(t *testing.T, c *Coordinator, id string, gen int32, assignments map[string][]byte) chan SyncResult {
	t.Helper()
	ch := make(chan SyncResult, 1)
	c.Sync(SyncRequest{GroupID: "g", MemberID: id, Generation: gen, Assignments: assignments}, func(r SyncResult) { ch <- r })
	return ch
}

// stableGroup joins the given members (no KIP-394 round trip), waits out the initial
// delay and syncs them all; it returns their ids and the generation.
func stableGroup(t *testing.T, c *Coordinator, n int) ([]string, int32) {
	t.Helper()
	var joins []pendingJoin
	for range n {
		joins = append(joins, join(c, joiner("")))
	}
	// Members after the first arrive inside the initial delay, which extends it once.
	time.Sleep(2*testSettings.InitialRebalanceDelay + time.Millisecond)
	var ids []string
	var gen int32
	assign := map[string][]byte{}
	for _, j := range joins {
		r := j.must(t)
		if r.Err != nil {
			t.Fatalf("join: %v", r.Err)
		}
		ids, gen = append(ids, r.MemberID), r.Generation
		assign[r.MemberID] = []byte("assignment-of-" + r.MemberID)
	}
	var syncs []chan SyncResult
	for i, id := range ids {
		a := map[string][]byte(nil)
		if i == 0 {
			a = assign // the first to join leads
		}
		syncs = append(syncs, syncMember(t, c, id, gen, a))
	}
	synctest.Wait()
	for i, ch := range syncs {
		select {
		case r := <-ch:
			if r.Err != nil || string(r.Assignment) != "assignment-of-"+ids[i] {
				t.Fatalf("sync of %s: %v %q", ids[i], r.Err, r.Assignment)
			}
		default:
			t.Fatalf("sync of %s not answered", ids[i])
		}
	}
	return ids, gen
}

func state(t *testing.T, c *Coordinator) (string, int) {
	t.Helper()
	d, err := c.DescribeGroup("g")
	if err != nil && !errors.Is(err, ErrGroupIDNotFound) {
		t.Fatal(err)
	}
	return d.State, len(d.Members)
}

func TestInitialRebalanceDelayExtends(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := newTestCoordinator(testSettings)
		defer c.Close()
		a := join(c, joiner(""))
		time.Sleep(2 * time.Second)
		b := join(c, joiner(""))
		// 3s delay; b arrived inside it, so it waits another 3s (within the 10s
		// rebalance timeout): 6s in all.
		time.Sleep(3900 * time.Millisecond)
		synctest.Wait()
		if _, ok := a.result(); ok {
			t.Fatal("join answered before the extended initial delay ended")
		}
		time.Sleep(200 * time.Millisecond)
		ra, rb := a.must(t), b.must(t)
		if ra.Err != nil || rb.Err != nil || ra.Generation != 1 || rb.Generation != 1 {
			t.Fatalf("joins: %+v %+v", ra, rb)
		}
		if ra.LeaderID != ra.MemberID || len(ra.Members) != 2 || len(rb.Members) != 0 {
			t.Errorf("the first member should lead and alone see both members: %+v %+v", ra, rb)
		}
		if s, _ := state(t, c); s != "CompletingRebalance" {
			t.Errorf("state %s after the join barrier, want CompletingRebalance", s)
		}
	})
}

func TestMemberIDRequiredAndPendingExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := newTestCoordinator(testSettings)
		defer c.Close()
		req := joiner("")
		req.RequireKnownMemberID = true
		r := join(c, req).must(t)
		if !errors.Is(r.Err, ErrMemberIDRequired) || r.MemberID == "" {
			t.Fatalf("first join: %+v, want MEMBER_ID_REQUIRED with an id", r)
		}
		// The id is good until the session timeout passes.
		time.Sleep(11 * time.Second)
		late := joiner(r.MemberID)
		if r := join(c, late).must(t); !errors.Is(r.Err, ErrUnknownMemberID) {
			t.Fatalf("join with an expired pending id: %v, want UNKNOWN_MEMBER_ID", r.Err)
		}
		r = join(c, req).must(t)
		j := join(c, joiner(r.MemberID))
		time.Sleep(testSettings.InitialRebalanceDelay + time.Millisecond)
		if r := j.must(t); r.Err != nil || r.Generation != 1 {
			t.Fatalf("join with the pending id: %+v", r)
		}
	})
}

func TestRebalanceTimeoutRemovesMembersThatDoNotRejoin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := newTestCoordinator(testSettings)
		defer c.Close()
		ids, gen := stableGroup(t, c, 2)
		a, b := ids[0], ids[1]
		newcomer := join(c, joiner(""))
		synctest.Wait()
		if err := c.Heartbeat(MemberRef{GroupID: "g", MemberID: a, Generation: gen}); !errors.Is(err, ErrRebalanceInProgress) {
			t.Fatalf("heartbeat during the rebalance: %v, want REBALANCE_IN_PROGRESS", err)
		}
		rejoin := join(c, joiner(a))
		// b keeps heartbeating but never rejoins; the barrier waits the rebalance timeout.
		for range 9 {
			time.Sleep(time.Second)
			if err := c.Heartbeat(MemberRef{GroupID: "g", MemberID: b, Generation: gen}); !errors.Is(err, ErrRebalanceInProgress) {
				t.Fatalf("b's heartbeat: %v", err)
			}
		}
		synctest.Wait()
		if _, ok := rejoin.result(); ok {
			t.Fatal("the barrier ended before the rebalance timeout with a member missing")
		}
		time.Sleep(time.Second + time.Millisecond)
		ra, rn := rejoin.must(t), newcomer.must(t)
		if ra.Err != nil || rn.Err != nil || ra.Generation != gen+1 || len(ra.Members) != 2 {
			t.Fatalf("after the timeout: %+v %+v", ra, rn)
		}
		if err := c.Heartbeat(MemberRef{GroupID: "g", MemberID: b, Generation: gen}); !errors.Is(err, ErrUnknownMemberID) {
			t.Errorf("b's heartbeat after removal: %v, want UNKNOWN_MEMBER_ID", err)
		}
	})
}

func TestSessionExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, store := newTestCoordinator(testSettings)
		defer c.Close()
		ids, gen := stableGroup(t, c, 1)
		for range 3 { // heartbeats keep it alive well past one session
			time.Sleep(8 * time.Second)
			if err := c.Heartbeat(MemberRef{GroupID: "g", MemberID: ids[0], Generation: gen}); err != nil {
				t.Fatalf("heartbeat: %v", err)
			}
		}
		time.Sleep(9 * time.Second)
		synctest.Wait()
		if s, n := state(t, c); s != "Stable" || n != 1 {
			t.Fatalf("before the session expired: %s with %d members", s, n)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if s, n := state(t, c); s != "Empty" || n != 0 {
			t.Fatalf("after the session expired: %s with %d members, want Empty", s, n)
		}
		if err := c.Heartbeat(MemberRef{GroupID: "g", MemberID: ids[0], Generation: gen}); !errors.Is(err, ErrUnknownMemberID) {
			t.Errorf("heartbeat after expiry: %v", err)
		}
		// The empty generation was written: replaying the log finds the group Empty.
		groups := replay(t, c, store)
		if g := groups["g"]; g == nil || g.state != Empty || g.generation != gen+1 || g.protocolType != "consumer" {
			t.Errorf("replayed group %+v, want Empty at generation %d", g, gen+1)
		}
	})
}

func TestPendingSyncExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := newTestCoordinator(testSettings)
		defer c.Close()
		a, b := join(c, joiner("")), join(c, joiner(""))
		time.Sleep(2*testSettings.InitialRebalanceDelay + time.Millisecond)
		ra, rb := a.must(t), b.must(t)
		leaderSync := syncMember(t, c, ra.MemberID, ra.Generation, map[string][]byte{ra.MemberID: []byte("x"), rb.MemberID: []byte("y")})
		synctest.Wait()
		if r := <-leaderSync; r.Err != nil || string(r.Assignment) != "x" {
			t.Fatalf("leader sync: %+v", r)
		}
		// b never sends SyncGroup: after the rebalance timeout it is removed.
		time.Sleep(5 * time.Second)
		if err := c.Heartbeat(MemberRef{GroupID: "g", MemberID: ra.MemberID, Generation: ra.Generation}); err != nil {
			t.Fatalf("a's heartbeat: %v", err)
		}
		time.Sleep(5*time.Second + time.Millisecond)
		synctest.Wait()
		if s, n := state(t, c); s != "PreparingRebalance" || n != 1 {
			t.Fatalf("after b missed its sync: %s with %d members, want PreparingRebalance with 1", s, n)
		}
		if err := c.Heartbeat(MemberRef{GroupID: "g", MemberID: rb.MemberID, Generation: rb.Generation}); !errors.Is(err, ErrUnknownMemberID) {
			t.Errorf("b's heartbeat: %v, want UNKNOWN_MEMBER_ID", err)
		}
	})
}

func TestStaticMembers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, store := newTestCoordinator(testSettings)
		defer c.Close()
		req := joiner("")
		req.InstanceID = "i1"
		first := join(c, req)
		time.Sleep(time.Second)
		// The same instance joins again while the first join still waits: the first is fenced.
		second := join(c, req)
		if r := first.must(t); !errors.Is(r.Err, ErrFencedInstanceID) {
			t.Fatalf("the replaced join: %+v, want FENCED_INSTANCE_ID", r)
		}
		time.Sleep(testSettings.InitialRebalanceDelay)
		r := second.must(t)
		if r.Err != nil || r.LeaderID != r.MemberID {
			t.Fatalf("second join: %+v", r)
		}
		if s := <-syncMember(t, c, r.MemberID, r.Generation, map[string][]byte{r.MemberID: []byte("mine")}); s.Err != nil {
			t.Fatal(s.Err)
		}
		// A restart with the same instance id and metadata: new id, same assignment and
		// generation, no rebalance; the leader is told to skip assignment (KIP-814).
		again := join(c, req).must(t)
		if again.Err != nil || again.MemberID == r.MemberID || again.Generation != r.Generation || !again.SkipAssignment {
			t.Fatalf("static rejoin: %+v (was %s, generation %d)", again, r.MemberID, r.Generation)
		}
		if s, _ := state(t, c); s != "Stable" {
			t.Errorf("state after the static rejoin: %s, want Stable", s)
		}
		if s := <-syncMember(t, c, again.MemberID, again.Generation, nil); s.Err != nil || string(s.Assignment) != "mine" {
			t.Errorf("sync after the static rejoin: %+v, want the old assignment", s)
		}
		if err := c.Heartbeat(MemberRef{GroupID: "g", MemberID: r.MemberID, InstanceID: "i1", Generation: r.Generation}); !errors.Is(err, ErrFencedInstanceID) {
			t.Errorf("heartbeat of the old id: %v, want FENCED_INSTANCE_ID", err)
		}
		// The replacement was written: a replay knows the new id.
		if g := replay(t, c, store)["g"]; g == nil || g.static["i1"] != again.MemberID || g.state != Stable {
			t.Errorf("replayed group: %+v", g)
		}
		// Leaving by instance id with the old member id is fenced; with none it works.
		errs, err := c.Leave("g", []LeavingMember{{MemberID: r.MemberID, InstanceID: "i1"}, {InstanceID: "i1"}})
		if err != nil || !errors.Is(errs[0], ErrFencedInstanceID) || errs[1] != nil {
			t.Errorf("leave: %v %v", errs, err)
		}
		synctest.Wait()
		if s, n := state(t, c); s != "Empty" || n != 0 {
			t.Errorf("after the leave: %s with %d members", s, n)
		}
	})
}

func TestProtocolSelection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := newTestCoordinator(testSettings)
		defer c.Close()
		// range is not supported by the third member, so roundrobin is the only candidate.
		a := join(c, joiner("", "range", "roundrobin"))
		b := join(c, joiner("", "range", "roundrobin"))
		d := join(c, joiner("", "roundrobin"))
		if r := join(c, joiner("", "sticky")).must(t); !errors.Is(r.Err, ErrInconsistentProtocol) {
			t.Errorf("a member with no common protocol: %v, want INCONSISTENT_GROUP_PROTOCOL", r.Err)
		}
		time.Sleep(2*testSettings.InitialRebalanceDelay + time.Millisecond)
		for _, j := range []pendingJoin{a, b, d} {
			if r := j.must(t); r.Err != nil || r.Protocol != "roundrobin" {
				t.Errorf("join: %+v, want protocol roundrobin", r)
			}
		}
	})
	synctest.Test(t, func(t *testing.T) {
		c, _ := newTestCoordinator(testSettings)
		defer c.Close()
		// Both supported by all; two of three prefer b.
		a := join(c, joiner("", "a", "b"))
		join(c, joiner("", "b", "a"))
		join(c, joiner("", "b", "a"))
		time.Sleep(2*testSettings.InitialRebalanceDelay + time.Millisecond)
		if r := a.must(t); r.Protocol != "b" {
			t.Errorf("protocol %q, want b (two votes of three)", r.Protocol)
		}
	})
}

func TestOffsetCommitRulesAndExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, store := newTestCoordinator(testSettings)
		defer c.Close()
		start := time.Now()
		tp := func(p int32) TopicPartition { return TopicPartition{Topic: "t", Partition: p} }
		simple := CommitRequest{MemberRef: MemberRef{GroupID: "simple", Generation: -1},
			Offsets: []OffsetCommit{{TopicPartition: tp(0), Offset: 5, LeaderEpoch: 2, Metadata: "meta"}}}
		if errs := c.CommitOffsets(simple); errs[0] != nil {
			t.Fatalf("simple commit: %v", errs[0])
		}
		tooBig := simple
		tooBig.Offsets = []OffsetCommit{{TopicPartition: tp(1), Offset: 1, Metadata: string(make([]byte, 5000))}}
		if errs := c.CommitOffsets(tooBig); !errors.Is(errs[0], ErrOffsetMetadataTooLarge) {
			t.Errorf("large metadata: %v", errs[0])
		}
		got, _ := c.FetchOffsets("simple", nil)
		if o := got[tp(0)]; len(got) != 1 || o.Offset != 5 || o.LeaderEpoch != 2 || o.Metadata != "meta" {
			t.Errorf("fetched %+v", got)
		}
		if errs := c.CommitOffsets(CommitRequest{MemberRef: MemberRef{GroupID: "nobody", Generation: 3, MemberID: "m"},
			Offsets: simple.Offsets}); !errors.Is(errs[0], ErrIllegalGeneration) {
			t.Errorf("a member's commit to an unknown group: %v, want ILLEGAL_GENERATION", errs[0])
		}

		// A consumer group: members commit; it empties at 10 minutes.
		ids, gen := stableGroup(t, c, 1)
		commit := CommitRequest{MemberRef: MemberRef{GroupID: "g", MemberID: ids[0], Generation: gen},
			Offsets: []OffsetCommit{{TopicPartition: tp(0), Offset: 9}}}
		if errs := c.CommitOffsets(commit); errs[0] != nil {
			t.Fatal(errs[0])
		}
		if errs := c.CommitOffsets(CommitRequest{MemberRef: MemberRef{GroupID: "g", Generation: -1}, Offsets: commit.Offsets}); !errors.Is(errs[0], ErrUnknownMemberID) {
			t.Errorf("a simple commit to a group with members: %v, want UNKNOWN_MEMBER_ID", errs[0])
		}
		// The member stops heartbeating: the group empties when its session expires,
		// 10s after its sync.
		time.Sleep(11 * time.Second)
		synctest.Wait()
		if s, _ := state(t, c); s != "Empty" {
			t.Fatalf("group %s, want Empty", s)
		}

		// offsets.retention.minutes (1h), checked every minute: the simple group's offsets
		// expire an hour after their commit; the consumer group's an hour after it emptied.
		time.Sleep(time.Until(start.Add(60*time.Minute + 30*time.Second)))
		synctest.Wait()
		if got, _ := c.FetchOffsets("simple", nil); len(got) != 0 {
			t.Errorf("simple group's offsets after an hour: %v", got)
		}
		if got, _ := c.FetchOffsets("g", nil); len(got) != 1 {
			t.Errorf("consumer group's offsets less than an hour after it emptied: %v", got)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if got, _ := c.FetchOffsets("g", nil); len(got) != 0 {
			t.Errorf("consumer group's offsets an hour after it emptied: %v", got)
		}
		if listed, _ := c.ListGroups(nil, nil); len(listed) != 0 {
			t.Errorf("groups left with nothing are deleted: %+v", listed)
		}
		if groups := replay(t, c, store); len(groups) != 0 {
			t.Errorf("replay after expiry finds %d groups, want none (tombstones)", len(groups))
		}
	})
}

func TestReplayRebuildsGroups(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, store := newTestCoordinator(testSettings)
		defer c.Close()
		ids, gen := stableGroup(t, c, 2)
		offsets := []OffsetCommit{
			{TopicPartition: TopicPartition{Topic: "a", Partition: 0}, Offset: 10, LeaderEpoch: 1, Metadata: "x"},
			{TopicPartition: TopicPartition{Topic: "b", Partition: 3}, Offset: 20, LeaderEpoch: -1},
		}
		if errs := c.CommitOffsets(CommitRequest{MemberRef: MemberRef{GroupID: "g", MemberID: ids[0], Generation: gen}, Offsets: offsets}); errs[0] != nil || errs[1] != nil {
			t.Fatal(errs)
		}
		// The members subscribe to a: its offsets stay; b's can go.
		perr, err := c.DeleteOffsets("g", []TopicPartition{{Topic: "b", Partition: 3}, {Topic: "a", Partition: 0}})
		if err != nil || perr[0] != nil || !errors.Is(perr[1], ErrGroupSubscribedToTopic) {
			t.Fatalf("delete offsets: %v %v", perr, err)
		}
		gone := CommitRequest{MemberRef: MemberRef{GroupID: "gone", Generation: -1}, Offsets: offsets}
		c.CommitOffsets(gone)
		if err := c.DeleteGroup("gone"); err != nil {
			t.Fatal(err)
		}
		if err := c.DeleteGroup("g"); !errors.Is(err, ErrNonEmptyGroup) {
			t.Errorf("delete a group with members: %v", err)
		}

		groups := replay(t, c, store)
		if _, ok := groups["gone"]; ok || len(groups) != 1 {
			t.Fatalf("replayed groups %v, want only g", groups)
		}
		g := groups["g"]
		if g.state != Stable || g.generation != gen || g.protocolType != "consumer" || g.protocol != "range" || g.leader != ids[0] || len(g.members) != 2 {
			t.Errorf("replayed group: state %s generation %d type %q protocol %q leader %s members %d",
				g.state, g.generation, g.protocolType, g.protocol, g.leader, len(g.members))
		}
		for _, id := range ids {
			if m := g.members[id]; m == nil || string(m.assignment) != "assignment-of-"+id || m.sessionTimeout != 10*time.Second {
				t.Errorf("replayed member %s: %+v", id, m)
			}
		}
		if len(g.offsets) != 1 {
			t.Errorf("replayed offsets %v, want only a/0", g.offsets)
		}
		if o := g.offsets[TopicPartition{Topic: "a", Partition: 0}]; o.offset != 10 || o.leaderEpoch != 1 || o.metadata != "x" {
			t.Errorf("replayed a/0: %+v", o)
		}
	})
}

// replay decodes everything written to store, as loading a partition does.
func replay(t *testing.T, c *Coordinator, store *memStore) map[string]*group {
	t.Helper()
	st := newLoadState()
	if _, err := decodeBatches(store.bytes(), st.apply); err != nil {
		t.Fatalf("decode: %v", err)
	}
	groups, err := st.build(c, &shard{coord: c, store: store})
	if err != nil {
		t.Fatal(err)
	}
	return groups
}

func TestEncodeBatchesSplitsAtMaxBytes(t *testing.T) {
	var records []record
	for i := range 100 {
		tp := TopicPartition{Topic: "topic", Partition: int32(i)}
		records = append(records, record{key: offsetKey("g", tp), value: offsetValue(committed{offset: int64(i), commitTime: time.UnixMilli(1)})})
	}
	buf, err := encodeBatches(records, time.UnixMilli(1), 1000)
	if err != nil {
		t.Fatal(err)
	}
	batches, count, err := log.ValidateBatches(buf, 1000)
	if err != nil || count != 100 || batches < 2 {
		t.Fatalf("%d batches of %d records (%v), want several batches of 100 records", batches, count, err)
	}
	if _, err := encodeBatches(records[:1], time.UnixMilli(1), 50); !errors.Is(err, ErrCommitTooLarge) {
		t.Errorf("a record over max bytes: %v, want ErrCommitTooLarge", err)
	}
}
