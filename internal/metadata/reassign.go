package metadata

import (
	"errors"
	"fmt"
	"slices"
)

// Partition reassignment (KIP-455, as Kafka's KRaft controller does it: PartitionReassignmentReplicas,
// PartitionReassignmentRevert and PartitionChangeBuilder's completion). A reassignment is
// recorded on the partition itself: Replicas is the target followed by the replicas being
// removed, AddingReplicas the target's replicas that were not replicas, RemovingReplicas the
// replicas not in the target. New replicas fetch from the leader like any follower and join
// the ISR when caught up; once every target replica is in the ISR the controller completes
// it. The functions below compute the ChangePartition of each step; they read nothing but
// their arguments, so the AlterPartitionReassignments handler and the controller share them.

// ErrNoReassignmentInProgress is a cancellation of a partition that is not being reassigned.
// Kafka: NO_REASSIGNMENT_IN_PROGRESS.
var ErrNoReassignmentInProgress = errors.New("metadata: no partition reassignment in progress")

// ErrReassignmentNeedsUnclean is a cancellation that would leave no in-sync replica among
// the original ones, which only an unclean election could lead. Kafka refuses it with
// INVALID_REPLICA_ASSIGNMENT unless unclean.leader.election.enable.
var ErrReassignmentNeedsUnclean = errors.New("metadata: reverting the reassignment would require an unclean leader election")

// Reassigning reports whether a reassignment of the partition is in progress.
func (p PartitionAssignment) Reassigning() bool {
	return len(p.AddingReplicas) > 0 || len(p.RemovingReplicas) > 0
}

// TargetReplicas is where the partition is going: its replicas less those being removed
// (its replicas when no reassignment is in progress).
func (p PartitionAssignment) TargetReplicas() []int32 {
	return without(p.Replicas, p.RemovingReplicas)
}

// OriginalReplicas is where the partition was before the reassignment: its replicas less
// those being added.
func (p PartitionAssignment) OriginalReplicas() []int32 {
	return without(p.Replicas, p.AddingReplicas)
}

// StartReassignment returns the change that moves p towards target (distinct replicas,
// checked by the caller), and false when there is nothing to change. Replicas become target
// followed by the current replicas not in it; leader and ISR stay. When every target
// replica is already in the ISR (a replica removed, the same set reordered) the change
// completes the reassignment at once, as Kafka's PartitionChangeBuilder does. A new target
// while a reassignment is in progress starts from the current replicas, so replicas added
// by the earlier one and not in the new target are removed again.
func StartReassignment(p PartitionAssignment, target []int32, electable func(int32) bool) (ChangePartition, bool) {
	if !p.Reassigning() && slices.Equal(target, p.Replicas) {
		return ChangePartition{}, false
	}
	next := p
	next.Replicas = slices.Concat(target, without(p.Replicas, target))
	next.AddingReplicas = without(target, p.Replicas)
	next.RemovingReplicas = without(p.Replicas, target)
	if done, ok := CompleteReassignment(next, electable); ok {
		return done, true
	}
	change := baseChange(p)
	change.Replicas = next.Replicas
	change.AddingReplicas, change.RemovingReplicas = next.AddingReplicas, next.RemovingReplicas
	return change, true
}

// CompleteReassignment returns the change that completes p's reassignment, and false when
// it cannot complete yet: some target replica is not in the ISR, or the leader is being
// removed and no target replica in the ISR is electable. Replicas become the target, the
// ISR its members in the target; a leader outside the target gives way to the first
// electable target replica in the new ISR (leader epoch + 1). Also used for a reordering of
// the same replicas, which has nothing to wait for.
func CompleteReassignment(p PartitionAssignment, electable func(int32) bool) (ChangePartition, bool) {
	target := p.TargetReplicas()
	for _, id := range target {
		if !slices.Contains(p.ISR, id) {
			return ChangePartition{}, false
		}
	}
	isr := slices.DeleteFunc(slices.Clone(p.ISR), func(id int32) bool { return !slices.Contains(target, id) })
	if len(isr) == 0 {
		return ChangePartition{}, false
	}
	change := baseChange(p)
	change.Replicas, change.ISR = target, isr
	change.AddingReplicas, change.RemovingReplicas = nil, nil
	if !slices.Contains(target, p.Leader) {
		leader, ok := firstElectable(target, isr, electable)
		if !ok {
			return ChangePartition{}, false
		}
		change.Leader, change.LeaderEpoch = leader, p.LeaderEpoch+1
	}
	return change, true
}

