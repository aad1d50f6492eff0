package group

import (
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/coordinator"
)

// CommitRequest is an OffsetCommit.
type CommitRequest struct {
	MemberRef
	// Retention is OffsetCommit v2-v4's retention_time_ms; zero or less means the
	// broker's offsets.retention.minutes.
	Retention time.Duration
	Offsets   []OffsetCommit
	// Version is the OffsetCommit version: members of consumer groups must commit
	// with v9+, where Generation is their member epoch.
	Version int16
}

// OffsetCommit is one partition's offset to commit.
type OffsetCommit struct {
	TopicPartition
	Offset      int64
	LeaderEpoch int32
	Metadata    string
}

// CommittedOffset is a committed offset as OffsetFetch returns it.
type CommittedOffset struct {
	Offset      int64
	LeaderEpoch int32
	Metadata    string
}

// fillErrs sets err on every offset that has no error yet.
func fillErrs(errs []error, err error) []error {
	for i := range errs {
		if errs[i] == nil {
			errs[i] = err
		}
	}
	return errs
}

// offsetRecords checks each offset's metadata against offset.metadata.max.bytes and
// builds the __consumer_offsets records of those that pass, returning them with their
// indexes in offsets; the refused ones get their error in errs. OffsetCommit and
// TxnOffsetCommit share it.
func (c *Coordinator) offsetRecords(groupID string, offsets []OffsetCommit, errs []error, now, expire time.Time) (records []record, writes []int) {
	for i, o := range offsets {
		if len(o.Metadata) > c.cfg.Settings.MaxMetadataBytes {
			errs[i] = fmt.Errorf("%w: %d bytes > offset.metadata.max.bytes %d", ErrOffsetMetadataTooLarge, len(o.Metadata), c.cfg.Settings.MaxMetadataBytes)
			continue
		}
		co := committed{offset: o.Offset, leaderEpoch: o.LeaderEpoch, metadata: o.Metadata, commitTime: now, expireTime: expire}
		records = append(records, record{key: offsetKey(groupID, o.TopicPartition), value: offsetValue(co)})
		writes = append(writes, i)
	}
	return records, writes
}

// failWritesLocked gives every offset of a failed append its error, and drops the
// group if it holds nothing (it was created for this commit).
func (g *group) failWritesLocked(errs []error, writes []int, err error) []error {
	for _, i := range writes {
		errs[i] = err
	}
	if g.isEmptyOfStateLocked() {
		g.killLocked(ErrCoordinatorNotAvailable)
	}
	return errs
}

// CommitOffsets stores offsets, one error per offset (nil when stored). Members of a
// generation commit with their member id and generation; anyone may commit to an empty
// group with generation -1 (a "simple" commit: kcat, admin tools, manual assignment),
// which creates the group if needed.
func (c *Coordinator) CommitOffsets(req CommitRequest) []error {
	errs := make([]error, len(req.Offsets))
	all := func(err error) []error { return fillErrs(errs, err) }
	if req.GroupID == "" {
		return all(ErrInvalidGroupID)
	}
	if _, err := c.shardFor(req.GroupID); err != nil {
		return all(err)
	}
	g, err := c.lockGroup(req.GroupID, req.Generation < 0)
	if err != nil {
		return all(err)
	}
	if g == nil {
		return all(fmt.Errorf("%w: group %q does not exist", ErrIllegalGeneration, req.GroupID))
	}
	defer g.unlock()
	if g.share != nil {
		return all(g.notConsumerGroupLocked())
	}
	check := g.checkCommitLocked
	if g.consumer != nil {
		check = func(ref MemberRef) error { return g.checkConsumerCommitLocked(ref, req.Version) }
	}
	if err := check(req.MemberRef); err != nil {
		if g.isEmptyOfStateLocked() {
			g.killLocked(ErrCoordinatorNotAvailable)
		}
		return all(err)
	}
	if m := g.members[req.MemberID]; m != nil {
		g.touchLocked(m)
	}
	if g.state == CompletingRebalance {
		// The member has its new generation from JoinGroup but not yet its assignment.
		return all(ErrRebalanceInProgress)
	}
	now := c.now()
	var expire time.Time
	if req.Retention > 0 {
		expire = now.Add(req.Retention)
	}
	records, writes := c.offsetRecords(g.id, req.Offsets, errs, now, expire)
	if len(records) == 0 {
		if g.isEmptyOfStateLocked() {
			g.killLocked(ErrCoordinatorNotAvailable)
		}
		return errs
	}
	res, err := g.shard.write(records, now, coordinator.Producer{})
	if err != nil {
		return g.failWritesLocked(errs, writes, err)
	}
	partitions := make([]TopicPartition, len(writes))
	for k, i := range writes {
		partitions[k] = req.Offsets[i].TopicPartition
	}
	// Wait for the ISR without the lock (inflight.go), then apply what still stands.
	g.beginCommitsLocked(partitions)
	g.unlock()
	err = g.shard.awaitISR(res.LastOffset)
	g.lock()
	for k, i := range writes {
		o := req.Offsets[i]
		if appendOffset := res.BaseOffset + int64(k); g.endCommitLocked(o.TopicPartition, appendOffset) && err == nil {
			g.offsets[o.TopicPartition] = committed{offset: o.Offset, leaderEpoch: o.LeaderEpoch, metadata: o.Metadata,
				commitTime: now, expireTime: expire, appendOffset: appendOffset}
		}
	}
	if err != nil {
		return g.failWritesLocked(errs, writes, err)
	}
	return errs
}

