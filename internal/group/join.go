package group

import (
	"crypto/rand"
	"fmt"
	"time"
)

// Protocol is one assignment protocol a member supports: its name and the member's
// metadata for it (for consumers, the subscription).
type Protocol struct {
	Name     string
	Metadata []byte
}

// JoinRequest is a JoinGroup.
type JoinRequest struct {
	GroupID    string
	MemberID   string // "" on a member's first join
	InstanceID string // group.instance.id; "" for a dynamic member
	ClientID   string
	ClientHost string
	// SessionTimeout expires a member that stops heartbeating; RebalanceTimeout is how
	// long a rebalance waits for it to rejoin (JoinGroup v0 has none: use the session's).
	SessionTimeout   time.Duration
	RebalanceTimeout time.Duration
	ProtocolType     string
	Protocols        []Protocol
	// RequireKnownMemberID is JoinGroup v4+: a dynamic member's first join gets
	// MEMBER_ID_REQUIRED with its id, and joins with it (KIP-394).
	RequireKnownMemberID bool
	Reason               string
}

// JoinMember is one member as the leader sees it in its JoinGroup response.
type JoinMember struct {
	MemberID   string
	InstanceID string
	Metadata   []byte
}

// JoinResult answers a JoinGroup. With ErrMemberIDRequired, MemberID is the id to
// rejoin with.
type JoinResult struct {
	Err            error
	MemberID       string
	Generation     int32
	ProtocolType   string
	Protocol       string
	LeaderID       string
	SkipAssignment bool         // a static leader rejoined a stable group (KIP-814)
	Members        []JoinMember // for the leader only
}

// SyncRequest is a SyncGroup; Assignments come from the leader.
type SyncRequest struct {
	GroupID      string
	MemberID     string
	InstanceID   string
	Generation   int32
	ProtocolType *string // v5+: checked against the group's when set
	Protocol     *string
	Assignments  map[string][]byte
}

// SyncResult answers a SyncGroup.
type SyncResult struct {
	Err          error
	ProtocolType string
	Protocol     string
	Assignment   []byte
}

// MemberRef names a member of a generation, as Heartbeat and OffsetCommit do.
type MemberRef struct {
	GroupID    string
	MemberID   string
	InstanceID string
	Generation int32
}

// LeavingMember is one member of a LeaveGroup (v3+ batches them, KIP-345).
type LeavingMember struct {
	MemberID   string
	InstanceID string
	Reason     string
}

// Join adds or updates a member. done is called exactly once, maybe before Join
// returns, maybe when the rebalance completes; it must not block.
func (c *Coordinator) Join(req JoinRequest, done func(JoinResult)) {
	fail := func(err error) { done(JoinResult{Err: err, MemberID: req.MemberID, Generation: -1}) }
	if req.GroupID == "" {
		fail(ErrInvalidGroupID)
		return
	}
	if _, err := c.shardFor(req.GroupID); err != nil {
		fail(err)
		return
	}
	st := c.cfg.Settings
	if req.SessionTimeout < st.MinSessionTimeout || req.SessionTimeout > st.MaxSessionTimeout {
		fail(fmt.Errorf("%w: %v not in [%v, %v]", ErrInvalidSessionTimeout, req.SessionTimeout, st.MinSessionTimeout, st.MaxSessionTimeout))
		return
	}
	g, err := c.lockGroup(req.GroupID, req.MemberID == "")
	if err != nil {
		fail(err)
		return
	}
	if g == nil {
		fail(ErrUnknownMemberID)
		return
	}
	g.joinLocked(req, done)
	if g.isEmptyOfStateLocked() {
		g.killLocked(ErrCoordinatorNotAvailable) // made by this failed join; keep nothing
	}
	g.unlock()
}

