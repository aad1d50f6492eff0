package controller

import (
	"context"
	"slices"

	"github.com/nagare-dev/nagare/internal/config"
	"github.com/nagare-dev/nagare/internal/metadata"
)

// brokerState is what an election needs to know of each replica.
type brokerState interface {
	// alive: registered and not fenced, so it may keep what it has.
	alive(id int32) bool
	// electable: alive and not shutting down, so it may be given a leadership or stay in
	// an ISR.
	electable(id int32) bool
}

// liveness is what an election pass decides from: one Image and the brokers in
// controlled shutdown (which only the active controller knows).
type liveness struct {
	img          *metadata.Image
	shuttingDown map[int32]bool
}

// liveness snapshots the Image and the brokers in controlled shutdown; false when this
// node is not the active controller.
func (c *Controller) liveness() (liveness, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.active {
		return liveness{}, false
	}
	state := liveness{img: c.store.Image(), shuttingDown: make(map[int32]bool, len(c.shuttingDown))}
	for id := range c.shuttingDown {
		state.shuttingDown[id] = true
	}
	return state, true
}

func (l liveness) alive(id int32) bool {
	b, ok := l.img.Broker(id)
	return ok && !b.Fenced
}

func (l liveness) electable(id int32) bool { return l.alive(id) && !l.shuttingDown[id] }

// elect runs one election pass over every partition of the current Image and proposes
// the changes; it reports whether every needed change was applied. A change refused
// because the partition changed meanwhile (its leader shrank the ISR) is left to the next
// pass, which the new Image triggers.
func (c *Controller) elect(ctx context.Context) bool {
	c.electMu.Lock()
	defer c.electMu.Unlock()
	state, active := c.liveness()
	if !active {
		return true
	}
	ok := true
	for _, t := range state.img.Topics() {
		unclean, resolved := false, false
		for _, p := range t.Partitions {
			if !needsChange(p, state) {
				continue
			}
			if !resolved { // resolving configs costs more than the check, so only on need
				unclean = config.ResolveTopic(c.broker, t.Configs).UncleanLeaderElectionEnable
				resolved = true
			}
			change, changed := electPartition(p, state, unclean)
			if !changed {
				continue
			}
			change.TopicID = t.ID
			if err := c.propose(ctx, change); err != nil {
				ok = false
				c.logger.Debug("controller: partition change refused", "topic", t.Name, "partition", p.Partition, "err", err)
				if errLost(err) {
					return false
				}
				continue
			}
			c.logChange(t.Name, p, change)
		}
	}
	return ok
}

func (c *Controller) logChange(topic string, before metadata.PartitionAssignment, after metadata.ChangePartition) {
	if after.Leader == before.Leader {
		c.logger.Info("controller: ISR shrunk", "topic", topic, "partition", before.Partition, "isr", after.ISR, "was", before.ISR)
		return
	}
	if after.Leader == metadata.NoLeader {
		c.logger.Warn("controller: partition offline, no live in-sync replica", "topic", topic, "partition", before.Partition,
			"isr", after.ISR, "leader_epoch", after.LeaderEpoch)
		return
	}
	c.logger.Info("controller: leader elected", "topic", topic, "partition", before.Partition, "leader", after.Leader,
		"was", before.Leader, "leader_epoch", after.LeaderEpoch, "isr", after.ISR)
}

// needsChange is electPartition's cheap precheck: whether the leader or any ISR member is
// not electable.
func needsChange(p metadata.PartitionAssignment, s brokerState) bool {
	if p.Leader == metadata.NoLeader || !s.electable(p.Leader) {
		return true
	}
	for _, id := range p.ISR {
		if !s.electable(id) {
			return true
		}
	}
	return false
}

// electPartition returns the change one partition needs, as Kafka's controller computes
// it (PartitionChangeBuilder), and whether it needs one:
//   - an electable leader stays; ISR members that are not electable are dropped;
//   - a leader that is fenced, gone or shutting down gives way to the first electable
//     replica (in replica order, so the preferred one first) that is in the ISR, with the
//     leader epoch raised and the ISR cut to its electable members;
//   - with none: a shutting-down leader that is still alive keeps the partition (Kafka's
//     controlled shutdown does not take a partition offline); otherwise the partition goes
//     offline (NoLeader, epoch raised, ISR kept so that any of its members may lead again
//     when it returns), unless unclean is set and some replica outside the ISR is
//     electable, which then leads alone (and may have lost records);
//   - an offline partition gets the first electable ISR member back as leader.
func electPartition(p metadata.PartitionAssignment, s brokerState, unclean bool) (metadata.ChangePartition, bool) {
	change := metadata.ChangePartition{Partition: p.Partition, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch,
		PartitionEpoch: p.PartitionEpoch + 1}
	electableISR := slices.DeleteFunc(slices.Clone(p.ISR), func(id int32) bool { return !s.electable(id) })
	if p.Leader != metadata.NoLeader && s.electable(p.Leader) {
		if len(electableISR) == len(p.ISR) {
			return change, false
		}
		change.ISR = electableISR
		return change, true
	}
	for _, id := range p.Replicas {
		if slices.Contains(electableISR, id) {
			change.Leader, change.LeaderEpoch, change.ISR = id, p.LeaderEpoch+1, electableISR
			return change, true
		}
	}
	if p.Leader != metadata.NoLeader && s.alive(p.Leader) {
		// Shutting down with no other in-sync replica: keep leading, drop the rest.
		isr := append([]int32{p.Leader}, electableISR...)
		if len(isr) == len(p.ISR) {
			return change, false
		}
		slices.SortFunc(isr, func(a, b int32) int { return indexOf(p.ISR, a) - indexOf(p.ISR, b) })
		change.ISR = isr
		return change, true
	}
	if unclean {
		for _, id := range p.Replicas {
			if s.electable(id) {
				change.Leader, change.LeaderEpoch, change.ISR = id, p.LeaderEpoch+1, []int32{id}
				return change, true
			}
		}
	}
	if p.Leader == metadata.NoLeader {
		return change, false // offline already; nothing to do until a replica returns
	}
	change.Leader, change.LeaderEpoch, change.ISR = metadata.NoLeader, p.LeaderEpoch+1, slices.Clone(p.ISR)
	return change, true
}

func indexOf(s []int32, v int32) int { return slices.Index(s, v) }
