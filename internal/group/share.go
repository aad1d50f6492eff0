package group

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nagare-dev/nagare/internal/metadata"
)

// shareType is the group type ListGroups v5 reports for share groups (KIP-932).
const shareType = "share"

// ShareState is a share group's state as Kafka names it.
type ShareState string

// Share group states; the target is computed within the heartbeat, so a share group
// is never seen Assigning or Reconciling.
const (
	ShareEmpty  ShareState = "Empty"
	ShareStable ShareState = "Stable"
)

// ShareHeartbeatRequest is a ShareGroupHeartbeat.
type ShareHeartbeatRequest struct {
	GroupID     string
	MemberID    string // made by the client (KIP-1082), so never empty
	MemberEpoch int32  // 0 joins, -1 leaves
	RackID      *string
	// SubscribedTopics is nil when unchanged since the last heartbeat.
	SubscribedTopics []string
	ClientID         string
	ClientHost       string
}

// ShareHeartbeatResult answers a ShareGroupHeartbeat.
type ShareHeartbeatResult struct {
	MemberID          string
	MemberEpoch       int32
	HeartbeatInterval time.Duration
	Assignment        []OwnedTopic // nil after a leave
}

// shareMember is one member of a share group; guarded by the group's mu.
type shareMember struct {
	id, rackID, clientID, clientHost string
	epoch                            int32
	topics                           []string // sorted
	assigned                         partSet
	joinedAt                         uint64
	deadline                         time.Time
	timer                            *time.Timer
}

// shareGroup is the share state of a group; guarded by the group's mu. Members are
// moved to the target assignment at once: a share-partition may have several
// consumers, so nothing has to be revoked first.
type shareGroup struct {
	epoch     int32
	members   map[string]*shareMember
	shapes    map[string]topicShape // subscribed topics as the target saw them
	memberSeq uint64
	dirty     bool
}

func (sg *shareGroup) state() ShareState {
	if len(sg.members) == 0 {
		return ShareEmpty
	}
	return ShareStable
}

func (sg *shareGroup) sortedMembers() []*shareMember {
	out := make([]*shareMember, 0, len(sg.members))
	for _, m := range sg.members {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b *shareMember) int { return cmp.Compare(a.joinedAt, b.joinedAt) })
	return out
}

// ShareHeartbeat serves a ShareGroupHeartbeat: joins (epoch 0), heartbeats and
// leaves (-1).
func (c *Coordinator) ShareHeartbeat(req ShareHeartbeatRequest) (ShareHeartbeatResult, error) {
	switch {
	case strings.TrimSpace(req.GroupID) == "":
		return ShareHeartbeatResult{}, fmt.Errorf("%w: GroupId can't be empty", ErrInvalidRequest)
	case req.MemberID == "" || len(req.MemberID) > 36:
		return ShareHeartbeatResult{}, fmt.Errorf("%w: MemberId must be 1 to 36 characters", ErrInvalidRequest)
	case req.MemberEpoch < leaveEpoch:
		return ShareHeartbeatResult{}, fmt.Errorf("%w: MemberEpoch %d is invalid", ErrInvalidRequest, req.MemberEpoch)
	case req.MemberEpoch == joinEpoch && len(req.SubscribedTopics) == 0:
		return ShareHeartbeatResult{}, fmt.Errorf("%w: SubscribedTopicNames must be set when joining", ErrInvalidRequest)
	}
	img := c.image.Load()
	g, err := c.lockGroup(req.GroupID, req.MemberEpoch == joinEpoch)
	if err != nil {
		return ShareHeartbeatResult{}, err
	}
	if g == nil {
		return ShareHeartbeatResult{}, fmt.Errorf("%w: group %q does not exist", ErrUnknownMemberID, req.GroupID)
	}
	defer g.unlock()
	if g.share == nil {
		if g.consumer != nil || g.state != Empty || len(g.members) > 0 || len(g.pending) > 0 || g.holdsOffsetsLocked() {
			return ShareHeartbeatResult{}, fmt.Errorf("%w: group %q is not a share group", ErrGroupIDNotFound, g.id)
		}
		g.share = &shareGroup{members: map[string]*shareMember{}}
		g.protocolType, g.protocol, g.leader = "", "", ""
	}
	res, err := g.shareHeartbeatLocked(req, img)
	if err != nil && len(g.share.members) == 0 && g.share.epoch == 0 {
		g.killLocked(ErrCoordinatorNotAvailable) // made by this failed join; keep nothing
	}
	return res, err
}