// notConsumerGroupLocked is what OffsetCommit and OffsetDelete get from a share group,
// whose progress lives in __share_group_state, not in committed offsets (Kafka's
// ShareGroup.validateOffsetCommit and validateOffsetDelete: GROUP_ID_NOT_FOUND).
func (g *group) notConsumerGroupLocked() error {
	return fmt.Errorf("%w: group %q is a share group, not a consumer group", ErrGroupIDNotFound, g.id)
}

// checkCommitLocked is Kafka's validateOffsetCommit for classic groups.
func (g *group) checkCommitLocked(ref MemberRef) error {
	if ref.Generation >= 0 || ref.MemberID != "" || ref.InstanceID != "" {
		if err := g.checkMemberLocked(ref.MemberID, ref.InstanceID); err != nil {
			return err
		}
		if ref.Generation != g.generation {
			return fmt.Errorf("%w: %d, the group is at %d", ErrIllegalGeneration, ref.Generation, g.generation)
		}
		return nil
	}
	if g.state != Empty {
		return fmt.Errorf("%w: only members may commit to a group with members", ErrUnknownMemberID)
	}
	return nil
}

// checkConsumerCommitLocked is Kafka's validateOffsetCommit for consumer groups: a
// commit without a member goes to an empty group only; a member commits with v9+ at
// its current epoch.
func (g *group) checkConsumerCommitLocked(ref MemberRef, version int16) error {
	cg := g.consumer
	if ref.Generation < 0 && ref.MemberID == "" && ref.InstanceID == "" {
		if len(cg.members) > 0 {
			return fmt.Errorf("%w: only members may commit to a group with members", ErrUnknownMemberID)
		}
		return nil
	}
	m := cg.members[ref.MemberID]
	if m == nil {
		return fmt.Errorf("%w: %s", ErrUnknownMemberID, ref.MemberID)
	}
	if version < 9 {
		return fmt.Errorf("%w: members of consumer groups commit with OffsetCommit v9+", ErrUnsupportedVersion)
	}
	if ref.Generation != m.epoch {
		return fmt.Errorf("%w: %d, the member is at %d", ErrStaleMemberEpoch, ref.Generation, m.epoch)
	}
	return nil
}

// FetchOffsets returns the group's committed offsets: for the partitions asked for, or
// all of them when partitions is nil. An unknown group has none.
func (c *Coordinator) FetchOffsets(groupID string, partitions []TopicPartition) (map[TopicPartition]CommittedOffset, error) {
	return c.FetchMemberOffsets(MemberRef{GroupID: groupID, Generation: -1}, partitions)
}