// CancelReassignment returns the change that reverts p to its original replicas: replicas
// and ISR lose the replicas being added, and a leader among those gives way to the first
// electable original replica in the ISR. ErrNoReassignmentInProgress when none is;
// ErrReassignmentNeedsUnclean when no original replica is in the ISR or electable.
func CancelReassignment(p PartitionAssignment, electable func(int32) bool) (ChangePartition, error) {
	if !p.Reassigning() {
		return ChangePartition{}, ErrNoReassignmentInProgress
	}
	original := p.OriginalReplicas()
	isr := without(p.ISR, p.AddingReplicas)
	if len(isr) == 0 {
		return ChangePartition{}, fmt.Errorf("%w: no original replica %v is in the ISR %v", ErrReassignmentNeedsUnclean, original, p.ISR)
	}
	change := baseChange(p)
	change.Replicas, change.ISR = original, isr
	change.AddingReplicas, change.RemovingReplicas = nil, nil
	if p.Leader == NoLeader || !slices.Contains(original, p.Leader) {
		leader, ok := firstElectable(original, isr, electable)
		if !ok {
			return ChangePartition{}, fmt.Errorf("%w: no original replica %v in the ISR %v is live", ErrReassignmentNeedsUnclean, original, isr)
		}
		change.Leader, change.LeaderEpoch = leader, p.LeaderEpoch+1
	}
	return change, nil
}

// baseChange is a ChangePartition of p that keeps leader, epoch and ISR: the next partition
// epoch, to be edited.
func baseChange(p PartitionAssignment) ChangePartition {
	return ChangePartition{Partition: p.Partition, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch,
		ISR: slices.Clone(p.ISR), PartitionEpoch: p.PartitionEpoch + 1}
}

// firstElectable is the first of order that is in isr and electable.
func firstElectable(order, isr []int32, electable func(int32) bool) (int32, bool) {
	for _, id := range order {
		if slices.Contains(isr, id) && (electable == nil || electable(id)) {
			return id, true
		}
	}
	return NoLeader, false
}

// without returns the members of s not in drop, in s's order; nil when none.
func without(s, drop []int32) []int32 {
	var out []int32
	for _, id := range s {
		if !slices.Contains(drop, id) {
			out = append(out, id)
		}
	}
	return out
}

func nilIfNone(s []int32) []int32 {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

// checkReplicasChange checks the replicas a ChangePartition sets, if any: distinct registered
// brokers, with adding and removing replicas among them (fenced brokers may stay replicas;
// the proposer refuses new fenced ones, as Kafka's controller does).
func (img *Image) checkReplicasChange(cur PartitionAssignment, r ChangePartition) error {
	if r.Replicas == nil {
		if len(r.AddingReplicas) > 0 || len(r.RemovingReplicas) > 0 {
			return fmt.Errorf("%w: adding or removing replicas without the replicas", ErrInvalidPartitionChange)
		}
		return nil
	}
	if len(r.Replicas) == 0 {
		return fmt.Errorf("%w: no replicas", ErrInvalidReplicas)
	}
	for i, id := range r.Replicas {
		if slices.Contains(r.Replicas[:i], id) {
			return fmt.Errorf("%w: replica %d listed twice", ErrInvalidReplicas, id)
		}
		if _, ok := img.Broker(id); !ok && !slices.Contains(cur.Replicas, id) {
			return fmt.Errorf("%w: replica %d is not a registered broker", ErrInvalidReplicas, id)
		}
	}
	if err := checkReassigning(r.Replicas, r.AddingReplicas, r.RemovingReplicas); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidReplicas, err)
	}
	return nil
}

// checkReassigning checks a partition's adding and removing replicas against its replicas.
func checkReassigning(replicas, adding, removing []int32) error {
	for i, id := range adding {
		if slices.Contains(adding[:i], id) || !slices.Contains(replicas, id) || slices.Contains(removing, id) {
			return fmt.Errorf("adding replica %d is repeated, removed or not a replica of %v", id, replicas)
		}
	}
	for i, id := range removing {
		if slices.Contains(removing[:i], id) || !slices.Contains(replicas, id) {
			return fmt.Errorf("removing replica %d is repeated or not a replica of %v", id, replicas)
		}
	}
	if len(removing) >= len(replicas) && len(replicas) > 0 {
		return fmt.Errorf("every replica of %v is being removed", replicas)
	}
	return nil
}