func (g *group) joinLocked(req JoinRequest, done func(JoinResult)) {
	fail := func(err error) {
		res := JoinResult{Err: err, MemberID: req.MemberID, Generation: -1}
		g.outbox = append(g.outbox, func() { done(res) })
	}
	if g.consumer != nil {
		if len(g.consumer.members) > 0 {
			fail(fmt.Errorf("%w: group %q is a consumer group with members", ErrInconsistentProtocol, g.id))
			return
		}
		g.consumer, g.protocolType, g.subscribed = nil, "", nil // an empty consumer group becomes classic
	}
	if g.share != nil {
		fail(fmt.Errorf("%w: group %q is a share group", ErrInconsistentProtocol, g.id))
		return
	}
	if !g.supportsLocked(req.ProtocolType, req.Protocols) {
		fail(ErrInconsistentProtocol)
		return
	}
	if req.MemberID == "" {
		g.joinNewLocked(req, done, fail)
		return
	}
	if t, ok := g.pending[req.MemberID]; ok {
		t.Stop()
		delete(g.pending, req.MemberID)
		if g.fullLocked() {
			fail(ErrGroupMaxSizeReached)
			return
		}
		g.addMemberLocked(g.makeMember(req, req.MemberID), done)
		return
	}
	if err := g.checkMemberLocked(req.MemberID, req.InstanceID); err != nil {
		fail(err)
		return
	}
	m := g.members[req.MemberID]
	switch g.state {
	case PreparingRebalance:
		g.updateMemberLocked(m, req, done)
		g.tryCompleteJoinLocked()
	case CompletingRebalance, Stable:
		// A follower that missed its response, with nothing changed, gets the current
		// generation; the leader or a changed member starts a rebalance.
		unchanged := m.sameProtocols(req.Protocols)
		if unchanged && (g.state == CompletingRebalance || m.id != g.leader) {
			g.touchLocked(m)
			res := g.joinResultLocked(m)
			g.outbox = append(g.outbox, func() { done(res) })
			return
		}
		g.updateMemberLocked(m, req, done)
		g.prepareRebalanceLocked()
	default:
		fail(ErrUnknownMemberID)
	}
}

// joinNewLocked handles a join without a member id.
func (g *group) joinNewLocked(req JoinRequest, done func(JoinResult), fail func(error)) {
	if req.InstanceID != "" {
		if old, ok := g.static[req.InstanceID]; ok && g.members[old] != nil {
			g.replaceStaticLocked(g.members[old], req, done)
			return
		}
		if g.fullLocked() {
			fail(ErrGroupMaxSizeReached)
			return
		}
		m := g.makeMember(req, newMemberID(req.InstanceID))
		g.static[req.InstanceID] = m.id
		g.addMemberLocked(m, done)
		return
	}
	if g.fullLocked() {
		fail(ErrGroupMaxSizeReached)
		return
	}
	id := newMemberID(req.ClientID)
	if req.RequireKnownMemberID {
		g.addPendingLocked(id, req.SessionTimeout)
		res := JoinResult{Err: ErrMemberIDRequired, MemberID: id, Generation: -1}
		g.outbox = append(g.outbox, func() { done(res) })
		return
	}
	g.addMemberLocked(g.makeMember(req, id), done)
}

func (g *group) fullLocked() bool {
	return len(g.members) >= g.coord.cfg.Settings.MaxSize
}

// checkMemberLocked is Kafka's validateCurrentMember: a static member's id must be the
// one its instance id maps to, and the member must be in the group.
func (g *group) checkMemberLocked(memberID, instanceID string) error {
	if instanceID != "" {
		if cur, ok := g.static[instanceID]; ok && cur != memberID {
			return fmt.Errorf("%w: instance %q is now member %s", ErrFencedInstanceID, instanceID, cur)
		}
	}
	if g.members[memberID] == nil {
		return ErrUnknownMemberID
	}
	return nil
}

// newMemberID is Kafka's form: the client id (or instance id) and a random UUID.
func newMemberID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%s-%x-%x-%x-%x-%x", prefix, b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func (g *group) makeMember(req JoinRequest, id string) *member {
	return &member{id: id, instanceID: req.InstanceID, clientID: req.ClientID, clientHost: req.ClientHost,
		sessionTimeout: req.SessionTimeout, rebalanceTimeout: req.RebalanceTimeout,
		protocolType: req.ProtocolType, protocols: req.Protocols}
}

// addPendingLocked remembers a member id handed out with MEMBER_ID_REQUIRED until the
// member joins with it or its session timeout passes.
func (g *group) addPendingLocked(id string, session time.Duration) {
	var t *time.Timer
	t = time.AfterFunc(session, func() {
		g.lock()
		defer g.unlock()
		if g.pending[id] == t {
			delete(g.pending, id)
			g.tryCompleteJoinLocked()
		}
	})
	g.pending[id] = t
}