// FetchMemberOffsets is FetchOffsets for OffsetFetch v9+, which names the member and
// its epoch: a member of a consumer group must be known and at its current epoch.
func (c *Coordinator) FetchMemberOffsets(ref MemberRef, partitions []TopicPartition) (map[TopicPartition]CommittedOffset, error) {
	g, err := c.lockGroup(ref.GroupID, false)
	if err != nil {
		return nil, err
	}
	out := map[TopicPartition]CommittedOffset{}
	if g == nil {
		return out, nil
	}
	defer g.unlock()
	if g.share != nil {
		return out, nil // a share group has no committed offsets: none, as Kafka answers
	}
	if g.consumer != nil && (ref.MemberID != "" || ref.Generation >= 0) {
		m := g.consumer.members[ref.MemberID]
		if m == nil {
			return nil, fmt.Errorf("%w: %s", ErrUnknownMemberID, ref.MemberID)
		}
		if ref.Generation != m.epoch {
			return nil, fmt.Errorf("%w: %d, the member is at %d", ErrStaleMemberEpoch, ref.Generation, m.epoch)
		}
	}
	get := func(tp TopicPartition) {
		if o, ok := g.offsets[tp]; ok {
			out[tp] = CommittedOffset{Offset: o.offset, LeaderEpoch: o.leaderEpoch, Metadata: o.metadata}
		}
	}
	if partitions == nil {
		for tp := range g.offsets {
			get(tp)
		}
	} else {
		for _, tp := range partitions {
			get(tp)
		}
	}
	return out, nil
}

// DeleteOffsets removes committed offsets (OffsetDelete): any of an empty group's; of a
// consumer group with members, only those of topics no member subscribes to. It returns
// one error per partition, and an error for the whole request.
func (c *Coordinator) DeleteOffsets(groupID string, partitions []TopicPartition) ([]error, error) {
	if groupID == "" {
		return nil, ErrInvalidGroupID
	}
	g, err := c.lockGroup(groupID, false)
	if err != nil {
		return nil, err
	}
	if g == nil {
		return nil, ErrGroupIDNotFound
	}
	defer g.unlock()
	if g.share != nil {
		return nil, g.notConsumerGroupLocked()
	}
	errs := make([]error, len(partitions))
	var subscribed map[string]bool
	switch {
	case g.state == Empty:
	case g.protocolType == consumerProtocolType:
		subscribed = g.subscribed
		if subscribed == nil { // unknown: Kafka assumes every topic is consumed
			subscribed = map[string]bool{}
			for _, tp := range partitions {
				subscribed[tp.Topic] = true
			}
		}
	default:
		return nil, ErrNonEmptyGroup
	}
	var doomed []TopicPartition
	for i, tp := range partitions {
		if subscribed[tp.Topic] {
			errs[i] = ErrGroupSubscribedToTopic
			continue
		}
		doomed = append(doomed, tp)
	}
	if err := g.removeOffsetsLocked(doomed); err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
	return errs, nil
}

// removeOffsetsLocked writes tombstones for the partitions the group has offsets for
// and forgets them.
func (g *group) removeOffsetsLocked(partitions []TopicPartition) error {
	var records []record
	var gone []TopicPartition
	for _, tp := range partitions {
		if _, ok := g.offsets[tp]; ok || g.inflight[tp] != nil {
			records = append(records, record{key: offsetKey(g.id, tp)})
			gone = append(gone, tp)
		}
	}
	if len(records) == 0 {
		return nil
	}
	base, err := g.shard.appendAt(records, g.coord.now(), coordinator.Producer{})
	if err != nil {
		return err
	}
	for k, tp := range gone {
		delete(g.offsets, tp)
		g.removedLocked(tp, base+int64(k))
	}
	return nil
}

