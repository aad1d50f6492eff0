package api

// OffsetForLeaderEpoch (key 23), v0-v4.
//
// Behaviour: per partition, the largest leader epoch not above the one asked for that the
// log knows, and the offset where that epoch's writes end: the next epoch's start, or the
// log end offset for the current epoch (Kafka's LeaderEpochFileCache.endOffsetFor). An
// epoch the log cannot place answers UNDEFINED_EPOCH (-1) and UNDEFINED_EPOCH_OFFSET (-1)
// without an error. This is how a consumer that saw a leader change (KIP-320) checks that
// its position was not truncated away, and how a follower finds where to truncate its log
// to the leader's (KIP-101, KIP-279). current_leader_epoch (v2+) is checked as in Fetch:
// older is FENCED_LEADER_EPOCH, newer UNKNOWN_LEADER_EPOCH. v1 adds the epoch to the
// answer, v2 throttling, v3 the replica id, v4 is flexible.
//
// Authorization as Kafka's: CLUSTER_ACTION on the cluster (what a follower broker holds)
// allows every partition; otherwise each topic needs DESCRIBE, which is what a KIP-320
// consumer holds, and a topic without it answers TOPIC_AUTHORIZATION_FAILED on each of
// its partitions, whether or not it exists.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
)

func (d *Dispatcher) handleOffsetForLeaderEpoch(_ context.Context, r *request) {
	req := r.body.(*kmsg.OffsetForLeaderEpochRequest)
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	clusterAction := d.authorizedCluster(r, acl.OpClusterAction)
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetForLeaderEpochResponseTopic()
		rt.Topic = t.Topic
		allowed := clusterAction || d.authorizedTopic(r, acl.OpDescribe, t.Topic)
		for _, p := range t.Partitions {
			if !allowed {
				rp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, kerr.TopicAuthorizationFailed.Code
				rp.LeaderEpoch, rp.EndOffset = -1, -1
				rt.Partitions = append(rt.Partitions, rp)
				continue
			}
			rt.Partitions = append(rt.Partitions, d.epochEndOffset(t.Topic, p))
		}
		resp.Topics = append(resp.Topics, rt)
	}
	r.respond(resp)
}

func (d *Dispatcher) epochEndOffset(topic string, p kmsg.OffsetForLeaderEpochRequestTopicPartition) kmsg.OffsetForLeaderEpochResponseTopicPartition {
	rp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
	rp.Partition = p.Partition
	rp.LeaderEpoch, rp.EndOffset = -1, -1
	part, code := d.servedPartition(topic, p.Partition, p.CurrentLeaderEpoch)
	if code != 0 {
		rp.ErrorCode = code
		return rp
	}
	rp.LeaderEpoch, rp.EndOffset = part.Log().EndOffsetForEpoch(p.LeaderEpoch)
	return rp
}
