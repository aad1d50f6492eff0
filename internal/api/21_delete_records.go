package api

// DeleteRecords (key 21), v0-v2.
//
// Behaviour: per partition, the log start offset moves up to the offset given (-1: the high
// watermark), so reads below it fail with OFFSET_OUT_OF_RANGE and ListOffsets earliest
// answers it; the new low watermark (the log start offset) is returned. Whole segments
// below it are deleted by the next retention pass, as in Kafka. An offset past the high
// watermark, or negative other than -1, is OFFSET_OUT_OF_RANGE; a partition of a topic
// whose cleanup.policy does not include delete is POLICY_VIOLATION, as in Kafka; an unknown
// partition is UNKNOWN_TOPIC_OR_PARTITION, one another broker leads NOT_LEADER_OR_FOLLOWER
// (the admin client sends each partition to its leader). Failed partitions report low watermark -1. v1
// adds throttling, v2 is flexible.
//
// Differs from Kafka: timeout_ms is not waited on: with one replica the low watermark is
// final at once (Kafka waits for followers to move their log start offsets).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
)

// deleteRecordsToHighWatermark is the offset that means "up to the high watermark".
const deleteRecordsToHighWatermark = -1

func (d *Dispatcher) handleDeleteRecords(_ context.Context, r *request) {
	req := r.body.(*kmsg.DeleteRecordsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewDeleteRecordsResponseTopic()
		rt.Topic = t.Topic
		denied := !d.authorizedTopic(r, acl.OpDelete, t.Topic)
		for _, p := range t.Partitions {
			rp := kmsg.NewDeleteRecordsResponseTopicPartition()
			rp.Partition, rp.LowWatermark = p.Partition, -1
			if denied {
				rp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				rt.Partitions = append(rt.Partitions, rp)
				continue
			}
			low, err := d.deleteRecords(t.Topic, p.Partition, p.Offset)
			if err != nil {
				rp.ErrorCode = errorCode(err)
			} else {
				rp.LowWatermark = low
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	r.respond(resp)
}

// deleteRecords moves one partition's log start offset up to offset and returns the new one.
func (d *Dispatcher) deleteRecords(topic string, index int32, offset int64) (int64, error) {
	part, code := d.servedPartition(topic, index, -1) // the request carries no leader epoch
	if code != 0 {
		return 0, kerr.ErrorForCode(code)
	}
	if !part.Config().CleanupPolicy.Delete {
		return 0, kerr.PolicyViolation
	}
	l := part.Log()
	if offset == deleteRecordsToHighWatermark {
		offset = l.HighWatermark()
	}
	if offset < 0 {
		return 0, kerr.OffsetOutOfRange
	}
	return l.DeleteRecordsBefore(offset)
}
