package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ThrottledReplicas is a parsed leader.replication.throttled.replicas or
// follower.replication.throttled.replicas value: which (partition, broker) replicas of a
// topic count against the replication quotas (KIP-73). The zero value throttles nothing.
type ThrottledReplicas struct {
	All      bool              // "*": every replica of the topic
	Replicas map[[2]int32]bool // {partition, broker} pairs
}

// Contains reports whether the replica of partition on broker is throttled.
func (t ThrottledReplicas) Contains(partition, broker int32) bool {
	return t.All || t.Replicas[[2]int32{partition, broker}]
}

// Empty reports whether nothing is throttled.
func (t ThrottledReplicas) Empty() bool { return !t.All && len(t.Replicas) == 0 }

// ParseThrottledReplicas parses a throttled-replicas list as Kafka's
// ThrottledReplicaListValidator accepts it: empty, "*", or comma-separated
// partition:broker pairs (spaces around entries allowed).
func ParseThrottledReplicas(raw string) (ThrottledReplicas, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return ThrottledReplicas{}, nil
	}
	if raw == "*" {
		return ThrottledReplicas{All: true}, nil
	}
	out := ThrottledReplicas{Replicas: map[[2]int32]bool{}}
	for _, e := range strings.Split(raw, ",") {
		p, b, ok := strings.Cut(strings.TrimSpace(e), ":")
		pi, perr := strconv.ParseInt(strings.TrimSpace(p), 10, 32)
		bi, berr := strconv.ParseInt(strings.TrimSpace(b), 10, 32)
		if !ok || perr != nil || berr != nil || pi < 0 || bi < 0 {
			return ThrottledReplicas{}, fmt.Errorf("config: throttled replica %q: want partition:broker (or * alone)", e)
		}
		out.Replicas[[2]int32{int32(pi), int32(bi)}] = true
	}
	return out, nil
}

// throttledReplicas is the table's validator for the two throttled-replicas lists.
func throttledReplicas(v value) string {
	if _, err := ParseThrottledReplicas(strings.Join(v.list, ",")); err != nil {
		return "must be the literal '*' or a list of replicas in the format [PartitionId]:[BrokerId],[PartitionId]:[BrokerId],..."
	}
	return ""
}

// ReplicationThrottle is a replication quota's rate in bytes per second from
// leader.replication.throttled.rate or follower.replication.throttled.rate; 0 when the
// rate is Long.MAX_VALUE (Kafka's "unlimited" default) or beyond what a float holds exactly.
func (b *Broker) ReplicationThrottle(name string) float64 {
	r := b.Long(name)
	if r == math.MaxInt64 {
		return 0
	}
	return float64(r)
}

// Throttled-replicas config names (topic configs).
const (
	LeaderThrottledReplicas   = "leader.replication.throttled.replicas"
	FollowerThrottledReplicas = "follower.replication.throttled.replicas"
)

// ReplicaThrottled reports whether a topic's overrides list the replica of partition on
// broker in the throttled-replicas config name (a value that does not parse throttles
// nothing: it was validated when set). The caller adds Kafka's other condition, that the
// replica is not in the ISR (Partition.shouldThrottle): replicas in sync are never held.
func ReplicaThrottled(topicConfigs map[string]string, name string, partition, broker int32) bool {
	raw, ok := topicConfigs[name]
	if !ok || raw == "" {
		return false
	}
	t, err := ParseThrottledReplicas(raw)
	return err == nil && t.Contains(partition, broker)
}
