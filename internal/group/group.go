package group

import (
	"bytes"
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// State is a classic group's state, named as Kafka names it in DescribeGroups and
// ListGroups.
type State int8

const (
	// Empty: no members; offsets (and the last generation) may remain.
	Empty State = iota
	// PreparingRebalance: waiting for the members to (re)join.
	PreparingRebalance
	// CompletingRebalance: joined; waiting for the leader's assignment (SyncGroup).
	CompletingRebalance
	// Stable: every member has its assignment.
	Stable
	// Dead: removed (deleted, expired, or moved to another coordinator). A request that
	// finds a dead group looks it up again.
	Dead
)

var stateNames = [...]string{"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"}

func (s State) String() string { return stateNames[s] }

// consumerProtocolType is the protocol type of Kafka consumers, whose member metadata
// (ConsumerMemberMetadata) names the topics they subscribe to.
const consumerProtocolType = "consumer"

// classicType is the group type ListGroups v5 reports for these groups (KIP-848 groups
// are "consumer").
const classicType = "classic"

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// committed is one committed offset as the group keeps it.
type committed struct {
	offset      int64
	leaderEpoch int32
	metadata    string
	commitTime  time.Time
	expireTime  time.Time // zero unless the commit asked for its own retention (v2-v4)
	// appendOffset is where the commit's record is in __consumer_offsets: a
	// transaction's offsets replace a committed offset only if written after it.
	appendOffset int64
}

// member is one member of a classic group. All fields are guarded by the group's mu.
type member struct {
	id               string
	instanceID       string // "" for a dynamic member
	clientID         string
	clientHost       string
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	protocolType     string
	protocols        []Protocol // in the member's order of preference
	assignment       []byte
	joinedAt         uint64 // order of joining, so member lists are stable

	// joinDone and syncDone are set while a JoinGroup or SyncGroup waits for the group;
	// each is called exactly once, through the group's outbox.
	joinDone func(JoinResult)
	syncDone func(SyncResult)

	// deadline is when the session expires unless a heartbeat (or any request from the
	// member) moves it; timer fires at or after it and checks.
	deadline time.Time
	timer    *time.Timer
}

func (m *member) awaitingJoin() bool { return m.joinDone != nil }

// metadataFor returns the member's metadata for protocol name.
func (m *member) metadataFor(name string) ([]byte, bool) {
	for _, p := range m.protocols {
		if p.Name == name {
			return p.Metadata, true
		}
	}
	return nil, false
}

func (m *member) sameProtocols(ps []Protocol) bool {
	return slices.EqualFunc(m.protocols, ps, func(a, b Protocol) bool {
		return a.Name == b.Name && bytes.Equal(a.Metadata, b.Metadata)
	})
}

// group is one classic group. mu guards every field below it; the coordinator's
// timers, requests and the expiry loop all take it, and nothing else is held while
// waiting for it (see doc.go for the lock order).
type group struct {
	id    string
	coord *Coordinator
	shard *shard

	mu           sync.Mutex
	state        State
	stateTime    time.Time // when state last changed (Kafka's currentStateTimestamp)
	generation   int32
	protocolType string // "" for a group that only stores offsets
	protocol     string // the selected protocol; "" outside a generation
	leader       string
	members      map[string]*member
	static       map[string]string            // group.instance.id → member id
	pending      map[string]*time.Timer       // KIP-394 member ids handed out, not yet joined
	pendingSync  map[string]bool              // members that have not sent SyncGroup this generation
	subscribed   map[string]bool              // topics the members consume; nil when unknown
	offsets      map[TopicPartition]committed // committed offsets
	memberSeq    uint64                       // counts members ever added, for joinedAt
	joinEpoch    uint64                       // invalidates join timers that lost a race
	syncEpoch    uint64                       // invalidates pending-sync timers likewise
	joinTimer    *time.Timer                  // the join barrier's deadline
	syncTimer    *time.Timer                  // the pending-sync deadline
	initialDelay bool                         // the join barrier is group.initial.rebalance.delay.ms
	delayLeft    time.Duration                // what the initial delay may still extend by
	newJoiner    bool                         // a member joined during the initial delay
	outbox       []func()                     // replies to send once mu is released
	consumer     *consumerGroup               // set for a KIP-848 consumer group
	share        *shareGroup                  // set for a KIP-932 share group (share.go)
	// pendingTxn holds TxnOffsetCommit offsets by producer id until the transaction's
	// marker commits (they become offsets) or aborts them (txn_offsets.go).
	pendingTxn map[int64]map[TopicPartition]committed
	// inflight holds, per partition, the commits written and awaiting the ISR, which
	// CommitOffsets waits for without the lock (inflight.go); nil when none.
	inflight map[TopicPartition]*inflightCommits
}

func newGroup(c *Coordinator, s *shard, id string, now time.Time) *group {
	return &group{
		id: id, coord: c, shard: s, state: Empty, stateTime: now,
		members: map[string]*member{}, static: map[string]string{},
		pending: map[string]*time.Timer{}, offsets: map[TopicPartition]committed{},
	}
}

// lock takes the group's lock.
func (g *group) lock() { g.mu.Lock() }

// unlock releases the lock, then sends the replies queued while it was held: callers'
// callbacks never run under the group's lock.
func (g *group) unlock() {
	out := g.outbox
	g.outbox = nil
	g.mu.Unlock()
	for _, f := range out {
		f()
	}
}

// replyJoinLocked queues m's waiting JoinGroup reply.
func (g *group) replyJoinLocked(m *member, res JoinResult) {
	if done := m.joinDone; done != nil {
		m.joinDone = nil
		g.outbox = append(g.outbox, func() { done(res) })
	}
}

// replySyncLocked queues m's waiting SyncGroup reply.
func (g *group) replySyncLocked(m *member, res SyncResult) {
	if done := m.syncDone; done != nil {
		m.syncDone = nil
		g.outbox = append(g.outbox, func() { done(res) })
	}
}

func (g *group) setStateLocked(s State) {
	g.state = s
	g.stateTime = g.coord.now()
}

// sortedMembersLocked returns the members in the order they joined.
func (g *group) sortedMembersLocked() []*member {
	out := make([]*member, 0, len(g.members))
	for _, m := range g.members {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b *member) int { return cmp.Compare(a.joinedAt, b.joinedAt) })
	return out
}

