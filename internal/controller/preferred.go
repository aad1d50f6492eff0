package controller

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nagare-dev/nagare/internal/metadata"
)

// Preferred-leader election: the first replica of a partition's replica list is its
// preferred leader, where placement spread leadership evenly. Failovers move leadership
// away and nothing moves it back, so the controller does, on request (ElectLeaders, API
// 43, through ElectLeader) and periodically (auto.leader.rebalance.enable, rebalance).

// ElectLeader implements metadata.BrokerHandler: one partition's election of an
// ElectLeaders request, decided on this controller's current Image with the brokers it
// knows to be shutting down, and serialised with the election passes (electMu), so the
// decision and the pass never race. Kafka's ReplicationControlManager.electLeader:
//   - preferred: ErrElectionNotNeeded when the preferred replica leads; it leads when it
//     is in the ISR and electable; otherwise a leader that is fenced or shutting down is
//     still replaced by the first electable ISR member (as the election pass would), and
//     a partition whose leader may stay answers ErrPreferredLeaderNotAvailable;
//   - unclean: ErrElectionNotNeeded when the partition has a leader; else the first
//     electable ISR member, or any electable replica, leads; none is
//     ErrEligibleLeadersNotAvailable.
func (c *Controller) ElectLeader(ctx context.Context, topic string, partition int32, election metadata.ElectionType) (uint64, error) {
	c.electMu.Lock()
	defer c.electMu.Unlock()
	state, ok := c.liveness()
	if !ok {
		return 0, metadata.ErrControllerStarting
	}
	t, ok := state.img.TopicByName(topic)
	if !ok {
		return 0, fmt.Errorf("%w: %q", metadata.ErrUnknownTopic, topic)
	}
	p, ok := t.Partition(partition)
	if !ok {
		return 0, fmt.Errorf("%w: topic %q has no partition %d", metadata.ErrInvalidPartitions, topic, partition)
	}
	var (
		change metadata.ChangePartition
		err    error
	)
	switch election {
	case metadata.ElectPreferred:
		change, err = preferredChange(p, state)
	case metadata.ElectUnclean:
		change, err = uncleanChange(p, state)
	default:
		return 0, fmt.Errorf("%w: election type %d", metadata.ErrInvalidRecord, election)
	}
	if err != nil {
		return 0, err
	}
	change.TopicID = t.ID
	index, err := c.store.ProposeAsLeader(ctx, change)
	if err != nil {
		return 0, fmt.Errorf("controller: elect a leader of %s-%d: %w", topic, partition, err)
	}
	c.logChange(topic, p, change)
	return index, nil
}

// preferredChange is a preferred election's change of one partition (Kafka's
// PartitionChangeBuilder with Election.PREFERRED).
func preferredChange(p metadata.PartitionAssignment, s brokerState) (metadata.ChangePartition, error) {
	if len(p.Replicas) == 0 {
		return metadata.ChangePartition{}, metadata.ErrPreferredLeaderNotAvailable
	}
	if p.Leader == p.Replicas[0] {
		return metadata.ChangePartition{}, metadata.ErrElectionNotNeeded
	}
	if change, ok := movePreferred(p, s); ok {
		return change, nil
	}
	if p.Leader == metadata.NoLeader || !s.electable(p.Leader) {
		if change, ok := electPartition(p, s, false); ok && change.Leader != p.Leader && change.Leader != metadata.NoLeader {
			return change, nil
		}
	}
	return metadata.ChangePartition{}, metadata.ErrPreferredLeaderNotAvailable
}

// movePreferred gives leadership to the preferred replica when it is an electable ISR
// member, with the leader epoch raised and the ISR cut to its electable members.
func movePreferred(p metadata.PartitionAssignment, s brokerState) (metadata.ChangePartition, bool) {
	if len(p.Replicas) == 0 {
		return metadata.ChangePartition{}, false
	}
	preferred := p.Replicas[0]
	if p.Leader == preferred || !slices.Contains(p.ISR, preferred) || !s.electable(preferred) {
		return metadata.ChangePartition{}, false
	}
	isr := slices.DeleteFunc(slices.Clone(p.ISR), func(id int32) bool { return !s.electable(id) })
	return metadata.ChangePartition{Partition: p.Partition, Leader: preferred, LeaderEpoch: p.LeaderEpoch + 1,
		ISR: isr, PartitionEpoch: p.PartitionEpoch + 1}, true
}

