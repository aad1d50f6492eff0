package partition

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/nagare-dev/nagare/internal/log"
)

// ErrNotFollower: a replica fetcher's write was refused because this broker no longer
// follows the partition under the leader epoch the fetcher was started for.
var ErrNotFollower = errors.New("partition: this broker does not follow the partition at that leader epoch")

// ErrNotReplica: a replica fetch names a broker that is not a replica of the partition.
var ErrNotReplica = errors.New("partition: the fetching broker is not a replica")

// replicaSet is the partition's assignment as of the last image applied, with the
// leader's view of each follower's progress. It is replaced whole by the registry; the
// follower states are shared between sets of the same leadership so progress survives
// ISR changes.
type replicaSet struct {
	replicas       []int32
	isr            []int32
	partitionEpoch int32
	followers      []*follower // every replica but this broker
	// pending are the members an ISR expansion this leader proposed adds (ExpandingISR):
	// the high watermark waits for them too until the next image replaces the set.
	pending []int32
}

func (s *replicaSet) follower(id int32) *follower {
	for _, f := range s.followers {
		if f.id == id {
			return f
		}
	}
	return nil
}

// follower is what the leader knows of one follower from its fetches (Kafka's
// ReplicaState): its log end offset is the offset it fetches from.
type follower struct {
	id                 int32
	logEndOffset       atomic.Int64 // -1 until its first fetch of this leadership
	lastFetchMs        atomic.Int64
	lastFetchLeaderLEO atomic.Int64 // the leader's log end offset at that fetch
	lastCaughtUpMs     atomic.Int64 // last time it had everything the leader had
}

// newFollower starts a follower's state for a new leadership: one in the ISR counts as
// caught up now (it gets replica.lag.time.max.ms to prove it), one outside never was, as
// Kafka's resetReplicaState does.
func newFollower(id int32, inSync bool, now time.Time) *follower {
	f := &follower{id: id}
	f.logEndOffset.Store(-1)
	f.lastFetchLeaderLEO.Store(-1)
	if inSync {
		f.lastCaughtUpMs.Store(now.UnixMilli())
	}
	return f
}

// FollowerFetched records a follower's fetch from fetchOffset (its log end offset) at
// now, as Kafka's updateFollowerFetchState: it is caught up when it asks for the leader's
// log end offset, or for at least what the leader had at its previous fetch (then it was
// caught up as of that fetch). The high watermark then moves over the ISR, and a
// follower outside the ISR that has reached it asks the ISR keeper to add it back.
// ErrNotReplica for a broker that is not a replica, ErrNotLeader when this broker does
// not lead.
func (p *Partition) FollowerFetched(id int32, fetchOffset int64, now time.Time) error {
	if !p.isLeader.Load() {
		return fmt.Errorf("%w: %s-%d", ErrNotLeader, p.topic, p.index)
	}
	set := p.set.Load()
	f := set.follower(id)
	if f == nil {
		return fmt.Errorf("%w: broker %d for %s-%d (replicas %v)", ErrNotReplica, id, p.topic, p.index, set.replicas)
	}
	nowMs := now.UnixMilli()
	leo := p.log.LogEndOffset()
	switch {
	case fetchOffset >= leo:
		f.lastCaughtUpMs.Store(nowMs)
	case fetchOffset >= f.lastFetchLeaderLEO.Load() && f.lastFetchLeaderLEO.Load() >= 0:
		f.lastCaughtUpMs.Store(max(f.lastCaughtUpMs.Load(), f.lastFetchMs.Load()))
	}
	f.logEndOffset.Store(fetchOffset)
	f.lastFetchLeaderLEO.Store(leo)
	f.lastFetchMs.Store(nowMs)
	p.maybeAdvanceHighWatermark(set)
	if !slices.Contains(set.isr, id) && p.canJoinISR(f) && p.isrNotify != nil {
		p.isrNotify()
	}
	return nil
}

// maybeAdvanceHighWatermark moves the high watermark to the smallest log end offset in
// the ISR, the leader's included (Kafka's maybeIncrementLeaderHW), never backwards. A
// member that has not fetched in this leadership holds it where it is.
func (p *Partition) maybeAdvanceHighWatermark(set *replicaSet) {
	hw := p.log.LogEndOffset()
	for _, members := range [2][]int32{set.isr, set.pending} {
		for _, id := range members {
			if id == p.self {
				continue
			}
			f := set.follower(id)
			if f == nil {
				return
			}
			leo := f.logEndOffset.Load()
			if leo < 0 {
				return
			}
			hw = min(hw, leo)
		}
	}
	p.log.AdvanceHighWatermark(hw)
}

// canJoinISR is Kafka's isFollowerInSync for expansion: the follower has everything up
// to the high watermark and everything of the current leadership's start.
func (p *Partition) canJoinISR(f *follower) bool {
	leo := f.logEndOffset.Load()
	return leo >= 0 && leo >= p.log.HighWatermark() && leo >= p.epochStart.Load()
}