// supportsLocked reports whether a member with these protocols may join: an empty group
// takes any non-empty protocol list; otherwise the type must match and one protocol
// must be one every current member supports.
func (g *group) supportsLocked(protocolType string, ps []Protocol) bool {
	if len(g.members) == 0 {
		return protocolType != "" && len(ps) > 0
	}
	if protocolType != g.protocolType {
		return false
	}
	for _, p := range ps {
		if g.supportedByAllLocked(p.Name) {
			return true
		}
	}
	return false
}

func (g *group) supportedByAllLocked(name string) bool {
	for _, m := range g.members {
		if _, ok := m.metadataFor(name); !ok {
			return false
		}
	}
	return true
}

// selectProtocolLocked chooses the generation's protocol as Kafka does: among the
// protocols every member supports, each member votes for the one it prefers most, and
// the most votes win (ties go to the earlier in the first member's preference).
func (g *group) selectProtocolLocked() string {
	members := g.sortedMembersLocked()
	if len(members) == 0 {
		return ""
	}
	votes := map[string]int{}
	for _, m := range members {
		for _, p := range m.protocols {
			if g.supportedByAllLocked(p.Name) {
				votes[p.Name]++
				break
			}
		}
	}
	best, bestVotes := "", 0
	for _, p := range members[0].protocols {
		if v := votes[p.Name]; v > bestVotes {
			best, bestVotes = p.Name, v
		}
	}
	return best
}

// computeSubscribedLocked reads the topics the members subscribe to from their
// metadata, for a consumer group; nil when unknown (another protocol type, or metadata
// that does not decode), which Kafka treats as "may consume anything".
func (g *group) computeSubscribedLocked() map[string]bool {
	if g.protocolType != consumerProtocolType || g.protocol == "" {
		return nil
	}
	topics := map[string]bool{}
	for _, m := range g.members {
		meta, ok := m.metadataFor(g.protocol)
		if !ok {
			return nil
		}
		var cm kmsg.ConsumerMemberMetadata
		if err := cm.ReadFrom(meta); err != nil {
			return nil
		}
		for _, t := range cm.Topics {
			topics[t] = true
		}
	}
	return topics
}

// rebalanceTimeoutLocked is the longest rebalance timeout of the members: how long a
// join barrier waits.
func (g *group) rebalanceTimeoutLocked() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

// isEmptyOfStateLocked reports whether the group holds nothing worth keeping: a group
// made by a request that then failed is dropped again.
func (g *group) isEmptyOfStateLocked() bool {
	return g.state == Empty && len(g.members) == 0 && len(g.pending) == 0 &&
		!g.holdsOffsetsLocked() && g.generation == 0 && g.protocolType == ""
}

// holdsOffsetsLocked reports whether the group has offsets: committed, staged by a
// transaction, or written and awaiting the ISR (inflight.go). Such a group is not
// dropped, nor turned into a share group, by a request that fails.
func (g *group) holdsOffsetsLocked() bool {
	return len(g.offsets) > 0 || len(g.pendingTxn) > 0 || len(g.inflight) > 0
}

// stopTimersLocked stops every timer the group owns.
func (g *group) stopTimersLocked() {
	g.stopShareTimersLocked()
	for _, m := range g.members {
		if m.timer != nil {
			m.timer.Stop()
		}
	}
	for _, t := range g.pending {
		t.Stop()
	}
	g.stopJoinTimerLocked()
	g.stopSyncTimerLocked()
	g.stopConsumerTimersLocked()
}

func (g *group) stopJoinTimerLocked() {
	if g.joinTimer != nil {
		g.joinTimer.Stop()
		g.joinTimer = nil
	}
	g.joinEpoch++
}

func (g *group) stopSyncTimerLocked() {
	if g.syncTimer != nil {
		g.syncTimer.Stop()
		g.syncTimer = nil
	}
	g.syncEpoch++
}

// killLocked marks the group dead and removes it from its shard: waiting requests get
// err, timers stop, and later lookups no longer find it.
func (g *group) killLocked(err error) {
	for _, m := range g.members {
		g.replyJoinLocked(m, JoinResult{Err: err, MemberID: m.id})
		g.replySyncLocked(m, SyncResult{Err: err})
	}
	g.stopTimersLocked()
	g.setStateLocked(Dead)
	g.shard.remove(g)
}