func (g *group) shareHeartbeatLocked(req ShareHeartbeatRequest, img *metadata.Image) (ShareHeartbeatResult, error) {
	sg := g.share
	m := sg.members[req.MemberID]
	switch {
	case req.MemberEpoch == leaveEpoch:
		if m == nil {
			return ShareHeartbeatResult{}, fmt.Errorf("%w: %s", ErrUnknownMemberID, req.MemberID)
		}
		g.removeShareMemberLocked(m)
		g.rebalanceShareLocked(img)
		return ShareHeartbeatResult{MemberID: m.id, MemberEpoch: leaveEpoch}, nil
	case req.MemberEpoch == joinEpoch && m == nil:
		if len(sg.members) >= g.coord.cfg.Settings.ShareMaxSize {
			return ShareHeartbeatResult{}, ErrGroupMaxSizeReached
		}
		sg.memberSeq++
		m = &shareMember{id: req.MemberID, assigned: partSet{}, joinedAt: sg.memberSeq}
		sg.members[m.id], sg.dirty = m, true
	case m == nil:
		return ShareHeartbeatResult{}, fmt.Errorf("%w: %s", ErrUnknownMemberID, req.MemberID)
	case req.MemberEpoch != joinEpoch && req.MemberEpoch != m.epoch:
		return ShareHeartbeatResult{}, fmt.Errorf("%w: %d, the member is at %d", ErrFencedMemberEpoch, req.MemberEpoch, m.epoch)
	}
	m.clientID, m.clientHost = req.ClientID, req.ClientHost
	if req.RackID != nil {
		m.rackID = *req.RackID
	}
	if req.SubscribedTopics != nil {
		topics := slices.Clone(req.SubscribedTopics)
		slices.Sort(topics)
		if topics = slices.Compact(topics); !slices.Equal(topics, m.topics) {
			m.topics, sg.dirty = topics, true
		}
	}
	g.rebalanceShareLocked(img)
	g.touchShareLocked(m)
	return ShareHeartbeatResult{MemberID: m.id, MemberEpoch: m.epoch,
		HeartbeatInterval: g.coord.cfg.Settings.ShareHeartbeatInterval, Assignment: assignmentOf(m.assigned, img)}, nil
}

// rebalanceShareLocked recomputes the assignment when members, subscriptions or the
// subscribed topics' partition counts changed, bumping the group epoch; every member
// moves to its new assignment and epoch at once.
func (g *group) rebalanceShareLocked(img *metadata.Image) {
	sg := g.share
	shapes := map[string]topicShape{}
	for _, m := range sg.members {
		for _, t := range m.topics {
			if img == nil {
				continue
			}
			if topic, ok := img.TopicByName(t); ok {
				shapes[t] = topicShape{id: topic.ID, partitions: int32(len(topic.Partitions))}
			}
		}
	}
	if !sg.dirty && maps.Equal(shapes, sg.shapes) {
		g.syncShareStateLocked()
		return
	}
	sg.dirty, sg.shapes = false, shapes
	sg.epoch++
	target := simpleAssign(sg.sortedMembers(), shapes)
	for _, m := range sg.members {
		m.assigned, m.epoch = target[m.id], sg.epoch
	}
	g.syncShareStateLocked()
}

// simpleAssign is Kafka's SimpleAssignor for share groups: each topic's partitions
// are spread over the members subscribed to it; with more members than partitions,
// members share partitions (member i gets partition i mod n), so every member of a
// one-partition topic consumes it.
func simpleAssign(members []*shareMember, shapes map[string]topicShape) map[string]partSet {
	out := make(map[string]partSet, len(members))
	for _, m := range members {
		out[m.id] = partSet{}
	}
	for topic, shape := range shapes {
		var subs []*shareMember
		for _, m := range members {
			if _, ok := slices.BinarySearch(m.topics, topic); ok {
				subs = append(subs, m)
			}
		}
		if len(subs) == 0 || shape.partitions == 0 {
			continue
		}
		n := int(shape.partitions)
		for i := 0; i < max(len(subs), n); i++ {
			tp := TopicPartition{Topic: topic, Partition: int32(i % n)}
			out[subs[i%len(subs)].id][tp] = struct{}{}
		}
	}
	return out
}

