package controller

import (
	"errors"
	"slices"
	"testing"

	"github.com/nagare-dev/nagare/internal/metadata"
)

func TestPreferredAndUncleanChange(t *testing.T) {
	p := func(leader int32, isr ...int32) metadata.PartitionAssignment {
		return metadata.PartitionAssignment{Replicas: []int32{1, 2, 3}, Leader: leader, LeaderEpoch: 4, ISR: isr, PartitionEpoch: 7}
	}
	cases := []struct {
		name     string
		p        metadata.PartitionAssignment
		state    fakeState
		unclean  bool
		err      error
		leader   int32
		isr      []int32
		newEpoch bool
	}{
		{"preferred leads already", p(1, 1, 2, 3), fakeState{}, false, metadata.ErrElectionNotNeeded, 0, nil, false},
		{"preferred back in the ISR", p(2, 1, 2, 3), fakeState{}, false, nil, 1, []int32{1, 2, 3}, true},
		{"preferred not in the ISR", p(2, 2, 3), fakeState{}, false, metadata.ErrPreferredLeaderNotAvailable, 0, nil, false},
		{"preferred fenced", p(2, 1, 2), fakeState{dead: []int32{1}}, false, metadata.ErrPreferredLeaderNotAvailable, 0, nil, false},
		{"preferred shutting down", p(2, 1, 2), fakeState{leaving: []int32{1}}, false, metadata.ErrPreferredLeaderNotAvailable, 0, nil, false},
		{"preferred unavailable, dead leader replaced", p(2, 2, 3), fakeState{dead: []int32{2}}, false, nil, 3, []int32{3}, true},
		{"unclean with a leader", p(2, 2), fakeState{}, true, metadata.ErrElectionNotNeeded, 0, nil, false},
		{"unclean from the ISR first", p(metadata.NoLeader, 3), fakeState{}, true, nil, 3, []int32{3}, true},
		{"unclean outside the ISR", p(metadata.NoLeader, 3), fakeState{dead: []int32{3}}, true, nil, 1, []int32{1}, true},
		{"unclean with nobody live", p(metadata.NoLeader, 3), fakeState{dead: []int32{1, 2, 3}}, true, metadata.ErrEligibleLeadersNotAvailable, 0, nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var (
				got metadata.ChangePartition
				err error
			)
			if c.unclean {
				got, err = uncleanChange(c.p, c.state)
			} else {
				got, err = preferredChange(c.p, c.state)
			}
			if !errors.Is(err, c.err) || (err == nil) != (c.err == nil) {
				t.Fatalf("err %v, want %v", err, c.err)
			}
			if err != nil {
				return
			}
			if got.Leader != c.leader || !slices.Equal(got.ISR, c.isr) || got.PartitionEpoch != 8 || (got.LeaderEpoch == 5) != c.newEpoch {
				t.Fatalf("got %+v, want leader %d ISR %v", got, c.leader, c.isr)
			}
		})
	}
}

// TestImbalanced: broker 1 is preferred for four partitions and leads one (75% off, over
// 10%): the two it can lead move back, the one whose ISR lacks it stays. Broker 2 is
// preferred for ten partitions and misses one (10%, not over 10%): nothing moves.
func TestImbalanced(t *testing.T) {
	part := func(i int32, replicas []int32, leader int32, isr ...int32) metadata.PartitionAssignment {
		return metadata.PartitionAssignment{Partition: i, Replicas: replicas, Leader: leader, LeaderEpoch: 1, ISR: isr}
	}
	a := &metadata.Topic{Name: "a", Partitions: []metadata.PartitionAssignment{
		part(0, []int32{1, 2}, 1, 1, 2),
		part(1, []int32{1, 2}, 2, 1, 2),
		part(2, []int32{1, 3}, 3, 1, 3),
		part(3, []int32{1, 3}, 3, 3),
	}}
	b := &metadata.Topic{Name: "b"}
	for i := range int32(10) {
		leader := int32(2)
		if i == 0 {
			leader = 3
		}
		b.Partitions = append(b.Partitions, part(i, []int32{2, 3}, leader, 2, 3))
	}
	got := imbalanced([]*metadata.Topic{b, a}, fakeState{}, 10)
	var names []string
	for _, c := range got {
		names = append(names, c.topic+"-"+string('0'+rune(c.before.Partition)))
		if c.change.Leader != 1 || c.change.LeaderEpoch != 2 {
			t.Fatalf("%s: change %+v", c.topic, c.change)
		}
	}
	if !slices.Equal(names, []string{"a-1", "a-2"}) {
		t.Fatalf("moved %v, want [a-1 a-2]", names)
	}
	if got := imbalanced([]*metadata.Topic{a}, fakeState{dead: []int32{1}}, 10); len(got) != 0 {
		t.Fatalf("moved %d partitions to a fenced broker", len(got))
	}
}
