package group

import (
	"cmp"
	"slices"
)

// The server-side assignors of KIP-848 consumer groups. An assignor maps each member
// to the partitions it should own (the target assignment); reconciliation then moves
// the members there without two members ever owning one partition.

// Assignor names, as members name them in ConsumerGroupHeartbeat's ServerAssignor.
const (
	UniformAssignor = "uniform"
	RangeAssignor   = "range"
)

// defaultAssignor is used when no member names one, as Kafka's
// group.consumer.assignors default lists uniform first.
const defaultAssignor = UniformAssignor

// partSet is a set of partitions.
type partSet map[TopicPartition]struct{}

func (s partSet) has(tp TopicPartition) bool { _, ok := s[tp]; return ok }

// sorted lists the set ordered by topic, then partition.
func (s partSet) sorted() []TopicPartition {
	out := make([]TopicPartition, 0, len(s))
	for tp := range s {
		out = append(out, tp)
	}
	slices.SortFunc(out, compareTP)
	return out
}

func (s partSet) equal(o partSet) bool {
	if len(s) != len(o) {
		return false
	}
	for tp := range s {
		if !o.has(tp) {
			return false
		}
	}
	return true
}

func compareTP(a, b TopicPartition) int {
	return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
}

// assignorMember is one member as an assignor sees it, in the group's member order.
type assignorMember struct {
	id      string
	topics  map[string]bool // the resolved subscription: existing topics only
	current partSet         // the previous target, for stickiness; may be nil
}

// assignFunc computes a target assignment from the members and the partition count
// of every topic they may subscribe to. Every member is in the result.
type assignFunc func(members []assignorMember, partitions map[string]int32) map[string]partSet

var assignors = map[string]assignFunc{
	UniformAssignor: assignUniform,
	RangeAssignor:   assignRange,
}

// assignRange is Kafka's range assignor, per topic: the members subscribed to it, in
// member order, take contiguous ranges, the first partitions%members one larger.
func assignRange(members []assignorMember, partitions map[string]int32) map[string]partSet {
	out := make(map[string]partSet, len(members))
	for _, m := range members {
		out[m.id] = partSet{}
	}
	topics := make([]string, 0, len(partitions))
	for t := range partitions {
		topics = append(topics, t)
	}
	slices.Sort(topics)
	for _, t := range topics {
		var subs []string
		for _, m := range members {
			if m.topics[t] {
				subs = append(subs, m.id)
			}
		}
		if len(subs) == 0 {
			continue
		}
		n, k := partitions[t], int32(len(subs))
		next := int32(0)
		for i, id := range subs {
			count := n / k
			if int32(i) < n%k {
				count++
			}
			for p := next; p < next+count; p++ {
				out[id][TopicPartition{Topic: t, Partition: p}] = struct{}{}
			}
			next += count
		}
	}
	return out
}

// assignUniform spreads the partitions of the subscribed topics evenly, moving as few
// as it can: members keep what they had (if still subscribed and existing), unowned
// partitions go to the least loaded eligible member, and then partitions move from a
// member to an eligible one holding at least two fewer until none can. With identical
// subscriptions this ends with loads differing by at most one.
func assignUniform(members []assignorMember, partitions map[string]int32) map[string]partSet {
	out := make(map[string]partSet, len(members))
	order := make(map[string]int, len(members))
	for i, m := range members {
		out[m.id] = partSet{}
		order[m.id] = i
	}
	owner := map[TopicPartition]string{}
	for _, m := range members {
		for _, tp := range m.current.sorted() {
			if m.topics[tp.Topic] && tp.Partition < partitions[tp.Topic] && owner[tp] == "" {
				owner[tp] = m.id
				out[m.id][tp] = struct{}{}
			}
		}
	}
	eligible := func(tp TopicPartition) []string {
		var ids []string
		for _, m := range members {
			if m.topics[tp.Topic] {
				ids = append(ids, m.id)
			}
		}
		return ids
	}
	// Unowned partitions, the most constrained first.
	var free []TopicPartition
	candidates := map[TopicPartition][]string{}
	for t, n := range partitions {
		for p := range n {
			tp := TopicPartition{Topic: t, Partition: p}
			ids := eligible(tp)
			if len(ids) == 0 {
				continue
			}
			candidates[tp] = ids
			if owner[tp] == "" {
				free = append(free, tp)
			}
		}
	}
	slices.SortFunc(free, func(a, b TopicPartition) int {
		return cmp.Or(cmp.Compare(len(candidates[a]), len(candidates[b])), compareTP(a, b))
	})
	leastLoaded := func(ids []string) string {
		best := ids[0]
		for _, id := range ids[1:] {
			if len(out[id]) < len(out[best]) {
				best = id
			}
		}
		return best
	}
	for _, tp := range free {
		id := leastLoaded(candidates[tp])
		owner[tp] = id
		out[id][tp] = struct{}{}
	}
	// Balance. Every move lowers the sum of squared loads, so this ends.
	for moved := true; moved; {
		moved = false
		byLoad := slices.Clone(members)
		slices.SortStableFunc(byLoad, func(a, b assignorMember) int { return cmp.Compare(len(out[b.id]), len(out[a.id])) })
		for _, from := range byLoad {
			parts := out[from.id].sorted()
			for i := len(parts) - 1; i >= 0 && !moved; i-- {
				tp := parts[i]
				to := leastLoaded(candidates[tp])
				if len(out[to]) < len(out[from.id])-1 {
					delete(out[from.id], tp)
					out[to][tp] = struct{}{}
					moved = true
				}
			}
			if moved {
				break
			}
		}
	}
	return out
}