// addMemberLocked adds a member that waits in JoinGroup, and rebalances.
func (g *group) addMemberLocked(m *member, done func(JoinResult)) {
	if len(g.members) == 0 {
		g.protocolType = m.protocolType
	}
	g.memberSeq++
	m.joinedAt = g.memberSeq
	m.joinDone = done
	g.members[m.id] = m
	if g.leader == "" {
		g.leader = m.id
	}
	if g.state == PreparingRebalance && g.generation == 0 {
		g.newJoiner = true // the initial delay may wait longer for more
	}
	g.touchLocked(m)
	g.maybePrepareRebalanceLocked()
}

// updateMemberLocked records a known member's new join; an older JoinGroup still
// waiting for it is answered so its connection is not left hanging.
func (g *group) updateMemberLocked(m *member, req JoinRequest, done func(JoinResult)) {
	g.replyJoinLocked(m, JoinResult{Err: ErrRebalanceInProgress, MemberID: m.id, Generation: -1})
	m.clientID, m.clientHost = req.ClientID, req.ClientHost
	m.sessionTimeout, m.rebalanceTimeout = req.SessionTimeout, req.RebalanceTimeout
	m.protocols = req.Protocols
	m.joinDone = done
	g.touchLocked(m)
}

// replaceStaticLocked gives a rejoining static member a new member id (KIP-345). The old
// id is fenced; the member keeps its assignment, and a stable group does not rebalance
// unless the selected protocol would change.
func (g *group) replaceStaticLocked(old *member, req JoinRequest, done func(JoinResult)) {
	fenced := fmt.Errorf("%w: instance %q rejoined", ErrFencedInstanceID, req.InstanceID)
	g.replyJoinLocked(old, JoinResult{Err: fenced, MemberID: old.id, Generation: -1})
	g.replySyncLocked(old, SyncResult{Err: fenced})
	m := g.makeMember(req, newMemberID(req.InstanceID))
	m.assignment, m.joinedAt = old.assignment, old.joinedAt
	g.swapMemberLocked(old, m)
	g.touchLocked(m)
	switch g.state {
	case Stable:
		if g.selectProtocolLocked() == g.protocol {
			if err := g.storeLocked(nil); err != nil {
				g.swapMemberLocked(m, old)
				g.touchLocked(old)
				res := JoinResult{Err: err, Generation: -1}
				g.outbox = append(g.outbox, func() { done(res) })
				return
			}
			res := g.joinResultLocked(m)
			res.SkipAssignment = m.id == g.leader
			g.outbox = append(g.outbox, func() { done(res) })
			return
		}
		m.joinDone = done
		g.prepareRebalanceLocked()
	case CompletingRebalance:
		// The leader may be assigning to the old id: rebalance so the new id gets one.
		m.joinDone = done
		g.prepareRebalanceLocked()
	default: // PreparingRebalance
		m.joinDone = done
		g.tryCompleteJoinLocked()
	}
}

// swapMemberLocked puts to in from's place: same instance id, leadership, sync duty.
func (g *group) swapMemberLocked(from, to *member) {
	if from.timer != nil {
		from.timer.Stop()
		from.timer = nil
	}
	delete(g.members, from.id)
	g.members[to.id] = to
	g.static[to.instanceID] = to.id
	if g.leader == from.id {
		g.leader = to.id
	}
	if g.pendingSync[from.id] {
		delete(g.pendingSync, from.id)
		g.pendingSync[to.id] = true
	}
}

// joinResultLocked is the current generation as m sees it.
func (g *group) joinResultLocked(m *member) JoinResult {
	res := JoinResult{MemberID: m.id, Generation: g.generation, ProtocolType: g.protocolType,
		Protocol: g.protocol, LeaderID: g.leader}
	if m.id == g.leader {
		for _, o := range g.sortedMembersLocked() {
			meta, _ := o.metadataFor(g.protocol)
			res.Members = append(res.Members, JoinMember{MemberID: o.id, InstanceID: o.instanceID, Metadata: meta})
		}
	}
	return res
}

// maybePrepareRebalanceLocked starts a rebalance, or, if one is under way, checks
// whether it can complete.
func (g *group) maybePrepareRebalanceLocked() {
	switch g.state {
	case Empty, Stable, CompletingRebalance:
		g.prepareRebalanceLocked()
	case PreparingRebalance:
		g.tryCompleteJoinLocked()
	}
}

