package api

// DeleteGroups (key 42), v0-v3.
//
// Behaviour: deletes empty groups with their committed offsets, writing tombstones to
// __consumer_offsets before answering. A group with members is NON_EMPTY_GROUP, an
// unknown one GROUP_ID_NOT_FOUND. v2 is flexible, v3 adds error messages. A share
// group's share state is deleted too (share_offsets.go, deleteGroup).
//
// Differs from Kafka: nothing known.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
)

func (d *Dispatcher) handleDeleteGroups(ctx context.Context, r *request) {
	req := r.body.(*kmsg.DeleteGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	for _, id := range req.Groups {
		rg := kmsg.NewDeleteGroupsResponseGroup()
		rg.Group = id
		if !d.authorizedGroup(r, acl.OpDelete, id) {
			rg.ErrorCode = kerr.GroupAuthorizationFailed.Code
		} else if err := d.deleteGroup(ctx, id); err != nil {
			rg.ErrorCode, rg.ErrorMessage = errorCode(err), errorMessage(err)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	r.respond(resp)
}
