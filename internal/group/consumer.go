package group

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/nagare-dev/nagare/internal/metadata"
)

// KIP-848 consumer groups: membership by ConsumerGroupHeartbeat, server-side
// assignment. A group is classic or consumer: g.consumer is set for a consumer group.
// Both kinds share the group's lock, shard, offsets and expiry; an empty group of one
// kind becomes the other when a member of the other protocol joins it.

// Member epochs with a meaning of their own (ConsumerGroupHeartbeat's MemberEpoch).
const (
	joinEpoch        = 0
	leaveEpoch       = -1
	staticLeaveEpoch = -2
)

// consumerType is the group type ListGroups v5 reports for KIP-848 groups.
const consumerType = "consumer"

// ConsumerState is a consumer group's state as ConsumerGroupDescribe and ListGroups
// name it.
type ConsumerState string

const (
	ConsumerEmpty       ConsumerState = "Empty"
	ConsumerAssigning   ConsumerState = "Assigning" // never seen here: the target is computed at once
	ConsumerReconciling ConsumerState = "Reconciling"
	ConsumerStable      ConsumerState = "Stable"
)

// ConsumerHeartbeatRequest is a ConsumerGroupHeartbeat. Nil fields mean "unchanged".
type ConsumerHeartbeatRequest struct {
	GroupID          string
	MemberID         string // "" on a v0 join: the coordinator makes one
	MemberEpoch      int32
	InstanceID       string
	RackID           *string
	ClientID         string
	ClientHost       string
	RebalanceTimeout time.Duration // negative: unchanged
	SubscribedTopics []string
	SubscribedRegex  *string
	ServerAssignor   *string
	// Owned is what the member owns, by topic id; nil when unchanged.
	Owned []OwnedTopic
}

// OwnedTopic is a topic's partitions named by topic id, as the heartbeat carries them.
type OwnedTopic struct {
	ID         metadata.TopicID
	Topic      string // set in responses
	Partitions []int32
}

// ConsumerHeartbeatResult answers a ConsumerGroupHeartbeat.
type ConsumerHeartbeatResult struct {
	MemberID          string
	MemberEpoch       int32
	HeartbeatInterval time.Duration
	// Assignment is the member's current assignment; nil when not sent (leaves).
	Assignment []OwnedTopic
}

// consumerMember is one member of a consumer group; guarded by the group's mu.
type consumerMember struct {
	id               string
	instanceID       string
	rackID           string
	clientID         string
	clientHost       string
	epoch            int32 // the member epoch; staticLeaveEpoch while a static member is away
	previousEpoch    int32 // the epoch before the last bump: a lost response may repeat it
	rebalanceTimeout time.Duration
	topics           []string       // subscribed topic names
	regexText        string         // the subscription regex as sent; "" for none
	regex            *regexp.Regexp // compiled regexText
	assignor         string         // the assignor the member asks for; "" for any
	assigned         partSet        // partitions the member owns
	revoking         partSet        // partitions it must give up; still owned until it does
	joinedAt         uint64

	deadline       time.Time // the session ends unless a heartbeat moves it
	revokeDeadline time.Time // set while revoking: the rebalance timeout
	timer          *time.Timer
}

// consumerGroup is the KIP-848 state of a group; guarded by the group's mu.
type consumerGroup struct {
	epoch           int32 // the group epoch
	assignmentEpoch int32 // the epoch the target was computed at
	assignor        string
	target          map[string]partSet    // member id → target assignment
	shapes          map[string]topicShape // the subscribed topics as the target saw them
	members         map[string]*consumerMember
	static          map[string]string // group.instance.id → member id
	memberSeq       uint64
	dirty           bool // members or subscriptions changed since the target
}

func newConsumerGroup() *consumerGroup {
	return &consumerGroup{members: map[string]*consumerMember{}, static: map[string]string{}, target: map[string]partSet{}}
}

