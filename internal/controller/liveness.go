package controller

import (
	"context"
	"time"

	"github.com/nagare-dev/nagare/internal/metadata"
)

// renewSession counts a heartbeat towards the broker's session only if the broker keeps
// up with the metadata log: its applied index must have reached what this controller had
// applied at the last renewal, or at least have moved since its previous heartbeat (a
// broker slowed by load catches up late but is not stuck). The quorum pushes the log to
// brokers over connections the leader opens to them, while heartbeats travel on
// connections the broker opens; a broker cut off from inbound traffic would otherwise go
// on heartbeating with a frozen image, keep its leaderships and shrink their ISRs on
// stale views, never fenced (found by tests/chaos). Kafka's brokers fetch the log on
// their own connections, so there the two fail together. A broker that stays stuck
// behind for a session is fenced like a silent one, and is not unfenced until it moves
// again. It reports whether the session was renewed. c.mu must be held.
func (c *Controller) renewSession(hb metadata.BrokerHeartbeat, applied uint64) bool {
	owed, seen := c.owed[hb.NodeID]
	reported := c.reported[hb.NodeID]
	c.reported[hb.NodeID] = hb.MetadataOffset
	if seen && hb.Epoch != metadata.NoBrokerEpoch && hb.MetadataOffset < owed && hb.MetadataOffset <= reported {
		return false
	}
	c.owed[hb.NodeID] = applied
	c.sessions[hb.NodeID] = time.Now()
	return true
}

// idleLog is when the active controller last saw the metadata log move.
type idleLog struct {
	index uint64
	since time.Time
}

// maybeWriteNoOp appends a NoOp record when the metadata log has not moved for
// metadata.max.idle.interval.ms (Kafka's KIP-835 default, 500 ms), so that renewSession
// can tell a broker that stopped applying the log from one with nothing to apply. A
// cluster of one broker has no use for them (and a one-node Nagare is most clusters in
// development), so it writes none.
func (c *Controller) maybeWriteNoOp(ctx context.Context, now time.Time) {
	interval := c.broker.Duration("metadata.max.idle.interval.ms")
	if interval <= 0 {
		return
	}
	img := c.store.Image()
	if len(img.Brokers()) < 2 {
		return // no other broker could take over a lone broker's leaderships
	}
	if index := img.Index(); index != c.idle.index || c.idle.since.IsZero() {
		c.idle = idleLog{index: index, since: now}
		return
	}
	if now.Sub(c.idle.since) < interval {
		return
	}
	c.idle.since = now // a failed proposal waits a whole interval too
	if err := c.propose(ctx, metadata.NoOp{}); err != nil && !errLost(err) {
		c.logger.Debug("controller: cannot write a NoOp record", "err", err)
	}
}
