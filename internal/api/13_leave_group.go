package api

// LeaveGroup (key 13), v0-v5.
//
// Behaviour: removes members and rebalances the rest at once, rather than waiting for
// the session timeout. v0-v2 name one member by id; v3+ batch members, each by member id
// or by group.instance.id (KIP-345: an admin removing static members), each with its own
// error. v4 is flexible, v5 takes a reason (KIP-800).
//
// Differs from Kafka: nothing known.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/group"
)

func (d *Dispatcher) handleLeaveGroup(_ context.Context, r *request) {
	req := r.body.(*kmsg.LeaveGroupRequest)
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	if !d.authorizedGroup(r, acl.OpRead, req.Group) {
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		r.respond(resp)
		return
	}
	var members []group.LeavingMember
	if r.header.Version < 3 {
		members = []group.LeavingMember{{MemberID: req.MemberID}}
	}
	for _, m := range req.Members {
		lm := group.LeavingMember{MemberID: m.MemberID}
		if m.InstanceID != nil {
			lm.InstanceID = *m.InstanceID
		}
		if m.Reason != nil {
			lm.Reason = *m.Reason
		}
		members = append(members, lm)
	}
	errs, err := d.cfg.Groups.Leave(req.Group, members)
	resp.ErrorCode = errorCode(err)
	if err == nil && r.header.Version < 3 {
		resp.ErrorCode = errorCode(errs[0])
	}
	if err == nil && r.header.Version >= 3 {
		for i, m := range req.Members {
			rm := kmsg.NewLeaveGroupResponseMember()
			rm.MemberID, rm.InstanceID, rm.ErrorCode = m.MemberID, m.InstanceID, errorCode(errs[i])
			resp.Members = append(resp.Members, rm)
		}
	}
	r.respond(resp)
}
