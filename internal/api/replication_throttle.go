package api

import (
	"slices"

	"github.com/nagare-dev/nagare/internal/config"
)

// leaderThrottled is Kafka's leader-side shouldThrottle for a replica fetch: the topic's
// leader.replication.throttled.replicas lists the fetching replica of the partition, and
// that replica is not in the ISR (a reassignment's new replica catching up). Replicas in
// sync are never held back, so a throttle cannot stall acks=all produces. Only then does
// the leader replication quota decide (01_fetch.go).
func (d *Dispatcher) leaderThrottled(topic string, partition, replica int32) bool {
	if d.cfg.LeaderReplicationQuota == nil {
		return false
	}
	t, ok := d.cfg.Metadata.Image().TopicByName(topic)
	if !ok || !config.ReplicaThrottled(t.Configs, config.LeaderThrottledReplicas, partition, replica) {
		return false
	}
	a, ok := t.Partition(partition)
	return ok && !slices.Contains(a.ISR, replica)
}
