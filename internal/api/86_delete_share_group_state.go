package api

// DeleteShareGroupState (key 86), v0.
//
// Behaviour: drops a share-partition's state on the leader of its __share_group_state
// partition (CLUSTER_ACTION, else CLUSTER_AUTHORIZATION_FAILED) by writing its
// tombstone, replicated before the answer. Nagare's brokers send it for DeleteGroups and
// DeleteShareGroupOffsets of share-partitions whose state lives elsewhere.
// NOT_COORDINATOR when this broker does not lead the state partition.
//
// Differs from Kafka: nothing known.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/share"
)

func (d *Dispatcher) handleDeleteShareGroupState(ctx context.Context, r *request) {
	req := r.body.(*kmsg.DeleteShareGroupStateRequest)
	resp := req.ResponseKind().(*kmsg.DeleteShareGroupStateResponse)
	code := d.shareStateCheck(r)
	for _, t := range req.Topics {
		rt := kmsg.NewDeleteShareGroupStateResponseTopic()
		rt.TopicID = t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewDeleteShareGroupStateResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, code
			if code == 0 {
				key := share.Key{Group: req.GroupID, TopicID: t.TopicID, Partition: p.Partition}
				err := d.cfg.Shares.Coordinator().Delete(ctx, key)
				rp.ErrorCode, rp.ErrorMessage = shareStateCode(err), errorMessage(err)
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	r.respond(resp)
}
