package partition

import (
	"fmt"
	"slices"
	"time"
)

// ReplicaView is the leader's view of one follower, for choosing a consumer's preferred
// read replica (KIP-392; Kafka's ReplicaView).
type ReplicaView struct {
	ID     int32
	InSync bool // in the ISR as of the last image applied
	// LogEndOffset is the offset the follower last fetched from; -1 before its first
	// fetch of this leadership.
	LogEndOffset int64
	// LastCaughtUp is the last time it had everything the leader had (zero: never).
	LastCaughtUp time.Time
}

// FollowerViews returns the leader's view of every follower; nil when this broker does
// not lead the partition.
func (p *Partition) FollowerViews() []ReplicaView {
	if !p.isLeader.Load() {
		return nil
	}
	set := p.set.Load()
	out := make([]ReplicaView, 0, len(set.followers))
	for _, f := range set.followers {
		v := ReplicaView{ID: f.id, InSync: slices.Contains(set.isr, f.id), LogEndOffset: f.logEndOffset.Load()}
		if ms := f.lastCaughtUpMs.Load(); ms > 0 {
			v.LastCaughtUp = time.UnixMilli(ms)
		}
		out = append(out, v)
	}
	return out
}

// FollowerLogStartOffset moves a follower's log start offset up to the leader's (Kafka's
// maybeIncrementLogStartOffset on followers, LeaderOffsetIncremented), so DeleteRecords
// and retention on the leader reach its followers: reads below it fail and whole segments
// below it go at the next retention pass. It never passes the follower's own high
// watermark, and never moves back. ErrNotFollower when this broker no longer follows at
// leaderEpoch.
func (p *Partition) FollowerLogStartOffset(leaderLogStart int64, leaderEpoch int32) error {
	p.followMu.Lock()
	defer p.followMu.Unlock()
	if p.isLeader.Load() || p.leaderEpoch.Load() != leaderEpoch {
		return fmt.Errorf("%w: %s-%d epoch %d", ErrNotFollower, p.topic, p.index, leaderEpoch)
	}
	to := min(leaderLogStart, p.log.HighWatermark())
	if to <= p.log.LogStartOffset() {
		return nil
	}
	if _, err := p.log.DeleteRecordsBefore(to); err != nil {
		return fmt.Errorf("follow the leader's log start offset %d: %w", to, err)
	}
	return nil
}
