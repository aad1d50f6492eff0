package api

import (
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/nagare-dev/nagare/internal/partition"
)

// servedPartition finds the partition a data request (Produce aside: Fetch, ListOffsets,
// OffsetForLeaderEpoch) names and checks the leader epoch the client sent, Kafka's
// getPartitionOrError plus its epoch check: UNKNOWN_TOPIC_OR_PARTITION when this broker
// has no such partition, FENCED_LEADER_EPOCH or UNKNOWN_LEADER_EPOCH when the client's
// epoch is older or newer than ours. Leadership checks for replication belong here too.
func (d *Dispatcher) servedPartition(topic string, index, clientEpoch int32) (*partition.Partition, int16) {
	part, ok := d.cfg.Partitions.Get(topic, index)
	if !ok {
		return nil, kerr.UnknownTopicOrPartition.Code
	}
	if code := checkLeaderEpoch(clientEpoch, part.LeaderEpoch()); code != 0 {
		return nil, code
	}
	return part, 0
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