// prepareRebalanceLocked moves the group to PreparingRebalance and sets up the join
// barrier: a new group waits group.initial.rebalance.delay.ms (extended while members
// keep arriving, up to the rebalance timeout); otherwise the barrier lasts the longest
// rebalance timeout and ends early once every member has rejoined.
func (g *group) prepareRebalanceLocked() {
	if g.state == CompletingRebalance {
		for _, m := range g.members {
			m.assignment = nil
			g.replySyncLocked(m, SyncResult{Err: ErrRebalanceInProgress})
		}
	}
	g.stopSyncTimerLocked()
	g.pendingSync = nil
	wasEmpty := g.state == Empty
	g.setStateLocked(PreparingRebalance)
	timeout := g.rebalanceTimeoutLocked()
	if wasEmpty {
		delay := g.coord.cfg.Settings.InitialRebalanceDelay
		g.initialDelay, g.newJoiner = true, false
		g.delayLeft = max(timeout-delay, 0)
		g.armJoinTimerLocked(delay)
		return
	}
	g.initialDelay = false
	g.armJoinTimerLocked(timeout)
	g.tryCompleteJoinLocked()
}

func (g *group) armJoinTimerLocked(d time.Duration) {
	g.stopJoinTimerLocked()
	epoch := g.joinEpoch
	g.joinTimer = time.AfterFunc(d, func() {
		g.lock()
		defer g.unlock()
		if g.joinEpoch == epoch && g.state == PreparingRebalance {
			g.onJoinDeadlineLocked()
		}
	})
}

// onJoinDeadlineLocked ends the join barrier, unless the initial delay saw new members
// and may wait longer.
func (g *group) onJoinDeadlineLocked() {
	if g.initialDelay && g.newJoiner && g.delayLeft > 0 {
		d := min(g.coord.cfg.Settings.InitialRebalanceDelay, g.delayLeft)
		g.newJoiner, g.delayLeft = false, g.delayLeft-d
		g.armJoinTimerLocked(d)
		return
	}
	g.completeJoinLocked()
}

// tryCompleteJoinLocked completes the join barrier early once every member, and every
// member id handed out, has joined. The initial delay is never cut short.
func (g *group) tryCompleteJoinLocked() {
	if g.state != PreparingRebalance || g.initialDelay || len(g.pending) > 0 {
		return
	}
	for _, m := range g.members {
		if !m.awaitingJoin() {
			return
		}
	}
	g.completeJoinLocked()
}

// completeJoinLocked ends the join barrier: dynamic members that did not rejoin are
// removed (static ones stay until their session expires, KIP-345), a new generation
// starts with the protocol the members vote for, and every waiting member gets its
// JoinGroup response, the leader with the member list.
func (g *group) completeJoinLocked() {
	g.stopJoinTimerLocked()
	g.initialDelay = false
	for _, m := range g.sortedMembersLocked() {
		if !m.awaitingJoin() && m.instanceID == "" {
			g.removeMemberLocked(m, ErrUnknownMemberID)
		}
	}
	joined := 0
	for _, m := range g.members {
		if m.awaitingJoin() {
			joined++
		}
	}
	if len(g.members) > 0 && joined == 0 {
		// Only static members that have not rejoined: wait for them, or for their
		// sessions to expire.
		g.armJoinTimerLocked(g.rebalanceTimeoutLocked())
		return
	}
	if l := g.members[g.leader]; l == nil || !l.awaitingJoin() {
		for _, m := range g.sortedMembersLocked() {
			if m.awaitingJoin() {
				g.leader = m.id
				break
			}
		}
	}
	g.generation++
	if len(g.members) == 0 {
		g.protocol, g.leader, g.subscribed = "", "", nil
		g.setStateLocked(Empty)
		if err := g.storeLocked(nil); err != nil {
			g.coord.logger.Warn("storing empty group", "group", g.id, "err", err)
		}
		return
	}
	g.protocol = g.selectProtocolLocked()
	g.subscribed = g.computeSubscribedLocked()
	g.setStateLocked(CompletingRebalance)
	g.pendingSync = map[string]bool{}
	for _, m := range g.sortedMembersLocked() {
		g.pendingSync[m.id] = true
		if m.awaitingJoin() {
			g.replyJoinLocked(m, g.joinResultLocked(m))
			g.touchLocked(m)
		}
	}
	g.armSyncTimerLocked(g.rebalanceTimeoutLocked())
}

