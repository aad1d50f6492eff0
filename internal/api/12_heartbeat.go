package api

// Heartbeat (key 12), v0-v4.
//
// Behaviour: keeps a member's session alive (group.min/max.session.timeout.ms bound the
// session the member asked for at join). A member of an older generation gets
// ILLEGAL_GENERATION, and every member gets REBALANCE_IN_PROGRESS while the group
// prepares a rebalance, which is how members learn to rejoin. v3 adds
// group.instance.id (FENCED_INSTANCE_ID for a replaced static member), v4 is flexible.
//
// Differs from Kafka: nothing known.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/group"
)

func (d *Dispatcher) handleHeartbeat(_ context.Context, r *request) {
	req := r.body.(*kmsg.HeartbeatRequest)
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	ref := group.MemberRef{GroupID: req.Group, MemberID: req.MemberID, Generation: req.Generation}
	if req.InstanceID != nil {
		ref.InstanceID = *req.InstanceID
	}
	if !d.authorizedGroup(r, acl.OpRead, req.Group) {
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
	} else {
		resp.ErrorCode = errorCode(d.cfg.Groups.Heartbeat(ref))
	}
	r.respond(resp)
}
