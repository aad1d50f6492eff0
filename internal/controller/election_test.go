package controller

import (
	"slices"
	"testing"

	"github.com/nagare-dev/nagare/internal/metadata"
)

// fakeState: brokers listed in dead are fenced, in leaving are shutting down.
type fakeState struct{ dead, leaving []int32 }

func (f fakeState) alive(id int32) bool     { return !slices.Contains(f.dead, id) }
func (f fakeState) electable(id int32) bool { return f.alive(id) && !slices.Contains(f.leaving, id) }

func TestElectPartition(t *testing.T) {
	p := func(leader int32, isr ...int32) metadata.PartitionAssignment {
		return metadata.PartitionAssignment{Replicas: []int32{1, 2, 3}, Leader: leader, LeaderEpoch: 4, ISR: isr, PartitionEpoch: 7}
	}
	cases := []struct {
		name    string
		p       metadata.PartitionAssignment
		state   fakeState
		unclean bool
		changed bool
		leader  int32
		epoch   int32
		isr     []int32
	}{
		{"all live", p(1, 1, 2, 3), fakeState{}, false, false, 1, 4, nil},
		{"leader fenced: first live ISR member in replica order", p(1, 3, 1, 2), fakeState{dead: []int32{1}}, false, true, 2, 5, []int32{3, 2}},
		{"follower fenced: ISR shrinks, epoch kept", p(1, 1, 2, 3), fakeState{dead: []int32{3}}, false, true, 1, 4, []int32{1, 2}},
		{"no live ISR member: offline, ISR kept", p(1, 1), fakeState{dead: []int32{1}}, false, true, metadata.NoLeader, 5, []int32{1}},
		{"no live ISR member, unclean: any live replica", p(1, 1), fakeState{dead: []int32{1}}, true, true, 2, 5, []int32{2}},
		{"offline stays offline", p(metadata.NoLeader, 1), fakeState{dead: []int32{1}}, false, false, metadata.NoLeader, 4, nil},
		{"offline partition's ISR member returns", p(metadata.NoLeader, 1), fakeState{}, false, true, 1, 5, []int32{1}},
		{"controlled shutdown moves to another ISR member", p(1, 1, 2), fakeState{leaving: []int32{1}}, false, true, 2, 5, []int32{2}},
		{"controlled shutdown with no other ISR member keeps leading", p(1, 1), fakeState{leaving: []int32{1}}, false, false, 1, 4, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, changed := electPartition(c.p, c.state, c.unclean)
			if changed != c.changed {
				t.Fatalf("changed %v, want %v (%+v)", changed, c.changed, got)
			}
			if !changed {
				return
			}
			if got.Leader != c.leader || got.LeaderEpoch != c.epoch || !slices.Equal(got.ISR, c.isr) || got.PartitionEpoch != 8 {
				t.Fatalf("got leader %d epoch %d ISR %v partition epoch %d; want %d %d %v 8",
					got.Leader, got.LeaderEpoch, got.ISR, got.PartitionEpoch, c.leader, c.epoch, c.isr)
			}
		})
	}
}