// armSyncTimerLocked bounds how long members may take to send SyncGroup after their
// JoinGroup response: those that have not by then are removed, and the group rebalances.
func (g *group) armSyncTimerLocked(d time.Duration) {
	g.stopSyncTimerLocked()
	epoch := g.syncEpoch
	g.syncTimer = time.AfterFunc(d, func() {
		g.lock()
		defer g.unlock()
		if g.syncEpoch != epoch || (g.state != CompletingRebalance && g.state != Stable) || len(g.pendingSync) == 0 {
			return
		}
		for id := range g.pendingSync {
			if m := g.members[id]; m != nil {
				g.removeMemberLocked(m, ErrUnknownMemberID)
			}
		}
		g.pendingSync = nil
		g.prepareRebalanceLocked()
	})
}

// removeMemberLocked drops a member without rebalancing; its waiting requests get err.
func (g *group) removeMemberLocked(m *member, err error) {
	if m.timer != nil {
		m.timer.Stop()
		m.timer = nil
	}
	delete(g.members, m.id)
	if m.instanceID != "" && g.static[m.instanceID] == m.id {
		delete(g.static, m.instanceID)
	}
	delete(g.pendingSync, m.id)
	g.replyJoinLocked(m, JoinResult{Err: err, MemberID: m.id, Generation: -1})
	g.replySyncLocked(m, SyncResult{Err: err})
	if g.leader == m.id {
		g.leader = ""
		if rest := g.sortedMembersLocked(); len(rest) > 0 {
			g.leader = rest[0].id
		}
	}
}

// memberGoneLocked rebalances after a member left or expired.
func (g *group) memberGoneLocked() {
	switch g.state {
	case Stable, CompletingRebalance:
		g.prepareRebalanceLocked()
	case PreparingRebalance:
		g.tryCompleteJoinLocked()
	}
}

// touchLocked restarts m's session: it expires sessionTimeout from now unless touched
// again. The timer is made once and re-armed when it fires early.
func (g *group) touchLocked(m *member) {
	m.deadline = time.Now().Add(m.sessionTimeout)
	if m.timer == nil {
		m.timer = time.AfterFunc(m.sessionTimeout, func() { g.onSessionTimer(m) })
	}
}

func (g *group) onSessionTimer(m *member) {
	g.lock()
	defer g.unlock()
	if g.state == Dead || g.members[m.id] != m || m.timer == nil {
		return
	}
	// A member waiting in JoinGroup or SyncGroup cannot heartbeat; the rebalance and
	// pending-sync deadlines bound it instead (Kafka's shouldKeepAlive).
	if m.awaitingJoin() || m.syncDone != nil {
		m.deadline = time.Now().Add(m.sessionTimeout)
	}
	if left := time.Until(m.deadline); left > 0 {
		m.timer.Reset(left)
		return
	}
	g.coord.logger.Info("member session expired", "group", g.id, "member", m.id, "session_timeout", m.sessionTimeout)
	g.removeMemberLocked(m, ErrUnknownMemberID)
	g.memberGoneLocked()
}

// Sync answers a SyncGroup: the leader's assignments are stored and handed out; a
// follower waits for them. done is called exactly once and must not block.
func (c *Coordinator) Sync(req SyncRequest, done func(SyncResult)) {
	if req.GroupID == "" {
		done(SyncResult{Err: ErrInvalidGroupID})
		return
	}
	g, err := c.lockGroup(req.GroupID, false)
	if err != nil {
		done(SyncResult{Err: err})
		return
	}
	if g == nil {
		done(SyncResult{Err: ErrUnknownMemberID})
		return
	}
	g.syncLocked(req, done)
	g.unlock()
}

func (g *group) syncLocked(req SyncRequest, done func(SyncResult)) {
	fail := func(err error) { g.outbox = append(g.outbox, func() { done(SyncResult{Err: err}) }) }
	if err := g.checkClassicLocked(); err != nil {
		fail(err)
		return
	}
	if err := g.checkMemberLocked(req.MemberID, req.InstanceID); err != nil {
		fail(err)
		return
	}
	m := g.members[req.MemberID]
	switch {
	case req.Generation != g.generation:
		fail(fmt.Errorf("%w: %d, the group is at %d", ErrIllegalGeneration, req.Generation, g.generation))
		return
	case req.ProtocolType != nil && *req.ProtocolType != g.protocolType,
		req.Protocol != nil && *req.Protocol != g.protocol:
		fail(ErrInconsistentProtocol)
		return
	}
	switch g.state {
	case PreparingRebalance:
		fail(ErrRebalanceInProgress)
	case CompletingRebalance:
		g.replySyncLocked(m, SyncResult{Err: ErrRebalanceInProgress})
		m.syncDone = done
		g.syncedLocked(m)
		if m.id == g.leader {
			g.assignLocked(req.Assignments)
		}
	case Stable:
		g.syncedLocked(m)
		g.touchLocked(m)
		res := SyncResult{ProtocolType: g.protocolType, Protocol: g.protocol, Assignment: m.assignment}
		g.outbox = append(g.outbox, func() { done(res) })
	default:
		fail(ErrUnknownMemberID)
	}
}