func (cg *consumerGroup) sortedMembers() []*consumerMember {
	out := make([]*consumerMember, 0, len(cg.members))
	for _, m := range cg.members {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b *consumerMember) int { return cmp.Compare(a.joinedAt, b.joinedAt) })
	return out
}

// stateLocked is the group's state as Kafka names it.
func (cg *consumerGroup) state() ConsumerState {
	if len(cg.members) == 0 {
		return ConsumerEmpty
	}
	for _, m := range cg.members {
		if !cg.reconciled(m) {
			return ConsumerReconciling
		}
	}
	return ConsumerStable
}

// subscribedTopics is every topic a member subscribes to, for OffsetDelete and expiry.
func (cg *consumerGroup) subscribedTopics() map[string]bool {
	out := map[string]bool{}
	for t := range cg.shapes {
		out[t] = true
	}
	for _, m := range cg.members {
		for _, t := range m.topics {
			out[t] = true
		}
	}
	return out
}

// ConsumerHeartbeat serves a ConsumerGroupHeartbeat: joins (epoch 0), heartbeats,
// leaves (-1) and static leaves (-2).
func (c *Coordinator) ConsumerHeartbeat(req ConsumerHeartbeatRequest) (ConsumerHeartbeatResult, error) {
	if err := validateConsumerHeartbeat(req); err != nil {
		return ConsumerHeartbeatResult{}, err
	}
	if _, err := c.shardFor(req.GroupID); err != nil {
		return ConsumerHeartbeatResult{}, err
	}
	img := c.image.Load()
	g, err := c.lockGroup(req.GroupID, req.MemberEpoch == joinEpoch)
	if err != nil {
		return ConsumerHeartbeatResult{}, err
	}
	if g == nil {
		return ConsumerHeartbeatResult{}, fmt.Errorf("%w: group %q does not exist", ErrUnknownMemberID, req.GroupID)
	}
	defer g.unlock()
	if g.consumer == nil {
		if g.share != nil || g.state != Empty || len(g.members) > 0 || len(g.pending) > 0 {
			return ConsumerHeartbeatResult{}, fmt.Errorf("%w: group %q is not a consumer group", ErrGroupIDNotFound, g.id)
		}
		g.consumer = newConsumerGroup()
		g.protocolType, g.protocol, g.leader = consumerProtocolType, "", ""
	}
	res, err := g.consumerHeartbeatLocked(req, img)
	if err != nil && len(g.consumer.members) == 0 && !g.holdsOffsetsLocked() && g.consumer.epoch == 0 {
		g.killLocked(ErrCoordinatorNotAvailable) // made by this failed join; keep nothing
	}
	return res, err
}

// validateConsumerHeartbeat is Kafka's request validation: INVALID_REQUEST for
// malformed requests, UNSUPPORTED_ASSIGNOR, INVALID_REGULAR_EXPRESSION.
func validateConsumerHeartbeat(req ConsumerHeartbeatRequest) error {
	switch {
	case req.GroupID == "":
		return fmt.Errorf("%w: GroupId can't be empty", ErrInvalidRequest)
	case req.MemberEpoch < staticLeaveEpoch:
		return fmt.Errorf("%w: MemberEpoch %d is invalid", ErrInvalidRequest, req.MemberEpoch)
	case req.MemberEpoch != joinEpoch && req.MemberID == "":
		return fmt.Errorf("%w: MemberId can't be empty", ErrInvalidRequest)
	case req.MemberEpoch == staticLeaveEpoch && req.InstanceID == "":
		return fmt.Errorf("%w: InstanceId can't be null with MemberEpoch -2", ErrInvalidRequest)
	}
	if req.MemberEpoch == joinEpoch {
		if req.SubscribedTopics == nil && req.SubscribedRegex == nil {
			return fmt.Errorf("%w: SubscribedTopicNames or SubscribedTopicRegex must be set in the first request", ErrInvalidRequest)
		}
		if len(req.Owned) > 0 {
			return fmt.Errorf("%w: TopicPartitions must be empty when (re-)joining", ErrInvalidRequest)
		}
	}
	if req.ServerAssignor != nil && *req.ServerAssignor != "" && assignors[*req.ServerAssignor] == nil {
		return fmt.Errorf("%w: %q (this broker has %q and %q)", ErrUnsupportedAssignor, *req.ServerAssignor, UniformAssignor, RangeAssignor)
	}
	if req.SubscribedRegex != nil && *req.SubscribedRegex != "" {
		if _, err := compileSubscriptionRegex(*req.SubscribedRegex); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidRegularExpression, err)
		}
	}
	return nil
}

