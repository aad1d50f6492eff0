package api

// InitializeShareGroupState (key 83), v0.
//
// Behaviour: served by the leader of a share-partition's __share_group_state partition
// (internal/share Coordinator), for other brokers (CLUSTER_ACTION, else
// CLUSTER_AUTHORIZATION_FAILED). A start offset >= 0 replaces the share-partition's
// state with an empty window at that offset under the request's state epoch, which must
// be newer than the stored one (else FENCED_STATE_EPOCH); writes from a data leader that
// loaded the older state are then fenced and it loads again. The leader-epoch fence is
// kept. -1 drops the state, so the next use starts at share.auto.offset.reset. The
// answer comes once the record is replicated (acks=all). NOT_COORDINATOR when this
// broker does not lead the state partition. Nagare's brokers send it for
// AlterShareGroupOffsets.
//
// Differs from Kafka: a new share-partition writes its first state with
// WriteShareGroupState rather than being initialized by the group coordinator.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/share"
)

func (d *Dispatcher) handleInitializeShareGroupState(ctx context.Context, r *request) {
	req := r.body.(*kmsg.InitializeShareGroupStateRequest)
	resp := req.ResponseKind().(*kmsg.InitializeShareGroupStateResponse)
	code := d.shareStateCheck(r)
	for _, t := range req.Topics {
		rt := kmsg.NewInitializeShareGroupStateResponseTopic()
		rt.TopicID = t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewInitializeShareGroupStateResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, code
			if code == 0 {
				key := share.Key{Group: req.GroupID, TopicID: t.TopicID, Partition: p.Partition}
				err := d.initializeShareState(ctx, key, p.StateEpoch, p.StartOffset)
				rp.ErrorCode, rp.ErrorMessage = shareStateCode(err), errorMessage(err)
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	r.respond(resp)
}

// initializeShareState starts key's state afresh; a negative start drops it.
func (d *Dispatcher) initializeShareState(ctx context.Context, key share.Key, stateEpoch int32, start int64) error {
	if start < 0 {
		return d.cfg.Shares.Coordinator().Delete(ctx, key)
	}
	return d.cfg.Shares.Coordinator().Initialize(ctx, key, max(stateEpoch, 0), start)
}
