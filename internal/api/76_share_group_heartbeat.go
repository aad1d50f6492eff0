package api

// ShareGroupHeartbeat (key 76), v0-v1.
//
// Behaviour: KIP-932 share group membership, the KIP-848 heartbeat without revocation.
// A member (its id made by the client, 1 to 36 characters) joins with epoch 0 and its
// subscribed topic names, heartbeats with its epoch at the interval the response gives
// (group.share.heartbeat.interval.ms), and leaves with -1; a member silent for
// group.share.session.timeout.ms is removed and the records it holds are released.
// The coordinator assigns with the simple assignor: each subscribed topic's partitions
// are spread over its members, and with more members than partitions several members
// share a partition. Any change bumps the group epoch and every member moves to its
// new assignment at once (nothing is revoked first: share-partitions have many
// consumers). Needs READ on the group (GROUP_AUTHORIZATION_FAILED) and DESCRIBE on
// each subscribed topic (TOPIC_AUTHORIZATION_FAILED), as Kafka. A group that is a
// classic or consumer group is GROUP_ID_NOT_FOUND.
//
// Differs from Kafka: membership is not persisted (kmsg has no ShareGroup* record
// schemas); after a coordinator move members get UNKNOWN_MEMBER_ID and rejoin. The
// share-partition state itself is persisted (key 78). Subscription by regex and
// rack-aware assignment are not done.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/group"
)

func (d *Dispatcher) handleShareGroupHeartbeat(ctx context.Context, r *request) {
	req := r.body.(*kmsg.ShareGroupHeartbeatRequest)
	resp := req.ResponseKind().(*kmsg.ShareGroupHeartbeatResponse)
	if !d.authorizedGroup(r, acl.OpRead, req.GroupID) {
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		r.respond(resp)
		return
	}
	for _, t := range req.SubscribedTopicNames {
		if !d.authorizedTopic(r, acl.OpDescribe, t) {
			resp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			r.respond(resp)
			return
		}
	}
	if _, err := d.ensureOffsetsTopic(ctx); err != nil {
		d.cfg.Logger.Warn("creating "+group.OffsetsTopic, "err", err)
	}
	hr := group.ShareHeartbeatRequest{GroupID: req.GroupID, MemberID: req.MemberID, MemberEpoch: req.MemberEpoch,
		RackID: req.RackID, SubscribedTopics: req.SubscribedTopicNames,
		ClientID: r.header.ClientID, ClientHost: clientHost(r.session)}
	res, err := d.cfg.Groups.ShareHeartbeat(hr)
	if err != nil {
		resp.ErrorCode, resp.ErrorMessage = errorCode(err), errorMessage(err)
		r.respond(resp)
		return
	}
	resp.MemberID, resp.MemberEpoch = ptr(res.MemberID), res.MemberEpoch
	resp.HeartbeatIntervalMillis = int32(res.HeartbeatInterval / time.Millisecond)
	if res.Assignment != nil {
		a := kmsg.NewShareGroupHeartbeatResponseAssignment()
		for _, t := range res.Assignment {
			at := kmsg.NewShareGroupHeartbeatResponseAssignmentTopicPartition()
			at.TopicID, at.Partitions = t.ID, t.Partitions
			a.TopicPartitions = append(a.TopicPartitions, at)
		}
		resp.Assignment = &a
	}
	r.respond(resp)
}