// storeLocked writes the group's metadata record: its generation, protocol, leader and
// members with their subscriptions and assignments (assignments, or each member's
// current one when nil).
func (g *group) storeLocked(assignments map[string][]byte) error {
	v := kmsg.NewGroupMetadataValue()
	v.Version = groupValueVersion
	v.ProtocolType, v.Generation = g.protocolType, g.generation
	v.CurrentStateTimestamp = g.stateTime.UnixMilli()
	if g.protocol != "" {
		v.Protocol = kmsg.StringPtr(g.protocol)
	}
	if g.leader != "" && len(g.members) > 0 {
		v.Leader = kmsg.StringPtr(g.leader)
	}
	for _, m := range g.sortedMembersLocked() {
		vm := kmsg.NewGroupMetadataValueMember()
		vm.MemberID, vm.ClientID, vm.ClientHost = m.id, m.clientID, m.clientHost
		if m.instanceID != "" {
			vm.InstanceID = kmsg.StringPtr(m.instanceID)
		}
		vm.RebalanceTimeoutMillis = int32(m.rebalanceTimeout / time.Millisecond)
		vm.SessionTimeoutMillis = int32(m.sessionTimeout / time.Millisecond)
		vm.Subscription, _ = m.metadataFor(g.protocol)
		vm.Assignment = m.assignment
		if assignments != nil {
			vm.Assignment = assignments[m.id]
		}
		v.Members = append(v.Members, vm)
	}
	err := g.shard.append([]record{{key: groupKey(g.id), value: v.AppendTo(nil)}}, g.coord.now())
	if errors.Is(err, ErrCommitTooLarge) {
		return fmt.Errorf("group %q metadata does not fit in a record batch: %v", g.id, err)
	}
	return err
}

// deleteLocked removes an empty group and everything it stored: tombstones for its
// offsets, then for its metadata.
func (g *group) deleteLocked() error {
	records := make([]record, 0, len(g.offsets)+len(g.inflight)+1)
	for tp := range g.offsets {
		records = append(records, record{key: offsetKey(g.id, tp)})
	}
	for _, tp := range g.inflightOnlyLocked() {
		records = append(records, record{key: offsetKey(g.id, tp)})
	}
	records = append(records, record{key: groupKey(g.id)})
	if err := g.shard.append(records, g.coord.now()); err != nil {
		return err
	}
	g.offsets = map[TopicPartition]committed{}
	g.killLocked(ErrCoordinatorNotAvailable)
	return nil
}

// expireLoop removes expired offsets, and groups left with nothing, every interval.
func (c *Coordinator) expireLoop(interval time.Duration) {
	defer c.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.expireOffsets()
		}
	}
}

// expireOffsets applies offsets.retention.minutes now, as each background check does:
// an empty group's offsets expire that long after it became empty (after their commit,
// for groups that only store offsets); a stable consumer group's offsets of topics it no
// longer subscribes to expire that long after their commit (KIP-211, KIP-496). A commit
// that named its own retention (v2-v4) expires when it said. An empty group left with no
// offsets is deleted.
func (c *Coordinator) expireOffsets() {
	shards, _ := c.loaded()
	retention := c.cfg.Settings.OffsetsRetention
	for _, s := range shards {
		for _, g := range s.all() {
			g.lock()
			if g.state != Dead {
				if err := g.expireLocked(c.now(), retention); err != nil {
					c.logger.Warn("expiring offsets", "group", g.id, "err", err)
				}
			}
			g.unlock()
		}
	}
}

func (g *group) expireLocked(now time.Time, retention time.Duration) error {
	var base func(committed) time.Time
	var skip map[string]bool
	switch {
	case g.protocolType == "":
		base = func(o committed) time.Time { return o.commitTime }
	case g.state == Empty:
		base = func(committed) time.Time { return g.stateTime }
	case g.state == Stable && g.protocolType == consumerProtocolType && g.subscribed != nil:
		base, skip = func(o committed) time.Time { return o.commitTime }, g.subscribed
	}
	var expired []TopicPartition
	for tp, o := range g.offsets {
		switch {
		case g.inflight[tp] != nil:
			// A newer commit awaits the ISR: it is fresh (Kafka's getExpiredOffsets).
		case !o.expireTime.IsZero():
			if !now.Before(o.expireTime) {
				expired = append(expired, tp)
			}
		case base != nil && !skip[tp.Topic] && now.Sub(base(o)) >= retention:
			expired = append(expired, tp)
		}
	}
	if err := g.removeOffsetsLocked(expired); err != nil {
		return err
	}
	if len(expired) > 0 {
		g.coord.logger.Info("expired offsets", "group", g.id, "partitions", len(expired))
	}
	if g.state == Empty && len(g.pending) == 0 && !g.holdsOffsetsLocked() {
		if g.protocolType == "" && g.generation == 0 {
			g.killLocked(ErrCoordinatorNotAvailable) // nothing was ever stored for it but offsets
			return nil
		}
		return g.deleteLocked()
	}
	return nil
}