// ISRChange is the ISR this leader wants now, if it differs from the image's: members
// whose last caught-up time is more than lag ago are dropped (Kafka's
// getOutOfSyncReplicas), followers that can join are added. It also returns the
// partition epoch the change must follow. ok is false when nothing should change or
// this broker does not lead.
func (p *Partition) ISRChange(now time.Time, lag time.Duration) (isr []int32, leaderEpoch, partitionEpoch int32, ok bool) {
	if !p.isLeader.Load() {
		return nil, 0, 0, false
	}
	set := p.set.Load()
	nowMs := now.UnixMilli()
	changed := false
	leo := p.log.LogEndOffset()
	for _, id := range set.isr {
		if id != p.self {
			// Kafka's isCaughtUp: at the leader's log end, or caught up within lag.
			if f := set.follower(id); f != nil && f.logEndOffset.Load() != leo && nowMs-f.lastCaughtUpMs.Load() > lag.Milliseconds() {
				changed = true
				continue
			}
		}
		isr = append(isr, id)
	}
	for _, f := range set.followers {
		if !slices.Contains(set.isr, f.id) && p.canJoinISR(f) {
			isr = append(isr, f.id)
			changed = true
		}
	}
	if !changed {
		return nil, 0, 0, false
	}
	return isr, p.LeaderEpoch(), set.partitionEpoch, true
}

// ExpandingISR makes the high watermark wait for the members an ISR expansion adds, from
// before the change is proposed until an image replaces the set (Kafka's maximal ISR,
// KIP-497). A follower joins once it has everything up to the high watermark; without this
// a leader whose ISR is itself alone would go on acknowledging records on write that the
// joiner may lack, and a reassignment completed on that expansion makes the joiner leader
// at once. It reports whether every joiner still has the high watermark, now that the mark
// waits for it (an append racing this call may have moved it just before; none can after).
func (p *Partition) ExpandingISR(isr []int32) bool {
	p.followMu.Lock()
	set := p.set.Load()
	grown := *set
	grown.pending = nil
	for _, id := range isr {
		if !slices.Contains(set.isr, id) {
			grown.pending = append(grown.pending, id)
		}
	}
	p.set.Store(&grown)
	p.soleISR.Store(false)
	p.followMu.Unlock()
	// Taking the lock waits out any append that saw the flag still set (commitIfSoleISR);
	// the joiners are checked under it, against a high watermark no such append can move.
	p.soleHWMu.Lock()
	defer p.soleHWMu.Unlock()
	for _, id := range grown.pending {
		if f := grown.follower(id); f != nil && !p.canJoinISR(f) {
			return false
		}
	}
	return true
}

// ISR is the in-sync replica set as of the last image applied.
func (p *Partition) ISR() []int32 { return slices.Clone(p.set.Load().isr) }

// Replicas are the partition's replicas as of the last image applied.
func (p *Partition) Replicas() []int32 { return slices.Clone(p.set.Load().replicas) }

// InSyncReplicas is the size of the ISR, for min.insync.replicas.
func (p *Partition) InSyncReplicas() int { return int(p.replicas.Load()) }

// AppendAsFollower appends batches fetched from the leader, if this broker still
// follows the partition at leaderEpoch (the fetcher's view); the lock keeps it from
// racing the registry making this broker leader.
func (p *Partition) AppendAsFollower(records []byte, leaderEpoch int32) (log.AppendResult, error) {
	p.followMu.Lock()
	defer p.followMu.Unlock()
	if p.isLeader.Load() || p.leaderEpoch.Load() != leaderEpoch {
		return log.AppendResult{}, fmt.Errorf("%w: %s-%d epoch %d", ErrNotFollower, p.topic, p.index, leaderEpoch)
	}
	res, err := p.log.AppendAsFollower(records)
	if err == nil {
		p.countAppended(len(records), res.RecordCount)
	}
	return res, err
}

// TruncateAsFollower cuts the log at offset for a follower at leaderEpoch whose tail
// diverged from the leader's (KIP-101/KIP-320), or empties it and restarts it at offset
// when fully is set (its log ends below the leader's log start).
func (p *Partition) TruncateAsFollower(offset int64, leaderEpoch int32, fully bool) error {
	p.followMu.Lock()
	defer p.followMu.Unlock()
	if p.isLeader.Load() || p.leaderEpoch.Load() != leaderEpoch {
		return fmt.Errorf("%w: %s-%d epoch %d", ErrNotFollower, p.topic, p.index, leaderEpoch)
	}
	if fully {
		return p.log.TruncateFullyAndStartAt(offset)
	}
	return p.log.Truncate(offset)
}

// FollowerHighWatermark sets a follower's high watermark from the leader's: the smaller
// of it and the follower's own log end offset, never backwards.
func (p *Partition) FollowerHighWatermark(leaderHW int64) {
	p.log.AdvanceHighWatermark(min(leaderHW, p.log.LogEndOffset()))
}
