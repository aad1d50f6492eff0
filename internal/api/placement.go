package api

import (
	"math/rand/v2"
	"slices"

	"github.com/nagare-dev/nagare/internal/metadata"
)

// assignReplicas places partitions first..first+count-1 on the brokers as Kafka's
// AdminUtils does: partition p's first replica on the broker at (start+p) mod n of an
// ordered broker list, its other replicas shifted after it by an amount that grows every
// n partitions, so leaders and followers both spread evenly; start and the shift are
// random, so topics do not all begin on the same broker. The first replica leads and all
// replicas are in sync.
//
// When any broker has a broker.rack, the list alternates the racks and a partition's
// replicas go to as many different racks as it has replicas (or as there are racks), so
// losing a rack loses at most one copy where the racks allow it. Brokers without a rack
// then form one rack of their own, as KRaft's controller groups them (Kafka's AdminUtils
// refuses such a mix unless told to ignore racks).
func assignReplicas(brokers []metadata.Broker, first, count int32, rf int) []metadata.PartitionAssignment {
	start, shift := rand.IntN(len(brokers)), rand.IntN(len(brokers))
	racks := brokerRacks(brokers)
	if racks == nil {
		return placeReplicas(sortedIDs(brokers), first, count, rf, start, shift)
	}
	return placeReplicasRackAware(rackAlternated(racks), racks, first, count, rf, start, shift)
}

// placeReplicas is assignReplicas without racks, its random choices given (Kafka's
// assignReplicasToBrokersRackUnaware with fixed start index and replica shift).
func placeReplicas(ids []int32, first, count int32, rf, start, shift int) []metadata.PartitionAssignment {
	n := len(ids)
	out := make([]metadata.PartitionAssignment, 0, count)
	for p := int(first); p < int(first+count); p++ {
		if p > 0 && p%n == 0 {
			shift++
		}
		firstIndex := (p + start) % n
		replicas := make([]int32, rf)
		replicas[0] = ids[firstIndex]
		for j := 1; j < rf; j++ {
			replicas[j] = ids[followerIndex(firstIndex, shift, j-1, n)]
		}
		out = append(out, newAssignment(int32(p), replicas))
	}
	return out
}

// placeReplicasRackAware is assignReplicas with racks, its random choices given (Kafka's
// assignReplicasToBrokersRackAware). ids is the rack-alternated broker list. Walking the
// list after the leader, a broker is skipped while its rack already holds a replica and
// some rack holds none, or while it holds one itself; the walk goes on from where the
// previous replica was found, so the followers of successive partitions rotate too.
func placeReplicasRackAware(ids []int32, rackOf map[int32]string, first, count int32, rf, start, shift int) []metadata.PartitionAssignment {
	n := len(ids)
	numRacks := countRacks(rackOf)
	out := make([]metadata.PartitionAssignment, 0, count)
	usedRacks := make([]string, 0, rf)
	for p := int(first); p < int(first+count); p++ {
		if p > 0 && p%n == 0 {
			shift++
		}
		firstIndex := (p + start) % n
		replicas := make([]int32, 1, rf)
		replicas[0] = ids[firstIndex]
		usedRacks = append(usedRacks[:0], rackOf[replicas[0]])
		for k := 0; len(replicas) < rf; k++ {
			b := ids[followerIndex(firstIndex, shift*numRacks, k, n)]
			rack := rackOf[b]
			newRack := !slices.Contains(usedRacks, rack)
			if (newRack || len(usedRacks) == numRacks) && !slices.Contains(replicas, b) {
				replicas = append(replicas, b)
				if newRack {
					usedRacks = append(usedRacks, rack)
				}
			}
		}
		out = append(out, newAssignment(int32(p), replicas))
	}
	return out
}

// followerIndex is the position in an n-broker list of a partition's k-th follower
// candidate: 1 + (shift+k) mod (n-1) after its leader, so it never lands on the leader.
func followerIndex(leaderIndex, shift, k, n int) int {
	return (leaderIndex + 1 + (shift+k)%(n-1)) % n
}

// newAssignment is partition p on replicas, the first leading, all in sync.
func newAssignment(p int32, replicas []int32) metadata.PartitionAssignment {
	return metadata.PartitionAssignment{Partition: p, Replicas: replicas, Leader: replicas[0], ISR: slices.Clone(replicas)}
}

// sortedIDs is the brokers' node ids in ascending order.
func sortedIDs(brokers []metadata.Broker) []int32 {
	ids := make([]int32, len(brokers))
	for i, b := range brokers {
		ids[i] = b.NodeID
	}
	slices.Sort(ids)
	return ids
}

// brokerRacks maps each broker to its rack, or is nil when no broker has one.
func brokerRacks(brokers []metadata.Broker) map[int32]string {
	if !slices.ContainsFunc(brokers, func(b metadata.Broker) bool { return b.Rack != "" }) {
		return nil
	}
	racks := make(map[int32]string, len(brokers))
	for _, b := range brokers {
		racks[b.NodeID] = b.Rack
	}
	return racks
}

// countRacks is the number of distinct racks in rackOf.
func countRacks(rackOf map[int32]string) int {
	seen := make(map[string]struct{}, len(rackOf))
	for _, r := range rackOf {
		seen[r] = struct{}{}
	}
	return len(seen)
}

// rackAlternated lists the brokers one rack at a time: the lowest id of each rack in rack
// name order, then the second lowest of each, and so on (Kafka's
// getRackAlternatedBrokerList), so neighbours in the list sit in different racks.
func rackAlternated(rackOf map[int32]string) []int32 {
	byRack := map[string][]int32{}
	for id, r := range rackOf {
		byRack[r] = append(byRack[r], id)
	}
	names := make([]string, 0, len(byRack))
	for r, ids := range byRack {
		slices.Sort(ids)
		names = append(names, r)
	}
	slices.Sort(names)
	out := make([]int32, 0, len(rackOf))
	for i := 0; len(out) < len(rackOf); i++ {
		for _, r := range names {
			if i < len(byRack[r]) {
				out = append(out, byRack[r][i])
			}
		}
	}
	return out
}