// uncleanChange is an unclean election's change of one partition (Kafka's
// PartitionChangeBuilder with Election.UNCLEAN): only for a partition without a leader.
func uncleanChange(p metadata.PartitionAssignment, s brokerState) (metadata.ChangePartition, error) {
	if p.Leader != metadata.NoLeader {
		return metadata.ChangePartition{}, metadata.ErrElectionNotNeeded
	}
	change, ok := electPartition(p, s, true)
	if !ok || change.Leader == metadata.NoLeader {
		return metadata.ChangePartition{}, metadata.ErrEligibleLeadersNotAvailable
	}
	return change, nil
}

// preferredCandidate is a partition the leader rebalance moves to its preferred replica.
type preferredCandidate struct {
	topic  string
	id     metadata.TopicID
	change metadata.ChangePartition
	before metadata.PartitionAssignment
}

// imbalanced lists the partitions the periodic rebalance moves, as Kafka's
// checkAndTriggerAutoLeaderRebalance chooses them: partitions are grouped by preferred
// replica; a broker whose share of such partitions it does not lead exceeds
// percentage/100 gets back each of them it can lead (it is an electable ISR member).
// Partitions being reassigned are left alone, as Kafka does.
func imbalanced(topics []*metadata.Topic, s brokerState, percentage int) []preferredCandidate {
	preferredFor := map[int32]int{}
	notLeading := map[int32][]preferredCandidate{}
	for _, t := range topics {
		for _, p := range t.Partitions {
			if len(p.Replicas) == 0 {
				continue
			}
			preferred := p.Replicas[0]
			preferredFor[preferred]++
			if p.Leader == preferred {
				continue
			}
			cand := preferredCandidate{topic: t.Name, id: t.ID, before: p}
			notLeading[preferred] = append(notLeading[preferred], cand)
		}
	}
	var out []preferredCandidate
	for broker, cands := range notLeading {
		if float64(len(cands))/float64(preferredFor[broker]) <= float64(percentage)/100 {
			continue
		}
		for _, cand := range cands {
			if len(cand.before.AddingReplicas) > 0 || len(cand.before.RemovingReplicas) > 0 {
				continue
			}
			change, ok := movePreferred(cand.before, s)
			if !ok {
				continue
			}
			change.TopicID = cand.id
			cand.change = change
			out = append(out, cand)
		}
	}
	slices.SortFunc(out, func(a, b preferredCandidate) int {
		if a.topic != b.topic {
			if a.topic < b.topic {
				return -1
			}
			return 1
		}
		return int(a.before.Partition - b.before.Partition)
	})
	return out
}

// maybeRebalance runs the leader rebalance when auto.leader.rebalance.enable is set and
// leader.imbalance.check.interval.seconds has passed since the last check (or since this
// node became active: a new controller waits a whole interval, as Kafka's does, so that
// brokers restarting together have rejoined ISRs first). Loop goroutine only.
func (c *Controller) maybeRebalance(ctx context.Context, now time.Time) {
	if !c.broker.Bool("auto.leader.rebalance.enable") {
		return
	}
	interval := c.broker.Duration("leader.imbalance.check.interval.seconds")
	if c.rebalanceAt.IsZero() {
		c.rebalanceAt = now.Add(interval)
		return
	}
	if now.Before(c.rebalanceAt) {
		return
	}
	c.rebalanceAt = now.Add(interval)
	c.rebalance(ctx)
}

// rebalance moves leadership back to preferred replicas of imbalanced brokers, one
// ChangePartition each; a refused change (the partition changed meanwhile) waits for the
// next check.
func (c *Controller) rebalance(ctx context.Context) {
	c.electMu.Lock()
	defer c.electMu.Unlock()
	state, ok := c.liveness()
	if !ok {
		return
	}
	percentage := c.broker.Int("leader.imbalance.per.broker.percentage")
	for _, cand := range imbalanced(state.img.Topics(), state, percentage) {
		if err := c.propose(ctx, cand.change); err != nil {
			c.logger.Debug("controller: preferred leader change refused", "topic", cand.topic,
				"partition", cand.before.Partition, "err", err)
			if errLost(err) {
				return
			}
			continue
		}
		c.logger.Info("controller: leadership back to the preferred replica", "topic", cand.topic,
			"partition", cand.before.Partition, "leader", cand.change.Leader, "was", cand.before.Leader,
			"leader_epoch", cand.change.LeaderEpoch)
	}
}