func (g *group) consumerHeartbeatLocked(req ConsumerHeartbeatRequest, img *metadata.Image) (ConsumerHeartbeatResult, error) {
	cg := g.consumer
	switch req.MemberEpoch {
	case leaveEpoch, staticLeaveEpoch:
		return g.consumerLeaveLocked(req, img)
	}
	var m *consumerMember
	if req.MemberEpoch == joinEpoch {
		var err error
		if m, err = g.consumerJoinLocked(req); err != nil {
			return ConsumerHeartbeatResult{}, err
		}
	} else {
		m = cg.members[req.MemberID]
		if m == nil {
			return ConsumerHeartbeatResult{}, fmt.Errorf("%w: %s", ErrUnknownMemberID, req.MemberID)
		}
		if req.InstanceID != "" && m.instanceID != req.InstanceID {
			return ConsumerHeartbeatResult{}, fmt.Errorf("%w: member %s is not instance %q", ErrFencedInstanceID, m.id, req.InstanceID)
		}
		if req.MemberEpoch != m.epoch && !(req.MemberEpoch == m.previousEpoch && ownsSubset(ownedSet(req.Owned, img), m)) {
			return ConsumerHeartbeatResult{}, fmt.Errorf("%w: %d, the member is at %d", ErrFencedMemberEpoch, req.MemberEpoch, m.epoch)
		}
	}
	g.updateConsumerMemberLocked(m, req)
	cg.maybeRebalanceLocked(img)
	cg.reconcile(m, ownedSet(req.Owned, img), time.Now())
	g.touchConsumerLocked(m)
	g.syncConsumerStateLocked()
	return ConsumerHeartbeatResult{MemberID: m.id, MemberEpoch: m.epoch,
		HeartbeatInterval: g.coord.cfg.Settings.ConsumerHeartbeatInterval, Assignment: assignmentOf(m.assigned, img)}, nil
}

// consumerJoinLocked handles epoch 0: a new member, a member that lost its state and
// rejoins, or a static member taking its instance's place back.
func (g *group) consumerJoinLocked(req ConsumerHeartbeatRequest) (*consumerMember, error) {
	cg := g.consumer
	id := req.MemberID
	if id == "" {
		id = newMemberID(cmp.Or(req.InstanceID, req.ClientID))
	}
	if req.InstanceID != "" {
		if oldID, ok := cg.static[req.InstanceID]; ok && oldID != id {
			old := cg.members[oldID]
			if old.epoch != staticLeaveEpoch {
				return nil, fmt.Errorf("%w: instance %q is member %s", ErrUnreleasedInstanceID, req.InstanceID, oldID)
			}
			// The static member is back under a new id: it takes the old one's
			// place, epoch and assignment, with no rebalance.
			m := *old
			m.id, m.timer, m.epoch = id, nil, old.previousEpoch
			target := cg.target[oldID]
			g.removeConsumerMemberLocked(old)
			cg.members[id], cg.static[req.InstanceID], cg.target[id] = &m, id, target
			return &m, nil
		}
	}
	if m := cg.members[id]; m != nil {
		// Rejoining with epoch 0: the member dropped its partitions.
		m.assigned, m.revoking, m.epoch = partSet{}, nil, 0
		return m, nil
	}
	if len(cg.members) >= g.coord.cfg.Settings.MaxSize {
		return nil, ErrGroupMaxSizeReached
	}
	cg.memberSeq++
	m := &consumerMember{id: id, instanceID: req.InstanceID, assigned: partSet{}, joinedAt: cg.memberSeq,
		rebalanceTimeout: g.coord.cfg.Settings.ConsumerSessionTimeout}
	cg.members[id] = m
	if req.InstanceID != "" {
		cg.static[req.InstanceID] = id
	}
	cg.dirty = true
	return m, nil
}

