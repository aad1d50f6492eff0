package metadata

import (
	"errors"
	"slices"
	"testing"
)

func TestApplyChangePartition(t *testing.T) {
	id := TopicID{9}
	img := mustApply(t, emptyImage,
		RegisterBroker{NodeID: 1, Host: "b1", Port: 9092},
		RegisterBroker{NodeID: 2, Host: "b2", Port: 9092},
		RegisterBroker{NodeID: 3, Host: "b3", Port: 9092},
		CreateTopic{Name: "t", TopicID: id, Partitions: []PartitionAssignment{
			{Partition: 0, Replicas: []int32{1, 2, 3}, Leader: 1, ISR: []int32{1, 2, 3}},
		}})
	// The leader shrinks its ISR: same leader, same epoch, next partition epoch.
	img = mustApply(t, img, ChangePartition{TopicID: id, Leader: 1, LeaderEpoch: 0, ISR: []int32{1, 2}, PartitionEpoch: 1})
	// Broker 1 is fenced: 2 leads with a new epoch.
	img = mustApply(t, img, ChangePartition{TopicID: id, Leader: 2, LeaderEpoch: 1, ISR: []int32{2}, PartitionEpoch: 2})
	tp, _ := img.TopicByID(id)
	if p := tp.Partitions[0]; p.Leader != 2 || p.LeaderEpoch != 1 || !slices.Equal(p.ISR, []int32{2}) || p.PartitionEpoch != 2 {
		t.Fatalf("partition after changes: %+v", p)
	}
	for _, bad := range []ChangePartition{
		{TopicID: id, Leader: 2, LeaderEpoch: 1, ISR: []int32{2, 3}, PartitionEpoch: 2},            // stale partition epoch
		{TopicID: id, Leader: 3, LeaderEpoch: 1, ISR: []int32{3}, PartitionEpoch: 3},               // new leader, same epoch
		{TopicID: id, Leader: 2, LeaderEpoch: 2, ISR: []int32{2}, PartitionEpoch: 3},               // same leader, new epoch
		{TopicID: id, Leader: 4, LeaderEpoch: 2, ISR: []int32{4}, PartitionEpoch: 3},               // not a replica
		{TopicID: id, Leader: 3, LeaderEpoch: 2, ISR: []int32{2}, PartitionEpoch: 3},               // leader outside the ISR
		{TopicID: id, Leader: 2, LeaderEpoch: 1, ISR: []int32{2, 2}, PartitionEpoch: 3},            // repeated ISR member
		{TopicID: id, Partition: 1, Leader: 2, LeaderEpoch: 1, ISR: []int32{2}, PartitionEpoch: 3}, // no such partition
		{TopicID: TopicID{8}, Leader: 2, LeaderEpoch: 1, ISR: []int32{2}, PartitionEpoch: 3},       // no such topic
	} {
		if _, err := img.apply(bad, 99); err == nil {
			t.Errorf("%+v applied", bad)
		} else if !errors.Is(err, ErrInvalidPartitionChange) && !errors.Is(err, ErrUnknownTopic) && !errors.Is(err, ErrInvalidPartitions) {
			t.Errorf("%+v: unexpected error %v", bad, err)
		}
	}
	// Offline: no leader, empty ISR, a new epoch.
	mustApply(t, img, ChangePartition{TopicID: id, Leader: NoLeader, LeaderEpoch: 2, ISR: []int32{}, PartitionEpoch: 3})
}

func TestChangePartitionRefusesFencedISRMembers(t *testing.T) {
	id := TopicID{7}
	img := mustApply(t, emptyImage,
		RegisterBroker{NodeID: 1, Host: "b1", Port: 9092},
		RegisterBroker{NodeID: 2, Host: "b2", Port: 9092},
		CreateTopic{Name: "t", TopicID: id, Partitions: []PartitionAssignment{
			{Partition: 0, Replicas: []int32{1, 2}, Leader: 1, ISR: []int32{1}},
		}},
		FenceBroker{NodeID: 2})
	grow := ChangePartition{TopicID: id, Leader: 1, LeaderEpoch: 0, ISR: []int32{1, 2}, PartitionEpoch: 1}
	if _, err := img.apply(grow, 99); !errors.Is(err, ErrInvalidPartitionChange) {
		t.Fatalf("a fenced broker joined the ISR: %v", err)
	}
	img = mustApply(t, img, UnfenceBroker{NodeID: 2})
	mustApply(t, img, grow) // once it heartbeats again, it may
}
