package api

import (
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/nagare-dev/nagare/internal/metadata"
	"github.com/nagare-dev/nagare/internal/partition"
)

// servedPartition finds the partition a client's data request (Produce, Fetch,
// ListOffsets, OffsetForLeaderEpoch, DeleteRecords) names, if this broker leads it: Kafka's
// getPartitionOrError plus its epoch and leader checks. UNKNOWN_TOPIC_OR_PARTITION when the
// metadata has no such partition; NOT_LEADER_OR_FOLLOWER when it exists but another broker
// leads it (this broker has no replica of it, or only a follower's), so the client
// refreshes its metadata and goes to the leader; FENCED_LEADER_EPOCH or
// UNKNOWN_LEADER_EPOCH when the client's epoch is older or newer than ours, checked before
// leadership as Kafka's localLogWithEpochOrThrow does. Replica fetches (a follower asking
// a leader) come here too, then check the follower is a replica (01_fetch.go).
func (d *Dispatcher) servedPartition(topic string, index, clientEpoch int32) (*partition.Partition, int16) {
	part, ok := d.cfg.Partitions.Get(topic, index)
	if !ok {
		if _, exists := partitionAssignment(d.cfg.Metadata.Image(), topic, index); exists {
			return nil, kerr.NotLeaderForPartition.Code
		}
		return nil, kerr.UnknownTopicOrPartition.Code
	}
	if code := checkLeaderEpoch(clientEpoch, part.LeaderEpoch()); code != 0 {
		return nil, code
	}
	if !part.IsLeader() {
		return nil, kerr.NotLeaderForPartition.Code
	}
	return part, 0
}

// partitionAssignment is the image's assignment of a partition, if the topic has it.
func partitionAssignment(img *metadata.Image, topic string, index int32) (metadata.PartitionAssignment, bool) {
	t, ok := img.TopicByName(topic)
	if !ok {
		return metadata.PartitionAssignment{}, false
	}
	return t.Partition(index)
}

// newLeaderCode says whether code is an error after which a client looks for a new leader: with them,
// Produce (v10+) and Fetch (v12+) name the current leader and its endpoint (KIP-951), so
// the client can go there without a Metadata round trip.
func newLeaderCode(code int16) bool {
	return code == kerr.NotLeaderForPartition.Code || code == kerr.FencedLeaderEpoch.Code
}

// leaderHint is the current leader of a partition as a KIP-951 answer names it.
type leaderHint struct {
	id, epoch int32          // -1 when there is no leader or no such partition
	endpoint  *leaderAddress // nil when the leader is not a registered broker
}

// leaderAddress is a leader's endpoint as seen from the requesting client's listener.
type leaderAddress struct {
	nodeID int32
	host   string
	port   int32
	rack   *string
}

// currentLeader looks the partition's leader up in img for a client on session s.
func (d *Dispatcher) currentLeader(img *metadata.Image, s *Session, topic string, index int32) leaderHint {
	hint := leaderHint{id: -1, epoch: -1}
	a, ok := partitionAssignment(img, topic, index)
	if !ok || a.Leader == metadata.NoLeader {
		return hint
	}
	hint.id, hint.epoch = a.Leader, a.LeaderEpoch
	if b, ok := img.Broker(a.Leader); ok {
		host, port := d.brokerAddr(s, b)
		addr := &leaderAddress{nodeID: b.NodeID, host: host, port: port}
		if b.Rack != "" {
			rack := b.Rack
			addr.rack = &rack
		}
		hint.endpoint = addr
	}
	return hint
}

// checkLeaderEpoch compares a client's leader epoch (-1: not sent) with ours.
func checkLeaderEpoch(client, ours int32) int16 {
	switch {
	case client < 0 || client == ours:
		return 0
	case client < ours:
		return kerr.FencedLeaderEpoch.Code
	default:
		return kerr.UnknownLeaderEpoch.Code
	}
}
