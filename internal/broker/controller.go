package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nagare-dev/nagare/internal/controller"
	"github.com/nagare-dev/nagare/internal/metadata"
)

// controlPlane is the broker's side of the controller: the controller itself (active only
// while this node leads the metadata quorum) and the heartbeat loop that keeps this
// broker's session with whichever node is active.
type controlPlane struct {
	controller *controller.Controller
	// epoch is this process's broker epoch and incarnation its incarnation ID
	// (registration.go), set once before the heartbeats start; 0 and "" on a
	// controller-only node, which never registers.
	epoch          int64
	incarnation    string
	stopHeartbeats context.CancelFunc
	heartbeatsDone chan struct{}
}

const (
	// minHeartbeatTimeout bounds one heartbeat from below: a heartbeat that waits for a
	// new controller to be elected may take longer than a short interval.
	minHeartbeatTimeout = 500 * time.Millisecond
	// shutdownDoneTimeout bounds the last step of a controlled shutdown, which only saves
	// the cluster a session timeout: the broker stops whether or not it is answered.
	shutdownDoneTimeout = 2 * time.Second
)

// startController starts this node's controller before the broker registers, so that
// the first heartbeat of a cluster's brokers finds the quorum leader's controller running.
func (b *Broker) startController() {
	b.control.controller = controller.New(controller.Config{Store: b.meta, Broker: b.conf, Logger: b.logger})
	b.control.controller.Start()
}

// startHeartbeats heartbeats until this incarnation is unfenced (its registration is
// fenced until its metadata has caught up, so that Metadata lists it only once it can
// serve), then every broker.heartbeat.interval.ms until stopHeartbeats.
func (b *Broker) startHeartbeats(ctx context.Context) error {
	interval := b.conf.Duration("broker.heartbeat.interval.ms")
	if err := b.heartbeatUntilUnfenced(ctx, interval); err != nil {
		return err
	}
	hbCtx, cancel := context.WithCancel(context.Background())
	b.control.stopHeartbeats = cancel
	b.control.heartbeatsDone = make(chan struct{})
	go func() {
		defer close(b.control.heartbeatsDone)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-hbCtx.Done():
				return
			case <-tick.C:
			}
			ctx, cancel := context.WithTimeout(hbCtx, max(interval, minHeartbeatTimeout))
			err := b.meta.Heartbeat(ctx, b.nodeID, b.control.epoch)
			cancel()
			if errors.Is(err, metadata.ErrStaleBrokerEpoch) && hbCtx.Err() == nil {
				b.logger.Error("heartbeat refused: another process has registered this node id since", "node_id", b.nodeID, "broker_epoch", b.control.epoch, "err", err)
			} else if err != nil && hbCtx.Err() == nil {
				b.logger.Warn("heartbeat to the controller failed", "node_id", b.nodeID, "err", err)
			}
		}
	}()
	return nil
}

// heartbeatUntilUnfenced heartbeats until the Image shows this broker unfenced, backing
// off a fraction of the interval between tries.
func (b *Broker) heartbeatUntilUnfenced(ctx context.Context, interval time.Duration) error {
	for {
		if err := b.meta.Heartbeat(ctx, b.nodeID, b.control.epoch); err != nil {
			return err
		}
		if reg, ok := b.meta.Image().Broker(b.nodeID); ok && !reg.Fenced && reg.Epoch == b.control.epoch {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting to be unfenced: %w", ctx.Err())
		case <-time.After(min(interval/4, 100*time.Millisecond)):
		}
	}
}

// stopHeartbeatLoop stops the heartbeats and waits for the loop; safe to call twice.
func (b *Broker) stopHeartbeatLoop() {
	if b.control.stopHeartbeats != nil {
		b.control.stopHeartbeats()
		<-b.control.heartbeatsDone
	}
}

// stopControl stops the heartbeats and the controller, before the metadata store closes.
func (b *Broker) stopControl() {
	b.stopHeartbeatLoop()
	if b.control.controller != nil {
		b.control.controller.Close()
	}
}

// controlledShutdown moves this broker's leaderships to other in-sync replicas before it
// stops, as Kafka's controlled shutdown does, so that clients see a leader change (a
// retriable error) rather than a dead leader for a session timeout. It stops the
// heartbeats first (a heartbeat would end the shutdown on the controller), asks the
// controller to move the leaderships, and waits until the Image shows this broker leads
// no partition that has another in-sync replica, or until broker.session.timeout.ms or
// ctx ends; then it tells the controller it stops, which fences it. A one-node cluster
// has nowhere to move anything and skips it, and so does a node that knows no quorum
// leader (the rest of the cluster is gone): nobody could answer.
func (b *Broker) controlledShutdown(ctx context.Context) {
	if b.meta == nil || b.control.controller == nil || !b.conf.Clustered() || b.control.epoch == 0 {
		return
	}
	b.stopHeartbeatLoop()
	if b.meta.ControllerID() < 0 {
		b.logger.Warn("controlled shutdown skipped: no active controller", "node_id", b.nodeID)
		return
	}
	if leadsMovable(b.meta.Image(), b.nodeID) {
		b.moveLeaderships(ctx)
	}
	doneCtx, cancelDone := context.WithTimeout(ctx, shutdownDoneTimeout)
	defer cancelDone()
	if err := b.meta.ControlledShutdown(doneCtx, b.nodeID, b.control.epoch, metadata.ShutdownDone); err != nil {
		b.logger.Warn("controlled shutdown: the controller was not told, it fences this broker when its session lapses", "err", err)
	}
}

// moveLeaderships asks the controller to move this broker's leaderships until the Image
// shows none left that another in-sync replica could take, bounded by
// broker.session.timeout.ms: waiting longer would cost more than the crash it avoids.
func (b *Broker) moveLeaderships(ctx context.Context) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, b.conf.Duration("broker.session.timeout.ms"))
	defer cancel()
	changed, stopWatch := b.meta.Watch()
	defer stopWatch()
	for {
		err := b.meta.ControlledShutdown(ctx, b.nodeID, b.control.epoch, metadata.ShutdownBegin)
		if errors.Is(err, metadata.ErrStaleBrokerEpoch) {
			b.logger.Warn("controlled shutdown: another process has registered this node id since", "node_id", b.nodeID, "err", err)
			return
		}
		if err == nil && !leadsMovable(b.meta.Image(), b.nodeID) {
			b.logger.Info("controlled shutdown: leaderships moved", "node_id", b.nodeID, "took", time.Since(start).Round(time.Millisecond))
			return
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			b.logger.Debug("controlled shutdown: retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			b.logger.Warn("controlled shutdown: stopping with leaderships left", "node_id", b.nodeID, "err", err)
			return
		case <-changed:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// leadsMovable reports whether nodeID leads a partition that has another in-sync replica
// to take it.
func leadsMovable(img *metadata.Image, nodeID int32) bool {
	for _, t := range img.Topics() {
		for _, p := range t.Partitions {
			if p.Leader == nodeID && len(p.ISR) > 1 {
				return true
			}
		}
	}
	return false
}

// Halt stops the broker without a controlled shutdown: its leaderships stay until the
// controller notices the lapsed session, as after a crash. Tests use it to fail a broker;
// Shutdown is the graceful stop.
func (b *Broker) Halt(ctx context.Context) error {
	b.shutOnce.Do(func() { b.shutErr = b.close(ctx) })
	return b.shutErr
}
