package group

import (
	"fmt"
	"maps"
	"time"

	"github.com/nagare-dev/nagare/internal/coordinator"
)

// Transactional offsets (TxnOffsetCommit, KIP-98): a transactional producer commits a
// consumer's offsets as part of its transaction. They are written to
// __consumer_offsets at once, in a transactional batch with the producer's id and
// epoch, but held apart per producer id (group.pendingTxn) until the transaction's
// marker reaches this partition: a commit marker makes them the group's offsets, an
// abort marker drops them. The marker is written by the WriteTxnMarkers handler, which
// then calls OnTransactionCompleted; a partition loaded from its log does the same with
// the markers it replays.

// TxnCommitRequest is a TxnOffsetCommit.
type TxnCommitRequest struct {
	// MemberRef is v3+'s member id, generation and instance id (KIP-447); older
	// versions send generation -1 and no member, which skips the checks.
	MemberRef
	ProducerID    int64
	ProducerEpoch int16
	Offsets       []OffsetCommit
}

// txnOutcome is a transaction's end as a marker on one offsets partition says it.
type txnOutcome struct {
	producerID int64
	commit     bool
}

// CommitTxnOffsets stages a transaction's offsets, one error per offset. As Kafka's
// doTxnCommitOffsets, the group is created if unknown, a member id must be a member
// (UNKNOWN_MEMBER_ID), a generation other than -1 must be the group's
// (ILLEGAL_GENERATION), and a static member must not be fenced (FENCED_INSTANCE_ID);
// unlike OffsetCommit a rebalance does not refuse it.
func (c *Coordinator) CommitTxnOffsets(req TxnCommitRequest) []error {
	errs := make([]error, len(req.Offsets))
	all := func(err error) []error { return fillErrs(errs, err) }
	if req.GroupID == "" {
		return all(ErrInvalidGroupID)
	}
	g, err := c.lockGroup(req.GroupID, true)
	if err != nil {
		return all(err)
	}
	defer g.unlock()
	if err := g.checkTxnCommitLocked(req.MemberRef); err != nil {
		if g.isEmptyOfStateLocked() {
			g.killLocked(ErrCoordinatorNotAvailable)
		}
		return all(err)
	}
	now := c.now()
	records, writes := c.offsetRecords(g.id, req.Offsets, errs, now, time.Time{})
	if len(records) == 0 {
		return errs
	}
	base, err := g.shard.appendAt(records, now, coordinator.Producer{Transactional: true, ID: req.ProducerID, Epoch: req.ProducerEpoch})
	if err != nil {
		return g.failWritesLocked(errs, writes, err)
	}
	if g.pendingTxn == nil {
		g.pendingTxn = map[int64]map[TopicPartition]committed{}
	}
	staged := g.pendingTxn[req.ProducerID]
	if staged == nil {
		staged = map[TopicPartition]committed{}
		g.pendingTxn[req.ProducerID] = staged
	}
	for k, i := range writes {
		o := req.Offsets[i]
		staged[o.TopicPartition] = committed{offset: o.Offset, leaderEpoch: o.LeaderEpoch, metadata: o.Metadata,
			commitTime: now, appendOffset: base + int64(k)}
	}
	return errs
}

// checkTxnCommitLocked is the member check of Kafka's doTxnCommitOffsets; for a
// KIP-848 group the generation is the member epoch.
func (g *group) checkTxnCommitLocked(ref MemberRef) error {
	if ref.InstanceID != "" {
		if cur, ok := g.static[ref.InstanceID]; ok && cur != ref.MemberID {
			return fmt.Errorf("%w: instance %q is now member %s", ErrFencedInstanceID, ref.InstanceID, cur)
		}
	}
	if g.consumer != nil {
		if ref.MemberID == "" && ref.Generation < 0 {
			return nil
		}
		m := g.consumer.members[ref.MemberID]
		if m == nil {
			return fmt.Errorf("%w: %s", ErrUnknownMemberID, ref.MemberID)
		}
		if ref.Generation >= 0 && ref.Generation != m.epoch {
			return fmt.Errorf("%w: %d, the member is at %d", ErrStaleMemberEpoch, ref.Generation, m.epoch)
		}
		return nil
	}
	if ref.MemberID != "" && g.members[ref.MemberID] == nil {
		return fmt.Errorf("%w: %s", ErrUnknownMemberID, ref.MemberID)
	}
	if ref.Generation >= 0 && ref.Generation != g.generation {
		return fmt.Errorf("%w: %d, the group is at %d", ErrIllegalGeneration, ref.Generation, g.generation)
	}
	return nil
}

