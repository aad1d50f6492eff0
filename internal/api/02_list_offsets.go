package api

// ListOffsets (key 2), v1-v10.
//
// Behaviour: per partition, -1 (latest) answers the high watermark, or the last stable
// offset under read_committed (v2+); -2 (earliest) and -4 (earliest local, v8+) the log
// start offset; -3 (max timestamp, v7+) the record with the largest timestamp; any other
// timestamp the first record at or after it, or offset -1 when there is none. The leader
// epoch a client sends (v4+) is checked as in Fetch.
//
// Differs from Kafka: -5 (latest tiered, v9+) answers -1: there is no tiered storage.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/partition"
)

const (
	listLatest        = -1
	listEarliest      = -2
	listMaxTimestamp  = -3
	listEarliestLocal = -4
	listLatestTiered  = -5
)

func (d *Dispatcher) handleListOffsets(_ context.Context, r *request) {
	req := r.body.(*kmsg.ListOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewListOffsetsResponseTopic()
		rt.Topic = t.Topic
		denied := !d.authorizedTopic(r, acl.OpDescribe, t.Topic)
		for _, p := range t.Partitions {
			if denied {
				rp := kmsg.NewListOffsetsResponseTopicPartition()
				rp.Partition, rp.ErrorCode, rp.Timestamp, rp.Offset = p.Partition, kerr.TopicAuthorizationFailed.Code, -1, -1
				rt.Partitions = append(rt.Partitions, rp)
				continue
			}
			rt.Partitions = append(rt.Partitions, d.listOffset(t.Topic, p, req.IsolationLevel == readCommitted))
		}
		resp.Topics = append(resp.Topics, rt)
	}
	r.respond(resp)
}

func (d *Dispatcher) listOffset(topic string, p kmsg.ListOffsetsRequestTopicPartition, committed bool) kmsg.ListOffsetsResponseTopicPartition {
	rp := kmsg.NewListOffsetsResponseTopicPartition()
	rp.Partition = p.Partition
	rp.Timestamp, rp.Offset = -1, -1
	part, code := d.servedPartition(topic, p.Partition, p.CurrentLeaderEpoch)
	if code != 0 {
		rp.ErrorCode = code
		return rp
	}
	rp.LeaderEpoch = part.LeaderEpoch()
	offset, timestamp, err := lookupOffset(part, p.Timestamp, committed)
	if err != nil {
		rp.ErrorCode = errorCode(err)
		return rp
	}
	rp.Offset, rp.Timestamp = offset, timestamp
	return rp
}

// lookupOffset resolves one ListOffsets timestamp (or special value) on a partition.
// Under read_committed the readable end is the last stable offset, not the high
// watermark (Kafka's fetchOffsetForTimestamp with its isolation level).
func lookupOffset(part *partition.Partition, ts int64, committed bool) (offset, timestamp int64, err error) {
	l := part.Log()
	end := l.HighWatermark()
	if committed {
		end = l.LastStableOffset()
	}
	switch ts {
	case listLatest:
		return end, -1, nil
	case listEarliest, listEarliestLocal:
		return l.LogStartOffset(), -1, nil
	case listLatestTiered:
		return -1, -1, nil
	case listMaxTimestamp:
		off, t, found, err := l.MaxTimestamp()
		if err != nil || !found {
			return -1, -1, err
		}
		return off, t, nil
	}
	off, t, found, err := l.OffsetForTimestamp(ts)
	if err != nil || !found || off >= end {
		return -1, -1, err
	}
	return off, t, nil
}
