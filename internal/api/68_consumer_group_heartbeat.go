package api

// ConsumerGroupHeartbeat (key 68), v0-v1.
//
// Behaviour: the KIP-848 consumer group protocol. A member joins with epoch 0 (its
// subscription by topic names or, v1, a regex), heartbeats at the interval the response
// gives (group.consumer.heartbeat.interval.ms) with its member epoch and the partitions
// it owns, leaves with -1, and a static member (group.instance.id) leaves for now with
// -2, keeping its assignment until its session ends. The coordinator computes the
// target assignment with the server-side assignor the members ask for ("uniform", the
// default, or "range"; others are UNSUPPORTED_ASSIGNOR) whenever members, subscriptions
// or the subscribed topics' partitions change, and moves each member there
// incrementally: partitions move only after their previous owner has revoked them.
// Every response carries the member's current assignment. v0 lets the coordinator make
// the member id; v1 adds the regex (Go's RE2 syntax, which is Kafka's RE2J; a regex
// that does not compile is INVALID_REGULAR_EXPRESSION) and has the client make it.
//
// Differs from Kafka: the group and its members are not persisted (kmsg has no schemas
// for Kafka's ConsumerGroup* records), so after a coordinator move or restart members
// get UNKNOWN_MEMBER_ID and rejoin with epoch 0; their committed offsets are kept. The
// target assignment is computed within the heartbeat, so the group is never seen
// "Assigning". Rack-aware assignment and client-side assignors are not done.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/group"
)

func (d *Dispatcher) handleConsumerGroupHeartbeat(ctx context.Context, r *request) {
	req := r.body.(*kmsg.ConsumerGroupHeartbeatRequest)
	resp := req.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
	if !d.authorizedGroup(r, acl.OpRead, req.Group) {
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		r.respond(resp)
		return
	}
	if _, err := d.ensureOffsetsTopic(ctx); err != nil {
		d.cfg.Logger.Warn("creating "+group.OffsetsTopic, "err", err)
	}
	hr := group.ConsumerHeartbeatRequest{
		GroupID: req.Group, MemberID: req.MemberID, MemberEpoch: req.MemberEpoch,
		ClientID: r.header.ClientID, ClientHost: clientHost(r.session),
		RackID: req.RackID, RebalanceTimeout: -1,
		SubscribedTopics: req.SubscribedTopicNames, SubscribedRegex: req.SubscribedTopicRegex,
		ServerAssignor: req.ServerAssignor,
	}
	if req.InstanceID != nil {
		hr.InstanceID = *req.InstanceID
	}
	if req.RebalanceTimeoutMillis >= 0 {
		hr.RebalanceTimeout = time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond
	}
	if req.Topics != nil {
		hr.Owned = make([]group.OwnedTopic, 0, len(req.Topics))
		for _, t := range req.Topics {
			hr.Owned = append(hr.Owned, group.OwnedTopic{ID: t.TopicID, Partitions: t.Partitions})
		}
	}
	res, err := d.cfg.Groups.ConsumerHeartbeat(hr)
	if err != nil {
		resp.ErrorCode, resp.ErrorMessage = errorCode(err), errorMessage(err)
		r.respond(resp)
		return
	}
	resp.MemberID, resp.MemberEpoch = ptr(res.MemberID), res.MemberEpoch
	resp.HeartbeatIntervalMillis = int32(res.HeartbeatInterval / time.Millisecond)
	if res.Assignment != nil {
		a := kmsg.NewConsumerGroupHeartbeatResponseAssignment()
		a.Topics = make([]kmsg.ConsumerGroupHeartbeatResponseAssignmentTopic, 0, len(res.Assignment))
		for _, t := range res.Assignment {
			at := kmsg.NewConsumerGroupHeartbeatResponseAssignmentTopic()
			at.TopicID, at.Partitions = t.ID, t.Partitions
			a.Topics = append(a.Topics, at)
		}
		resp.Assignment = &a
	}
	r.respond(resp)
}
