package api

// Fetch from the closest replica (KIP-392). A consumer that sends its rack (Fetch v11+
// rack_id) may be sent by the leader to an in-sync follower in that rack
// (preferred_read_replica, with no records), and a follower then serves its fetches up to
// its own high watermark. Kafka's rule for who may serve a fetch is fetchOnlyLeader =
// replica fetch || (consumer && version < 11): older consumers and followers' own
// fetches still need the leader, as do ListOffsets and the other data requests.

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/nagare-dev/nagare/internal/config"
	"github.com/nagare-dev/nagare/internal/metadata"
	"github.com/nagare-dev/nagare/internal/partition"
)

// fetchablePartition is servedPartition for a consumer's Fetch: from v11 any replica
// this broker holds serves it, the leader epoch still checked (Kafka's
// localLogWithEpochOrThrow with fetchOnlyFromLeader false).
func (d *Dispatcher) fetchablePartition(topic string, index, clientEpoch int32, version int16) (*partition.Partition, int16) {
	part, code := d.servedPartition(topic, index, clientEpoch)
	if code != kerr.NotLeaderForPartition.Code || version < 11 {
		return part, code
	}
	part, ok := d.cfg.Partitions.Get(topic, index)
	if !ok {
		return nil, code // no replica here
	}
	return part, 0 // servedPartition checked the epoch before leadership
}

// preferredReadReplica is the follower a consumer in rack should fetch part from
// instead of this broker, its leader, or -1 to serve it here (Kafka's
// ReplicaManager.findPreferredReadReplica with RackAwareReplicaSelector): with
// replica.selector.class set to the rack-aware selector and a rack sent, the leader
// stays when its rack is the consumer's or no replica is in it; otherwise the candidate
// is an in-sync, unfenced follower in that rack that has the fetch offset, the most
// caught up first (largest log end offset, then most recently caught up).
func (d *Dispatcher) preferredReadReplica(part *partition.Partition, rack string, fetchOffset int64) int32 {
	if rack == "" || !part.IsLeader() || d.cfg.Broker.String("replica.selector.class") != config.RackAwareReplicaSelector {
		return -1
	}
	img := d.cfg.Metadata.Image()
	if self, ok := img.Broker(d.cfg.NodeID); ok && self.Rack == rack {
		return -1
	}
	best, bestLEO, bestCaughtUp := int32(-1), int64(-1), time.Time{}
	for _, f := range part.FollowerViews() {
		if !f.InSync || f.LogEndOffset < fetchOffset || !inRack(img, f.ID, rack) {
			continue
		}
		if f.LogEndOffset > bestLEO || (f.LogEndOffset == bestLEO && f.LastCaughtUp.After(bestCaughtUp)) {
			best, bestLEO, bestCaughtUp = f.ID, f.LogEndOffset, f.LastCaughtUp
		}
	}
	return best
}

// inRack reports whether broker id is registered, unfenced and in rack.
func inRack(img *metadata.Image, id int32, rack string) bool {
	b, ok := img.Broker(id)
	return ok && !b.Fenced && b.Rack == rack
}