// updateConsumerMemberLocked applies the fields a heartbeat changes.
func (g *group) updateConsumerMemberLocked(m *consumerMember, req ConsumerHeartbeatRequest) {
	cg := g.consumer
	m.clientID, m.clientHost = req.ClientID, req.ClientHost
	if req.RackID != nil {
		m.rackID = *req.RackID
	}
	if req.RebalanceTimeout >= 0 {
		m.rebalanceTimeout = req.RebalanceTimeout
	}
	if req.SubscribedTopics != nil {
		topics := slices.Clone(req.SubscribedTopics)
		slices.Sort(topics)
		topics = slices.Compact(topics)
		if !slices.Equal(topics, m.topics) {
			m.topics, cg.dirty = topics, true
		}
	}
	if req.SubscribedRegex != nil && *req.SubscribedRegex != m.regexText {
		m.regexText, m.regex, cg.dirty = *req.SubscribedRegex, nil, true
		if m.regexText != "" {
			m.regex, _ = compileSubscriptionRegex(m.regexText) // validated already
		}
	}
	if req.ServerAssignor != nil && *req.ServerAssignor != m.assignor {
		m.assignor, cg.dirty = *req.ServerAssignor, true
	}
}

// consumerLeaveLocked handles epochs -1 (leave) and -2 (a static member going away
// for now: it keeps its assignment until its session ends).
func (g *group) consumerLeaveLocked(req ConsumerHeartbeatRequest, img *metadata.Image) (ConsumerHeartbeatResult, error) {
	cg := g.consumer
	m := cg.members[req.MemberID]
	if req.InstanceID != "" {
		id, ok := cg.static[req.InstanceID]
		if !ok {
			return ConsumerHeartbeatResult{}, fmt.Errorf("%w: instance %q", ErrUnknownMemberID, req.InstanceID)
		}
		if id != req.MemberID {
			return ConsumerHeartbeatResult{}, fmt.Errorf("%w: instance %q is member %s", ErrFencedInstanceID, req.InstanceID, id)
		}
		m = cg.members[id]
	}
	if m == nil {
		return ConsumerHeartbeatResult{}, fmt.Errorf("%w: %s", ErrUnknownMemberID, req.MemberID)
	}
	if req.MemberEpoch == staticLeaveEpoch {
		if m.epoch != staticLeaveEpoch {
			m.previousEpoch = m.epoch
		}
		m.epoch = staticLeaveEpoch
		g.touchConsumerLocked(m)
		return ConsumerHeartbeatResult{MemberID: m.id, MemberEpoch: staticLeaveEpoch}, nil
	}
	g.coord.logger.Debug("consumer group member left", "group", g.id, "member", m.id)
	g.removeConsumerMemberLocked(m)
	cg.dirty = true
	cg.maybeRebalanceLocked(img)
	g.syncConsumerStateLocked()
	return ConsumerHeartbeatResult{MemberID: m.id, MemberEpoch: leaveEpoch}, nil
}

// removeConsumerMemberLocked drops a member; its partitions are free at once.
func (g *group) removeConsumerMemberLocked(m *consumerMember) {
	cg := g.consumer
	if m.timer != nil {
		m.timer.Stop()
		m.timer = nil
	}
	delete(cg.members, m.id)
	delete(cg.target, m.id)
	if m.instanceID != "" && cg.static[m.instanceID] == m.id {
		delete(cg.static, m.instanceID)
	}
}