// syncedLocked notes that m sent SyncGroup this generation.
func (g *group) syncedLocked(m *member) {
	delete(g.pendingSync, m.id)
	if len(g.pendingSync) == 0 {
		g.stopSyncTimerLocked()
	}
}

// assignLocked stores the leader's assignments (members it left out get an empty one)
// and, once written, hands them to the members waiting in SyncGroup: the group is
// Stable. If the write fails the waiting members get the error and the group
// rebalances.
func (g *group) assignLocked(assignments map[string][]byte) {
	full := make(map[string][]byte, len(g.members))
	for id := range g.members {
		full[id] = assignments[id]
		if full[id] == nil {
			full[id] = []byte{}
		}
	}
	if err := g.storeLocked(full); err != nil {
		for _, m := range g.members {
			m.assignment = nil
			g.replySyncLocked(m, SyncResult{Err: err})
		}
		g.prepareRebalanceLocked()
		return
	}
	for _, m := range g.members {
		m.assignment = full[m.id]
		if m.syncDone != nil {
			g.replySyncLocked(m, SyncResult{ProtocolType: g.protocolType, Protocol: g.protocol, Assignment: m.assignment})
			g.touchLocked(m)
		}
	}
	g.setStateLocked(Stable)
}

// Heartbeat keeps a member's session alive. During a rebalance it answers
// REBALANCE_IN_PROGRESS, telling the member to rejoin.
func (c *Coordinator) Heartbeat(req MemberRef) error {
	if req.GroupID == "" {
		return ErrInvalidGroupID
	}
	g, err := c.lockGroup(req.GroupID, false)
	if err != nil {
		return err
	}
	if g == nil {
		return ErrUnknownMemberID
	}
	defer g.unlock()
	if err := g.checkClassicLocked(); err != nil {
		return err
	}
	if g.state == Empty {
		return ErrUnknownMemberID
	}
	if err := g.checkMemberLocked(req.MemberID, req.InstanceID); err != nil {
		return err
	}
	if req.Generation != g.generation {
		return fmt.Errorf("%w: %d, the group is at %d", ErrIllegalGeneration, req.Generation, g.generation)
	}
	g.touchLocked(g.members[req.MemberID])
	if g.state == PreparingRebalance {
		return ErrRebalanceInProgress
	}
	return nil
}

// Leave removes members (by member id, or by instance id for static members) and
// rebalances. It returns one error per member, and an error for the whole request.
func (c *Coordinator) Leave(groupID string, members []LeavingMember) ([]error, error) {
	if groupID == "" {
		return nil, ErrInvalidGroupID
	}
	errs := make([]error, len(members))
	g, err := c.lockGroup(groupID, false)
	if err != nil {
		return nil, err
	}
	if g == nil {
		for i := range errs {
			errs[i] = ErrUnknownMemberID
		}
		return errs, nil
	}
	defer g.unlock()
	if err := g.checkClassicLocked(); err != nil {
		return nil, err
	}
	for i, lm := range members {
		errs[i] = g.leaveLocked(lm)
	}
	return errs, nil
}

func (g *group) leaveLocked(lm LeavingMember) error {
	id := lm.MemberID
	if lm.InstanceID != "" {
		cur, ok := g.static[lm.InstanceID]
		if !ok {
			return ErrUnknownMemberID
		}
		if id != "" && id != cur {
			return fmt.Errorf("%w: instance %q is member %s", ErrFencedInstanceID, lm.InstanceID, cur)
		}
		id = cur
	} else if t, ok := g.pending[id]; ok {
		t.Stop()
		delete(g.pending, id)
		g.tryCompleteJoinLocked()
		return nil
	}
	m := g.members[id]
	if m == nil {
		return ErrUnknownMemberID
	}
	g.coord.logger.Debug("member left", "group", g.id, "member", id, "reason", lm.Reason)
	g.removeMemberLocked(m, ErrUnknownMemberID)
	g.memberGoneLocked()
	return nil
}
