package metadata

import (
	"errors"
	"slices"
	"testing"
)

func anyLive(int32) bool { return true }

// TestReassignmentSteps walks one partition through Kafka's reassignment states: start,
// completion once the target is in sync (with a new leader when the leader is removed),
// cancellation back to the original replicas, and the at-once completion of a target
// already in sync.
func TestReassignmentSteps(t *testing.T) {
	p := PartitionAssignment{Partition: 0, Replicas: []int32{1, 2}, Leader: 1, LeaderEpoch: 3, ISR: []int32{1, 2}, PartitionEpoch: 7}

	start, ok := StartReassignment(p, []int32{3, 2}, anyLive)
	if !ok || !slices.Equal(start.Replicas, []int32{3, 2, 1}) || !slices.Equal(start.AddingReplicas, []int32{3}) ||
		!slices.Equal(start.RemovingReplicas, []int32{1}) || start.Leader != 1 || start.PartitionEpoch != 8 {
		t.Fatalf("start: %+v", start)
	}
	moving := p
	moving.Replicas, moving.AddingReplicas, moving.RemovingReplicas, moving.PartitionEpoch = start.Replicas, start.AddingReplicas, start.RemovingReplicas, 8
	if _, due := CompleteReassignment(moving, anyLive); due {
		t.Fatal("completed before the new replica is in sync")
	}
	moving.ISR = []int32{1, 2, 3}
	done, due := CompleteReassignment(moving, anyLive)
	if !due || !slices.Equal(done.Replicas, []int32{3, 2}) || !slices.Equal(done.ISR, []int32{2, 3}) ||
		done.Leader != 3 || done.LeaderEpoch != 4 || done.AddingReplicas != nil || done.RemovingReplicas != nil {
		t.Fatalf("complete: %+v", done)
	}

	cancel, err := CancelReassignment(moving, anyLive)
	if err != nil || !slices.Equal(cancel.Replicas, []int32{2, 1}) || !slices.Equal(cancel.ISR, []int32{1, 2}) || cancel.Leader != 1 {
		t.Fatalf("cancel: %+v %v", cancel, err)
	}
	if _, err := CancelReassignment(p, anyLive); !errors.Is(err, ErrNoReassignmentInProgress) {
		t.Fatalf("cancel with none in progress: %v", err)
	}

	if _, ok := StartReassignment(p, []int32{1, 2}, anyLive); ok {
		t.Fatal("the current replicas again is not a change")
	}
	shrink, ok := StartReassignment(p, []int32{2}, anyLive)
	if !ok || !slices.Equal(shrink.Replicas, []int32{2}) || shrink.Leader != 2 || shrink.AddingReplicas != nil {
		t.Fatalf("a target in sync completes at once: %+v", shrink)
	}
}

// TestReassignmentRecordApplies applies a start and checks the image and a snapshot-style
// round trip keep adding and removing.
func TestReassignmentRecordApplies(t *testing.T) {
	img := emptyImage
	var err error
	for id := int32(1); id <= 3; id++ {
		if img, err = img.apply(RegisterBroker{NodeID: id, Host: "h", Port: 9092}, uint64(id)); err != nil {
			t.Fatal(err)
		}
	}
	id := NewTopicID()
	p := PartitionAssignment{Replicas: []int32{1}, Leader: 1, ISR: []int32{1}}
	if img, err = img.apply(CreateTopic{Name: "t", TopicID: id, Partitions: []PartitionAssignment{p}}, 4); err != nil {
		t.Fatal(err)
	}
	change, _ := StartReassignment(p, []int32{2}, anyLive)
	change.TopicID = id
	if img, err = img.apply(change, 5); err != nil {
		t.Fatal(err)
	}
	topic, _ := img.TopicByName("t")
	got := topic.Partitions[0]
	if !got.Reassigning() || !slices.Equal(got.Replicas, []int32{2, 1}) || !slices.Equal(got.TargetReplicas(), []int32{2}) {
		t.Fatalf("after start: %+v", got)
	}
	b, err := EncodeRecord(CreateTopic{Name: "t2", TopicID: NewTopicID(), Partitions: []PartitionAssignment{got}})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := DecodeRecord(b)
	if err != nil || !slices.Equal(rec.(CreateTopic).Partitions[0].AddingReplicas, []int32{2}) {
		t.Fatalf("round trip: %v %+v", err, rec)
	}
	bad := change
	bad.PartitionEpoch++
	bad.Replicas, bad.AddingReplicas = []int32{2, 1}, []int32{3}
	if _, err := img.apply(bad, 6); err == nil {
		t.Fatal("adding a replica outside the replicas was accepted")
	}
}