// OnTransactionCompleted applies a transaction marker just written to partition
// `partition` of __consumer_offsets: the producer's staged offsets of every group of
// that partition are committed or dropped. A partition not led here is skipped (it
// replays its markers when it loads); one still loading applies it when loaded.
func (c *Coordinator) OnTransactionCompleted(partition int32, producerID int64, commit bool) {
	s, ok := c.shards.Get(partition)
	if !ok {
		return
	}
	o := txnOutcome{producerID: producerID, commit: commit}
	s.mu.Lock()
	if s.state == shardLoading {
		s.completedWhileLoading = append(s.completedWhileLoading, o)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.completeTxn(o)
}

// completeTxn applies an outcome to every group of the shard.
func (s *shard) completeTxn(o txnOutcome) {
	for _, g := range s.all() {
		g.lock()
		if g.state != Dead {
			g.completeTxnLocked(o)
		}
		g.unlock()
	}
}

func (g *group) completeTxnLocked(o txnOutcome) {
	staged, ok := g.pendingTxn[o.producerID]
	if !ok {
		return
	}
	delete(g.pendingTxn, o.producerID)
	if o.commit {
		materialize(g.offsets, staged)
	}
}

// materialize makes staged offsets committed, except where a commit written later to
// the log already replaced them (Kafka's olderThan check).
func materialize(offsets, staged map[TopicPartition]committed) {
	for tp, o := range staged {
		if cur, ok := offsets[tp]; ok && cur.appendOffset > o.appendOffset {
			continue
		}
		offsets[tp] = o
	}
}

// HasPendingOffsets reports whether the group has an offset for tp not yet settled: one
// a transaction has staged, or a commit awaiting the ISR (inflight.go), as Kafka's
// hasPendingOffsetCommitsForTopicPartition. OffsetFetch with require_stable answers
// UNSTABLE_OFFSET_COMMIT then (KIP-447).
func (c *Coordinator) HasPendingOffsets(groupID string, tp TopicPartition) bool {
	g, err := c.lockGroup(groupID, false)
	if err != nil || g == nil {
		return false
	}
	defer g.unlock()
	if g.inflight[tp] != nil {
		return true
	}
	for _, staged := range g.pendingTxn {
		if _, ok := staged[tp]; ok {
			return true
		}
	}
	return false
}

// stage holds a replayed transactional offset until its marker.
func (st *loadState) stage(producerID int64, groupID string, tp TopicPartition, o committed) {
	byGroup := st.pending[producerID]
	if byGroup == nil {
		byGroup = map[string]map[TopicPartition]committed{}
		st.pending[producerID] = byGroup
	}
	if byGroup[groupID] == nil {
		byGroup[groupID] = map[TopicPartition]committed{}
	}
	byGroup[groupID][tp] = o
}

// completeTxn applies a replayed marker.
func (st *loadState) completeTxn(producerID int64, commit bool) {
	byGroup, ok := st.pending[producerID]
	if !ok {
		return
	}
	delete(st.pending, producerID)
	if !commit {
		return
	}
	for groupID, staged := range byGroup {
		if st.offsets[groupID] == nil {
			st.offsets[groupID] = map[TopicPartition]committed{}
		}
		materialize(st.offsets[groupID], staged)
	}
}

// buildPending gives the groups the offsets of transactions still open at the log end.
func (st *loadState) buildPending(c *Coordinator, s *shard, groups map[string]*group, now time.Time) {
	for pid, byGroup := range st.pending {
		for groupID, staged := range byGroup {
			g := groups[groupID]
			if g == nil {
				g = newGroup(c, s, groupID, now)
				groups[groupID] = g
			}
			if g.pendingTxn == nil {
				g.pendingTxn = map[int64]map[TopicPartition]committed{}
			}
			g.pendingTxn[pid] = maps.Clone(staged)
		}
	}
}
