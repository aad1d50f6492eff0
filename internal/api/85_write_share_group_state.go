package api

// WriteShareGroupState (key 85), v0-v1.
//
// Behaviour: the leader of a data partition persists a share-partition's state on the
// leader of its __share_group_state partition (CLUSTER_ACTION, else
// CLUSTER_AUTHORIZATION_FAILED). The answer comes once the record is replicated
// (acks=all: min.insync.replicas, then the high watermark). State batches must be
// contiguous from the start offset with states 0, 2 or 4 (else INVALID_REQUEST). A
// leader epoch older than one that read or wrote the share-partition gets
// FENCED_LEADER_EPOCH; NOT_COORDINATOR when this broker does not lead the state
// partition.
//
// A state epoch older than the stored one (an operator reset the offsets since the
// writer loaded) is FENCED_STATE_EPOCH.
//
// Differs from Kafka: a write replaces the whole state (Nagare's brokers always send
// the whole window, bounded by group.share.partition.max.record.locks) where Kafka
// merges the batches into the previous snapshot; v1's delivery_complete_count is
// ignored.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/share"
)

func (d *Dispatcher) handleWriteShareGroupState(ctx context.Context, r *request) {
	req := r.body.(*kmsg.WriteShareGroupStateRequest)
	resp := req.ResponseKind().(*kmsg.WriteShareGroupStateResponse)
	code := d.shareStateCheck(r)
	for _, t := range req.Topics {
		rt := kmsg.NewWriteShareGroupStateResponseTopic()
		rt.TopicID = t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewWriteShareGroupStateResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, code
			if code == 0 {
				key := share.Key{Group: req.GroupID, TopicID: t.TopicID, Partition: p.Partition}
				err := d.writeShareState(ctx, key, &p)
				rp.ErrorCode, rp.ErrorMessage = shareStateCode(err), errorMessage(err)
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	r.respond(resp)
}

func (d *Dispatcher) writeShareState(ctx context.Context, key share.Key, p *kmsg.WriteShareGroupStateRequestTopicPartition) error {
	s := share.SnapshotState{LeaderEpoch: p.LeaderEpoch, StartOffset: p.StartOffset}
	for _, b := range p.StateBatches {
		s.Batches = append(s.Batches, share.StateBatch{FirstOffset: b.FirstOffset, LastOffset: b.LastOffset,
			DeliveryState: b.DeliveryState, DeliveryCount: b.DeliveryCount})
	}
	if p.StartOffset < 0 {
		return share.ErrInvalidRequest
	}
	snap, err := share.EncodeSnapshot(s)
	if err != nil {
		return err
	}
	return d.cfg.Shares.Coordinator().Write(ctx, key, snap)
}