// syncConsumerStateLocked keeps the classic fields that offsets, expiry, listing and
// deletion read in line: Empty without members, Stable with them.
func (g *group) syncConsumerStateLocked() {
	want := Empty
	if len(g.consumer.members) > 0 {
		want = Stable
	}
	if g.state != want {
		g.setStateLocked(want)
	}
	g.subscribed = g.consumer.subscribedTopics()
}

// touchConsumerLocked restarts m's session, and arms its timer for the session or
// the revocation deadline, whichever comes first.
func (g *group) touchConsumerLocked(m *consumerMember) {
	now := time.Now()
	m.deadline = now.Add(g.coord.cfg.Settings.ConsumerSessionTimeout)
	next := m.deadline
	if !m.revokeDeadline.IsZero() && m.revokeDeadline.Before(next) {
		next = m.revokeDeadline
	}
	if m.timer == nil {
		m.timer = time.AfterFunc(next.Sub(now), func() { g.onConsumerTimer(m) })
		return
	}
	m.timer.Reset(next.Sub(now))
}

// onConsumerTimer ends a member whose session or revocation deadline passed; a member
// that does not revoke within its rebalance timeout is fenced, as in Kafka.
func (g *group) onConsumerTimer(m *consumerMember) {
	g.lock()
	defer g.unlock()
	if g.state == Dead || g.consumer == nil || g.consumer.members[m.id] != m || m.timer == nil {
		return
	}
	now := time.Now()
	next := m.deadline
	if !m.revokeDeadline.IsZero() && m.revokeDeadline.Before(next) {
		next = m.revokeDeadline
	}
	if left := next.Sub(now); left > 0 {
		m.timer.Reset(left)
		return
	}
	g.coord.logger.Info("consumer group member expired", "group", g.id, "member", m.id, "revoking", len(m.revoking) > 0)
	g.removeConsumerMemberLocked(m)
	g.consumer.dirty = true
	g.consumer.maybeRebalanceLocked(g.coord.image.Load())
	g.syncConsumerStateLocked()
}

// stopConsumerTimersLocked stops the members' session timers.
func (g *group) stopConsumerTimersLocked() {
	if g.consumer == nil {
		return
	}
	for _, m := range g.consumer.members {
		if m.timer != nil {
			m.timer.Stop()
		}
	}
}

// ownedSet resolves the member's owned partitions; nil when not sent. Topics unknown
// to img are left out.
func ownedSet(owned []OwnedTopic, img *metadata.Image) partSet {
	if owned == nil {
		return nil
	}
	out := partSet{}
	for _, t := range owned {
		name := t.Topic
		if img != nil {
			if topic, ok := img.TopicByID(t.ID); ok {
				name = topic.Name
			}
		}
		for _, p := range t.Partitions {
			out[TopicPartition{Topic: name, Partition: p}] = struct{}{}
		}
	}
	return out
}

// ownsSubset reports whether what a member says it owns is within its assignment: a
// member repeating its previous epoch after a lost response may go on.
func ownsSubset(owned partSet, m *consumerMember) bool {
	for tp := range owned {
		if !m.assigned.has(tp) && !m.revoking.has(tp) {
			return false
		}
	}
	return true
}

// assignmentOf lists partitions by topic, with the topic ids of img.
func assignmentOf(s partSet, img *metadata.Image) []OwnedTopic {
	out := []OwnedTopic{}
	for _, tp := range s.sorted() {
		if len(out) == 0 || out[len(out)-1].Topic != tp.Topic {
			t := OwnedTopic{Topic: tp.Topic}
			if img != nil {
				if topic, ok := img.TopicByName(tp.Topic); ok {
					t.ID = topic.ID
				}
			}
			out = append(out, t)
		}
		out[len(out)-1].Partitions = append(out[len(out)-1].Partitions, tp.Partition)
	}
	return out
}
