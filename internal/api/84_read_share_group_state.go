package api

// ReadShareGroupState (key 84), v0.
//
// Behaviour: the leader of a data partition loading a share-partition asks the leader
// of its __share_group_state partition (CLUSTER_ACTION, else
// CLUSTER_AUTHORIZATION_FAILED) for the state: the start offset and state batches
// (0 available, 2 acknowledged, 4 archived, with delivery counts). A share-partition
// with no state answers start offset -1 and no batches. The request's leader epoch
// fences: once read or written at epoch e, older epochs get FENCED_LEADER_EPOCH.
// NOT_COORDINATOR when this broker does not lead the state partition.
//
// A negative leader epoch reads without fencing. The answer carries the state epoch.
//
// Differs from Kafka: the fence of a read is kept in memory only (the next write
// stores it), where Kafka writes it at once.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/share"
)

func (d *Dispatcher) handleReadShareGroupState(ctx context.Context, r *request) {
	req := r.body.(*kmsg.ReadShareGroupStateRequest)
	resp := req.ResponseKind().(*kmsg.ReadShareGroupStateResponse)
	code := d.shareStateCheck(r)
	for _, t := range req.Topics {
		rt := kmsg.NewReadShareGroupStateResponseTopic()
		rt.TopicID = t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewReadShareGroupStateResponseTopicPartition()
			rp.Partition, rp.ErrorCode, rp.StartOffset = p.Partition, code, -1
			if code == 0 {
				key := share.Key{Group: req.GroupID, TopicID: t.TopicID, Partition: p.Partition}
				d.readShareState(ctx, key, p.LeaderEpoch, &rp)
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	r.respond(resp)
}

func (d *Dispatcher) readShareState(ctx context.Context, key share.Key, leaderEpoch int32, rp *kmsg.ReadShareGroupStateResponseTopicPartition) {
	snap, err := d.cfg.Shares.Coordinator().Read(ctx, key, leaderEpoch)
	var s share.SnapshotState
	if err == nil && snap != nil {
		s, err = share.DecodeSnapshot(snap)
	}
	if err != nil {
		rp.ErrorCode, rp.ErrorMessage = shareStateCode(err), errorMessage(err)
		return
	}
	if snap == nil {
		return
	}
	rp.StartOffset, rp.StateEpoch = s.StartOffset, s.StateEpoch
	for _, b := range s.Batches {
		sb := kmsg.NewReadShareGroupStateResponseTopicPartitionStateBatch()
		sb.FirstOffset, sb.LastOffset, sb.DeliveryState, sb.DeliveryCount = b.FirstOffset, b.LastOffset, b.DeliveryState, b.DeliveryCount
		rp.StateBatches = append(rp.StateBatches, sb)
	}
}
