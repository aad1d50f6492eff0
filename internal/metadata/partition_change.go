package metadata

import (
	"fmt"
	"slices"
)

// ChangePartition moves one partition's leadership or in-sync replica set, as Kafka's
// PartitionChangeRecord: the controller writes it when a leader is elected (a broker was
// fenced, a preferred leader returns) and when a leader asks to shrink or expand its ISR
// (AlterPartition). Leader epochs fence deposed leaders; the partition epoch fences stale
// ISR changes.
type ChangePartition struct {
	TopicID   TopicID `json:"topicId"`
	Partition int32   `json:"partition"`
	// Leader is the new leader, or NoLeader when no replica may lead (offline).
	Leader int32 `json:"leader"`
	// LeaderEpoch must equal the current one when Leader is unchanged, and be greater
	// when it changes: every leadership has its own epoch.
	LeaderEpoch int32 `json:"leaderEpoch"`
	// ISR is the new in-sync replica set: distinct replicas of the partition, holding the
	// leader unless the partition goes offline.
	ISR []int32 `json:"isr"`
	// PartitionEpoch must be the current partition epoch plus one: a change computed from
	// a stale view of the partition is refused.
	PartitionEpoch int32 `json:"partitionEpoch"`
	// Replicas, when set, replaces the partition's replicas, AddingReplicas and
	// RemovingReplicas (absent ones are cleared): a reassignment starts, completes or is
	// cancelled (reassign.go), as Kafka's PartitionChangeRecord carries them. Unset, the
	// assignment is kept as it is. Version 1 of the record.
	Replicas         []int32 `json:"replicas,omitempty"`
	AddingReplicas   []int32 `json:"addingReplicas,omitempty"`
	RemovingReplicas []int32 `json:"removingReplicas,omitempty"`
}

// recordVersion writes version 0 unless the change moves replicas, so that a change of
// leader or ISR stays readable by nodes that predate reassignments.
func (r ChangePartition) recordVersion() uint8 {
	if r.Replicas != nil {
		return 1
	}
	return 0
}

// Type implements Record.
func (ChangePartition) Type() RecordType { return RecordChangePartition }

func (ChangePartition) isRecord() {}

func (img *Image) applyChangePartition(r ChangePartition, index uint64) (*Image, error) {
	t, ok := img.TopicByID(r.TopicID)
	if !ok {
		return nil, fmt.Errorf("%w: ID %v", ErrUnknownTopic, r.TopicID)
	}
	if r.Partition < 0 || int(r.Partition) >= len(t.Partitions) {
		return nil, fmt.Errorf("%w: topic %q has no partition %d", ErrInvalidPartitions, t.Name, r.Partition)
	}
	cur := t.Partitions[r.Partition]
	if err := img.checkReplicasChange(cur, r); err != nil {
		return nil, fmt.Errorf("topic %q partition %d: %w", t.Name, r.Partition, err)
	}
	if r.Replicas != nil {
		cur.Replicas = r.Replicas // leader and ISR are checked against the new replicas
	}
	if err := checkPartitionChange(cur, r); err != nil {
		return nil, fmt.Errorf("topic %q partition %d: %w", t.Name, r.Partition, err)
	}
	if err := img.checkISRAdditions(cur, r); err != nil {
		return nil, fmt.Errorf("topic %q partition %d: %w", t.Name, r.Partition, err)
	}
	changed := *t
	changed.Partitions = slices.Clone(t.Partitions)
	p := &changed.Partitions[r.Partition]
	p.Leader, p.LeaderEpoch, p.ISR, p.PartitionEpoch = r.Leader, r.LeaderEpoch, slices.Clone(r.ISR), r.PartitionEpoch
	if r.Replicas != nil {
		p.Replicas = slices.Clone(r.Replicas)
		p.AddingReplicas, p.RemovingReplicas = nilIfNone(r.AddingReplicas), nilIfNone(r.RemovingReplicas)
	}
	return img.withTopic(index, &changed), nil
}

// checkPartitionChange applies ChangePartition's rules to the partition as it is.
func checkPartitionChange(cur PartitionAssignment, r ChangePartition) error {
	switch {
	case r.PartitionEpoch != cur.PartitionEpoch+1:
		return fmt.Errorf("%w: partition epoch %d, expected %d", ErrInvalidPartitionChange, r.PartitionEpoch, cur.PartitionEpoch+1)
	case r.Leader == cur.Leader && r.LeaderEpoch != cur.LeaderEpoch:
		return fmt.Errorf("%w: leader %d kept but epoch %d changed from %d", ErrInvalidPartitionChange, r.Leader, r.LeaderEpoch, cur.LeaderEpoch)
	case r.Leader != cur.Leader && r.LeaderEpoch <= cur.LeaderEpoch:
		return fmt.Errorf("%w: new leader %d needs an epoch above %d, got %d", ErrInvalidPartitionChange, r.Leader, cur.LeaderEpoch, r.LeaderEpoch)
	case r.Leader != NoLeader && !slices.Contains(cur.Replicas, r.Leader):
		return fmt.Errorf("%w: leader %d is not a replica %v", ErrInvalidPartitionChange, r.Leader, cur.Replicas)
	case r.Leader != NoLeader && !slices.Contains(r.ISR, r.Leader):
		return fmt.Errorf("%w: leader %d is not in the ISR %v", ErrInvalidPartitionChange, r.Leader, r.ISR)
	}
	seen := map[int32]bool{}
	for _, id := range r.ISR {
		if seen[id] || !slices.Contains(cur.Replicas, id) {
			return fmt.Errorf("%w: ISR %v is not a set of replicas %v", ErrInvalidPartitionChange, r.ISR, cur.Replicas)
		}
		seen[id] = true
	}
	return nil
}

// checkISRAdditions refuses to add a broker to the ISR that is fenced or unknown (Kafka's
// INELIGIBLE_REPLICA, KIP-841): a fenced broker is dead or stopping, and an ISR naming it
// would hold acks=all produces until the controller took it out again. Members already in
// the ISR may stay; removing them is the controller's job.
func (img *Image) checkISRAdditions(cur PartitionAssignment, r ChangePartition) error {
	for _, id := range r.ISR {
		if slices.Contains(cur.ISR, id) {
			continue
		}
		if b, ok := img.Broker(id); !ok || b.Fenced {
			return fmt.Errorf("%w: broker %d cannot join the ISR: it is fenced or not registered", ErrInvalidPartitionChange, id)
		}
	}
	return nil
}