// syncShareStateLocked keeps the classic fields listing and deletion read in line.
func (g *group) syncShareStateLocked() {
	want := Empty
	if len(g.share.members) > 0 {
		want = Stable
	}
	if g.state != want {
		g.setStateLocked(want)
	}
}

func (g *group) removeShareMemberLocked(m *shareMember) {
	if m.timer != nil {
		m.timer.Stop()
		m.timer = nil
	}
	delete(g.share.members, m.id)
	g.share.dirty = true
	if gone := g.coord.cfg.ShareMemberGone; gone != nil {
		id, member := g.id, m.id
		g.outbox = append(g.outbox, func() { gone(id, member) })
	}
}

// touchShareLocked restarts m's session (group.share.session.timeout.ms).
func (g *group) touchShareLocked(m *shareMember) {
	timeout := g.coord.cfg.Settings.ShareSessionTimeout
	m.deadline = time.Now().Add(timeout)
	if m.timer == nil {
		m.timer = time.AfterFunc(timeout, func() { g.onShareTimer(m) })
		return
	}
	m.timer.Reset(timeout)
}

func (g *group) onShareTimer(m *shareMember) {
	g.lock()
	defer g.unlock()
	if g.state == Dead || g.share == nil || g.share.members[m.id] != m || m.timer == nil {
		return
	}
	if left := time.Until(m.deadline); left > 0 {
		m.timer.Reset(left)
		return
	}
	g.coord.logger.Info("share group member expired", "group", g.id, "member", m.id)
	g.removeShareMemberLocked(m)
	g.rebalanceShareLocked(g.coord.image.Load())
}

func (g *group) stopShareTimersLocked() {
	if g.share == nil {
		return
	}
	for _, m := range g.share.members {
		if m.timer != nil {
			m.timer.Stop()
		}
	}
}

// ShareDescription is a share group as ShareGroupDescribe shows it.
type ShareDescription struct {
	GroupID string
	State   ShareState
	Epoch   int32
	Members []ShareMemberDescription
}

// ShareMemberDescription is one member of a described share group.
type ShareMemberDescription struct {
	MemberID, RackID, ClientID, ClientHost string
	MemberEpoch                            int32
	SubscribedTopics                       []string
	Assignment                             []OwnedTopic
}

// DescribeShareGroup describes a share group; a missing or other kind of group is
// GROUP_ID_NOT_FOUND, as in Kafka.
func (c *Coordinator) DescribeShareGroup(groupID string) (ShareDescription, error) {
	g, err := c.lockGroup(groupID, false)
	if err != nil {
		return ShareDescription{}, err
	}
	if g == nil {
		return ShareDescription{}, fmt.Errorf("%w: group %s", ErrGroupIDNotFound, groupID)
	}
	defer g.unlock()
	if g.share == nil {
		return ShareDescription{}, fmt.Errorf("%w: group %s is not a share group", ErrGroupIDNotFound, groupID)
	}
	img := c.image.Load()
	d := ShareDescription{GroupID: g.id, State: g.share.state(), Epoch: g.share.epoch}
	for _, m := range g.share.sortedMembers() {
		d.Members = append(d.Members, ShareMemberDescription{MemberID: m.id, RackID: m.rackID, ClientID: m.clientID,
			ClientHost: m.clientHost, MemberEpoch: m.epoch, SubscribedTopics: slices.Clone(m.topics), Assignment: assignmentOf(m.assigned, img)})
	}
	return d, nil
}

// IsShareGroup reports whether groupID is a share group here; ShareFetch refuses
// groups of another kind.
func (c *Coordinator) IsShareGroup(groupID string) (share, exists bool) {
	g, err := c.lockGroup(groupID, false)
	if err != nil || g == nil {
		return false, false
	}
	defer g.unlock()
	return g.share != nil, true
}
