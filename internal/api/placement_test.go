package api

import (
	"maps"
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

// kafkaRacks is the broker layout of Kafka's AdminRackAwareTest
// (testGetRackAlternatedBrokerListAndAssignReplicasToBrokers).
var kafkaRacks = map[int32]string{0: "rack1", 1: "rack3", 2: "rack3", 3: "rack2", 4: "rack2", 5: "rack1"}

// TestRackAlternatedMatchesKafka checks the broker order against Kafka's test.
func TestRackAlternatedMatchesKafka(t *testing.T) {
	if got, want := rackAlternated(kafkaRacks), []int32{0, 3, 1, 5, 4, 2}; !slices.Equal(got, want) {
		t.Errorf("six brokers: %v, want %v", got, want)
	}
	five := maps.Clone(kafkaRacks)
	delete(five, 5)
	if got, want := rackAlternated(five), []int32{0, 3, 1, 4, 2}; !slices.Equal(got, want) {
		t.Errorf("without broker 5: %v, want %v", got, want)
	}
}

// TestPlaceReplicasRackAwareMatchesKafka checks the placement against Kafka's test: seven
// partitions, three replicas, start index and shift 0.
func TestPlaceReplicasRackAwareMatchesKafka(t *testing.T) {
	want := [][]int32{{0, 3, 1}, {3, 1, 5}, {1, 5, 4}, {5, 4, 2}, {4, 2, 0}, {2, 0, 3}, {0, 4, 2}}
	got := placeReplicasRackAware(rackAlternated(kafkaRacks), kafkaRacks, 0, 7, 3, 0, 0)
	for p, a := range got {
		if !slices.Equal(a.Replicas, want[p]) || a.Leader != want[p][0] || a.Partition != int32(p) {
			t.Errorf("partition %d: %+v, want replicas %v", p, a, want[p])
		}
	}
}

// TestAssignReplicasSpansRacks checks, for several layouts and every random start, that
// each partition's replicas are distinct brokers on as many racks as it can have, and,
// where racks are even, that leaders and replicas spread evenly over the brokers.
func TestAssignReplicasSpansRacks(t *testing.T) {
	layouts := []struct {
		name  string
		racks []string // rack of broker i+1; "" is no rack
		rf    int
		even  bool
	}{
		{"two racks of two", []string{"a", "a", "b", "b"}, 2, true},
		{"three racks of two", []string{"a", "b", "b", "c", "c", "a"}, 3, true},
		{"more replicas than racks", []string{"a", "b", "b", "c", "c", "b"}, 5, false},
		{"uneven racks", []string{"a", "a", "b", "c", "c", "a"}, 3, false},
		{"one broker without a rack", []string{"a", "a", "b", ""}, 3, false},
	}
	for _, l := range layouts {
		brokers := make([]metadata.Broker, len(l.racks))
		rackOf := map[int32]string{}
		for i, r := range l.racks {
			brokers[i] = metadata.Broker{NodeID: int32(i + 1), Rack: r}
			rackOf[int32(i+1)] = r
		}
		wantRacks := min(l.rf, countRacks(rackOf))
		partitions := int32(4 * len(brokers))
		for range 20 {
			leaders, replicas := map[int32]int{}, map[int32]int{}
			for _, a := range assignReplicas(brokers, 0, partitions, l.rf) {
				racks := map[string]bool{}
				for _, b := range a.Replicas {
					racks[rackOf[b]] = true
					replicas[b]++
				}
				leaders[a.Leader]++
				if len(a.Replicas) != l.rf || len(racks) != wantRacks || hasDuplicate(a.Replicas) {
					t.Fatalf("%s: partition %d on %v: want %d distinct brokers on %d racks", l.name, a.Partition, a.Replicas, l.rf, wantRacks)
				}
			}
			for _, b := range brokers {
				if l.even && (leaders[b.NodeID] != 4 || replicas[b.NodeID] != 4*l.rf) {
					t.Fatalf("%s: broker %d leads %d and holds %d replicas, want 4 and %d", l.name, b.NodeID, leaders[b.NodeID], replicas[b.NodeID], 4*l.rf)
				}
			}
		}
	}
}

func hasDuplicate(ids []int32) bool {
	s := slices.Clone(ids)
	slices.Sort(s)
	return len(slices.Compact(s)) != len(ids)
}
