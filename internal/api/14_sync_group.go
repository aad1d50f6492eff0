package api

// SyncGroup (key 14), v0-v5.
//
// Behaviour: the leader sends the assignments it computed; they are written to
// __consumer_offsets with the group's metadata, then every member's SyncGroup is
// answered with its own (members the leader left out get an empty one) and the group is
// Stable. A follower's SyncGroup waits for the leader's, with the connection still
// reading; in a stable group it returns the member's current assignment at once. v3
// adds group.instance.id, v4 is flexible, v5 checks the protocol type and name
// (KIP-559).
//
// Differs from Kafka: nothing known.

import (
	"bytes"
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/group"
)

func (d *Dispatcher) handleSyncGroup(ctx context.Context, r *request) {
	req := r.body.(*kmsg.SyncGroupRequest)
	if !d.authorizedGroup(r, acl.OpRead, req.Group) {
		resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		r.respond(resp)
		return
	}
	sr := group.SyncRequest{GroupID: req.Group, MemberID: req.MemberID, Generation: req.Generation,
		ProtocolType: req.ProtocolType, Protocol: req.Protocol}
	if req.InstanceID != nil {
		sr.InstanceID = *req.InstanceID
	}
	if len(req.GroupAssignment) > 0 {
		sr.Assignments = make(map[string][]byte, len(req.GroupAssignment))
		for _, a := range req.GroupAssignment {
			sr.Assignments[a.MemberID] = bytes.Clone(a.MemberAssignment) // outlives the frame
		}
	}
	stop := awaitGroup(ctx, r)
	d.cfg.Groups.Sync(sr, func(res group.SyncResult) {
		stop()
		resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
		resp.ErrorCode = errorCode(res.Err)
		if res.Err == nil {
			resp.ProtocolType, resp.Protocol = ptr(res.ProtocolType), ptr(res.Protocol)
			resp.MemberAssignment = res.Assignment
		}
		r.respond(resp)
	})
}
