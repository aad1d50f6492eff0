package api

import (
	"slices"
	"testing"

	"github.com/nagare-dev/nagare/internal/metadata"
)

// TestPlaceReplicasMatchesKafka checks the placement against Kafka's AdminUtilsTest
// (testReplicaAssignment: five brokers, ten partitions, three replicas, start index 0).
func TestPlaceReplicasMatchesKafka(t *testing.T) {
	want := [][]int32{{0, 1, 2}, {1, 2, 3}, {2, 3, 4}, {3, 4, 0}, {4, 0, 1},
		{0, 2, 3}, {1, 3, 4}, {2, 4, 0}, {3, 0, 1}, {4, 1, 2}}
	got := placeReplicas([]int32{0, 1, 2, 3, 4}, 0, 10, 3, 0, 0)
	for p, a := range got {
		if !slices.Equal(a.Replicas, want[p]) || a.Leader != want[p][0] || !slices.Equal(a.ISR, want[p]) || a.Partition != int32(p) {
			t.Errorf("partition %d: %+v, want replicas %v", p, a, want[p])
		}
	}
}

// TestAssignReplicasSpreadsLeaders checks that a topic with as many partitions as
// brokers has one leader on each, whatever the random start, with distinct replicas.
func TestAssignReplicasSpreadsLeaders(t *testing.T) {
	brokers := []metadata.Broker{{NodeID: 3}, {NodeID: 1}, {NodeID: 2}}
	for range 20 {
		leaders := map[int32]int{}
		for _, a := range assignReplicas(brokers, 0, 6, 2) {
			leaders[a.Leader]++
			if a.Replicas[0] == a.Replicas[1] {
				t.Fatalf("partition %d: replicas %v repeat a broker", a.Partition, a.Replicas)
			}
		}
		if leaders[1] != 2 || leaders[2] != 2 || leaders[3] != 2 {
			t.Fatalf("leaders per broker %v, want 2 each", leaders)
		}
	}
}
