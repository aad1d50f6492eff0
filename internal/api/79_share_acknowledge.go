package api

// ShareAcknowledge (key 79), v0-v1.
//
// Behaviour: acknowledges records a member acquired through ShareFetch, within the same
// share session: the epoch must be the session's next one (INVALID_SHARE_SESSION_EPOCH;
// 0 is always INVALID_SHARE_SESSION_EPOCH, a missing session SHARE_SESSION_NOT_FOUND),
// and a successful request moves the session on; -1 acknowledges, closes the session
// and releases what the member still holds on its partitions. Types: 1 accept, 2
// release (available again, or archived at group.share.delivery.count.limit), 3
// reject (archived), 0 gap (an offset that is no record). Each partition's batches
// are applied all or none (INVALID_RECORD_STATE for an offset the member does not
// hold) and persisted to __share_group_state with acks=all before the answer; that
// wait runs off the connection's reader (share.go's shareOrder: the connection's
// share requests still apply in the order sent), so the next request is read at once.
// Needs READ on the group and on each topic, as Kafka.
//
// Differs from Kafka: renewals (v2, KIP-1222) are not done.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/share"
)

func (d *Dispatcher) handleShareAcknowledge(ctx context.Context, r *request) {
	req := r.body.(*kmsg.ShareAcknowledgeRequest)
	resp := req.ResponseKind().(*kmsg.ShareAcknowledgeResponse)
	resp.AcquisitionLockTimeoutMillis = int32(d.shareLockDuration() / time.Millisecond)
	groupID, member := deref(req.GroupID), deref(req.MemberID)
	if code := d.shareRequestCheck(ctx, r, groupID, member); code != 0 {
		resp.ErrorCode = code
		r.respond(resp)
		return
	}
	var parts []share.TopicPartition
	var err error
	switch req.ShareSessionEpoch {
	case share.OpenEpoch:
		err = share.ErrInvalidSessionEpoch
	case share.FinalEpoch:
		parts, err = d.cfg.Shares.CloseSession(groupID, member)
	default:
		_, err = d.cfg.Shares.UpdateSession(groupID, member, req.ShareSessionEpoch, nil, nil)
	}
	if err != nil {
		resp.ErrorCode, resp.ErrorMessage = shareErrorCode(err), errorMessage(err)
		r.respond(resp)
		return
	}
	// Off the reader, in the connection's order: the writes wait for replication.
	r.session.shares.run(ctx, d, r, func() { d.acknowledgeShares(ctx, r, req, resp, parts) })
}

// acknowledgeShares applies the request's acknowledgements partition by partition,
// releases what a closing session still holds, and answers.
func (d *Dispatcher) acknowledgeShares(ctx context.Context, r *request, req *kmsg.ShareAcknowledgeRequest, resp *kmsg.ShareAcknowledgeResponse, parts []share.TopicPartition) {
	groupID, member := deref(req.GroupID), deref(req.MemberID)
	img := d.cfg.Metadata.Image()
	for _, t := range req.Topics {
		rt := kmsg.NewShareAcknowledgeResponseTopic()
		rt.TopicID = t.TopicID
		for _, p := range t.Partitions {
			batches := make([]share.AckBatch, 0, len(p.AcknowledgementBatches))
			for _, b := range p.AcknowledgementBatches {
				batches = append(batches, share.AckBatch{FirstOffset: b.FirstOffset, LastOffset: b.LastOffset, Types: ackTypes(b.AcknowledgeTypes)})
			}
			err := d.shareAcknowledge(ctx, r, img, groupID, member, t.TopicID, p.Partition, batches)
			rp := kmsg.NewShareAcknowledgeResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode, rp.ErrorMessage = shareErrorCode(err), errorMessage(err)
			rp.CurrentLeader.LeaderID, rp.CurrentLeader.LeaderEpoch = -1, -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if req.ShareSessionEpoch == share.FinalEpoch {
		d.releaseSession(ctx, groupID, member, parts)
	}
	r.respond(resp)
}
