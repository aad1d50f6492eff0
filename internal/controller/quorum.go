package controller

import (
	"time"

	"github.com/nagare-dev/nagare/internal/metadata"
)

// progress is what heartbeats told of one broker's metadata log, for DescribeQuorum.
type progress struct {
	metadata.ReplicaProgress
	// leaderIndex is what this controller had applied when the heartbeat came: a later
	// heartbeat at or past it shows the broker was caught up at this one's time.
	leaderIndex uint64
}

// recordProgress notes a heartbeat's applied index as Kafka's leader notes a follower's
// fetch (ReplicaState.updateFollowerState): the broker is caught up now if it has
// applied all the controller has, else it was caught up at its previous heartbeat if it
// has applied what the controller had then. A broker that predates broker epochs sends
// no applied index, so its progress stays unknown. c.mu must be held.
func (c *Controller) recordProgress(hb metadata.BrokerHeartbeat, applied uint64, now time.Time) {
	if hb.Epoch == metadata.NoBrokerEpoch {
		return
	}
	p := c.progress[hb.NodeID]
	switch {
	case hb.MetadataOffset >= applied:
		p.LastCaughtUp = now
	case !p.LastHeartbeat.IsZero() && hb.MetadataOffset >= p.leaderIndex:
		p.LastCaughtUp = p.LastHeartbeat
	}
	p.AppliedIndex, p.LastHeartbeat, p.leaderIndex = hb.MetadataOffset, now, applied
	c.progress[hb.NodeID] = p
}

// BrokerProgress implements metadata.ProgressReporter: each broker's progress from the
// heartbeats of this term, nil unless this controller is active (an idle one's view is
// from a term that ended).
func (c *Controller) BrokerProgress() map[int32]metadata.ReplicaProgress {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.active {
		return nil
	}
	out := make(map[int32]metadata.ReplicaProgress, len(c.progress))
	for id, p := range c.progress {
		out[id] = p.ReplicaProgress
	}
	return out
}
