package api

// JoinGroup (key 11), v0-v9.
//
// Behaviour: the classic group protocol's join barrier. The response waits until the
// rebalance completes (every member rejoined, the rebalance timeout passed, or, for a new
// group, group.initial.rebalance.delay.ms); the connection keeps reading meanwhile and
// the reply completes from the coordinator. The leader's response lists the members and
// their metadata for the protocol the members voted for. v1 adds the rebalance timeout
// (v0 uses the session timeout), v4 answers a first join MEMBER_ID_REQUIRED with the id
// to use (KIP-394), v5 static membership (group.instance.id, KIP-345), v6 is flexible,
// v7 returns the protocol type, v8 takes a reason (KIP-800), v9 tells a static leader
// rejoining a stable group to skip assignment (KIP-814).
//
// Differs from Kafka: a member's second JoinGroup while its first still waits answers the
// first REBALANCE_IN_PROGRESS (Kafka drops it and lets it time out), so no connection
// waits for a reply that will never come.

import (
	"bytes"
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/group"
)

func (d *Dispatcher) handleJoinGroup(ctx context.Context, r *request) {
	req := r.body.(*kmsg.JoinGroupRequest)
	if !d.authorizedGroup(r, acl.OpRead, req.Group) {
		r.respond(joinResponse(req, group.JoinResult{Err: kerr.GroupAuthorizationFailed, Generation: -1}))
		return
	}
	jr := group.JoinRequest{
		GroupID: req.Group, MemberID: req.MemberID, ClientID: r.header.ClientID, ClientHost: clientHost(r.session),
		SessionTimeout:       time.Duration(req.SessionTimeoutMillis) * time.Millisecond,
		RebalanceTimeout:     time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond,
		ProtocolType:         req.ProtocolType,
		RequireKnownMemberID: r.header.Version >= 4,
	}
	if r.header.Version == 0 {
		jr.RebalanceTimeout = jr.SessionTimeout
	}
	if req.InstanceID != nil {
		jr.InstanceID = *req.InstanceID
	}
	if req.Reason != nil {
		jr.Reason = *req.Reason
	}
	for _, p := range req.Protocols {
		// The frame goes back to the server's pool once the reply is sent; the group
		// keeps the metadata for longer.
		jr.Protocols = append(jr.Protocols, group.Protocol{Name: p.Name, Metadata: bytes.Clone(p.Metadata)})
	}
	stop := awaitGroup(ctx, r)
	d.cfg.Groups.Join(jr, func(res group.JoinResult) {
		stop()
		r.respond(joinResponse(req, res))
	})
}

func joinResponse(req *kmsg.JoinGroupRequest, res group.JoinResult) *kmsg.JoinGroupResponse {
	resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
	resp.ErrorCode = errorCode(res.Err)
	resp.MemberID, resp.Generation, resp.LeaderID = res.MemberID, res.Generation, res.LeaderID
	if res.Err == nil {
		resp.ProtocolType, resp.Protocol = ptr(res.ProtocolType), ptr(res.Protocol)
		resp.SkipAssignment = res.SkipAssignment
	}
	for _, m := range res.Members {
		rm := kmsg.NewJoinGroupResponseMember()
		rm.MemberID, rm.ProtocolMetadata = m.MemberID, m.Metadata
		if m.InstanceID != "" {
			rm.InstanceID = ptr(m.InstanceID)
		}
		resp.Members = append(resp.Members, rm)
	}
	return resp
}
