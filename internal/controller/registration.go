package controller

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nagare-dev/nagare/internal/metadata"
)

// Broker lifecycle requests (KIP-631): registration, heartbeats and controlled shutdown.
// A new incarnation is registered fenced, and before the registration is answered an
// election pass moves the leaderships of the old process away and takes it out of ISRs:
// its log may have lost what it had not flushed, so it must catch up as a follower. Its
// heartbeat unfences it once its metadata reaches the registration. Every request names
// the broker epoch it was registered at, so a process that has since restarted can
// neither keep its session nor fence its successor.

// RegisterBroker implements metadata.BrokerHandler.
func (c *Controller) RegisterBroker(ctx context.Context, reg metadata.RegisterBroker) (uint64, error) {
	if err := c.requireActive(); err != nil {
		return 0, err
	}
	cur, exists := c.store.Image().Broker(reg.NodeID)
	retry := exists && cur.IncarnationID == reg.IncarnationID && sameRegistration(cur, reg)
	if !retry {
		// A clustered broker registers fenced (the first heartbeat that finds it caught up
		// unfences it); a one-node cluster's lone broker registers unfenced, since there is
		// nowhere to move its leaderships and taking them offline only costs a restart.
		reg.BrokerEpoch = 0
		c.logger.Info("controller: registering broker", "node_id", reg.NodeID, "incarnation", reg.IncarnationID,
			"host", reg.Host, "port", reg.Port)
		if _, err := c.store.ProposeAsLeader(ctx, reg); err != nil {
			return 0, fmt.Errorf("controller: register broker %d: %w", reg.NodeID, err)
		}
	}
	c.mu.Lock()
	c.sessions[reg.NodeID] = time.Now()
	delete(c.shuttingDown, reg.NodeID) // a new process is no longer shutting down
	c.mu.Unlock()
	if !c.elect(ctx) {
		return 0, fmt.Errorf("controller: the leaderships of broker %d's previous process could not be moved yet", reg.NodeID)
	}
	return c.store.Image().Index(), nil
}

// sameRegistration reports whether reg would change nothing of b but its fencing.
func sameRegistration(b metadata.Broker, reg metadata.RegisterBroker) bool {
	return b.Host == reg.Host && b.Port == reg.Port && b.Rack == reg.Rack && slices.Equal(b.Listeners, reg.Listeners)
}

// Heartbeat implements metadata.BrokerHandler: it renews the broker's session and unfences
// a fenced broker whose metadata has caught up with its registration, unless it is in
// controlled shutdown. It returns the Image index the broker waits for.
func (c *Controller) Heartbeat(ctx context.Context, hb metadata.BrokerHeartbeat) (uint64, error) {
	if err := c.requireActive(); err != nil {
		return 0, err
	}
	img := c.store.Image()
	b, err := checkEpoch(img, hb.NodeID, hb.Epoch)
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	live := c.renewSession(hb, img.Index())
	c.recordProgress(hb, img.Index(), time.Now())
	if hb.Epoch == metadata.NoBrokerEpoch {
		delete(c.shuttingDown, hb.NodeID) // an older broker heartbeats again only once restarted
	}
	shutting := c.shuttingDown[hb.NodeID]
	c.mu.Unlock()
	caughtUp := hb.Epoch == metadata.NoBrokerEpoch || hb.MetadataOffset >= uint64(b.Epoch)
	if !b.Fenced || shutting || !caughtUp || !live {
		return img.Index(), nil
	}
	c.logger.Info("controller: unfencing broker", "node_id", hb.NodeID, "epoch", b.Epoch)
	index, err := c.store.ProposeAsLeader(ctx, metadata.UnfenceBroker{NodeID: hb.NodeID})
	if err != nil {
		return 0, fmt.Errorf("controller: unfence broker %d: %w", hb.NodeID, err)
	}
	// Elect now, before answering: the broker waits to apply the answer's index before it
	// serves, so the partitions it gets back (offline ones whose ISR holds it) are led
	// again by then, not a poll later.
	if !c.elect(ctx) {
		c.wake()
		return index, nil
	}
	return c.store.Image().Index(), nil
}

// ControlledShutdown implements metadata.BrokerHandler. ShutdownBegin marks the broker
// shutting down and runs an election pass before answering, so that the answer's index
// covers the moved leaderships; ShutdownDone fences it.
func (c *Controller) ControlledShutdown(ctx context.Context, nodeID int32, epoch int64, phase metadata.ShutdownPhase) (uint64, error) {
	if err := c.requireActive(); err != nil {
		return 0, err
	}
	if _, err := checkEpoch(c.store.Image(), nodeID, epoch); err != nil {
		return 0, err
	}
	c.mu.Lock()
	c.shuttingDown[nodeID] = true
	c.mu.Unlock()
	switch phase {
	case metadata.ShutdownBegin:
		c.logger.Info("controller: controlled shutdown, moving leaderships", "node_id", nodeID)
		if !c.elect(ctx) {
			return 0, fmt.Errorf("controller: some leaderships of broker %d could not be moved yet", nodeID)
		}
		return c.store.Image().Index(), nil
	case metadata.ShutdownDone:
		if b, _ := c.store.Image().Broker(nodeID); b.Fenced {
			return c.store.Image().Index(), nil
		}
		c.logger.Info("controller: controlled shutdown done, fencing broker", "node_id", nodeID)
		index, err := c.store.ProposeAsLeader(ctx, metadata.FenceBroker{NodeID: nodeID})
		if err != nil {
			return 0, fmt.Errorf("controller: fence broker %d: %w", nodeID, err)
		}
		return index, nil
	}
	return 0, fmt.Errorf("%w: controlled shutdown phase %d", metadata.ErrInvalidRecord, phase)
}

func (c *Controller) requireActive() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.active {
		return metadata.ErrControllerStarting
	}
	return nil
}

// checkEpoch returns the broker's registration when epoch is its current broker epoch (or
// NoBrokerEpoch, from a broker that predates them).
func checkEpoch(img *metadata.Image, nodeID int32, epoch int64) (metadata.Broker, error) {
	b, ok := img.Broker(nodeID)
	if !ok {
		return b, fmt.Errorf("%w: broker %d", metadata.ErrBrokerIDNotRegistered, nodeID)
	}
	if epoch != metadata.NoBrokerEpoch && epoch != b.Epoch {
		return b, fmt.Errorf("%w: broker %d sent epoch %d, its registration has %d", metadata.ErrStaleBrokerEpoch, nodeID, epoch, b.Epoch)
	}
	return b, nil
}
