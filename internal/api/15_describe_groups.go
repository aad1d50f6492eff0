package api

// DescribeGroups (key 15), v0-v6.
//
// Behaviour: each group's state, protocol type and members (member id, group.instance.id
// v4+, client id and host); while the group is Stable also the selected protocol and
// each member's metadata and assignment, as Kafka shows them. An unknown group is
// described as Dead with no error, and from v6 with GROUP_ID_NOT_FOUND (KIP-1043); so is
// a KIP-848 consumer group ("not a classic group"; ConsumerGroupDescribe shows it). v3
// adds authorized operations, v5 is flexible, v6 adds error messages.
// A group the principal may not DESCRIBE answers GROUP_AUTHORIZATION_FAILED; authorized
// operations (KIP-430) are computed when asked for.

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/group"
)

func (d *Dispatcher) handleDescribeGroups(_ context.Context, r *request) {
	req := r.body.(*kmsg.DescribeGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	for _, id := range req.Groups {
		if !d.authorizedGroup(r, acl.OpDescribe, id) {
			rg := kmsg.NewDescribeGroupsResponseGroup()
			rg.Group, rg.ErrorCode, rg.AuthorizedOperations = id, kerr.GroupAuthorizationFailed.Code, authorizedOperationsUnknown
			resp.Groups = append(resp.Groups, rg)
			continue
		}
		desc, err := d.cfg.Groups.DescribeGroup(id)
		rg := kmsg.NewDescribeGroupsResponseGroup()
		rg.Group, rg.State, rg.ProtocolType, rg.Protocol = id, desc.State, desc.ProtocolType, desc.Protocol
		rg.AuthorizedOperations = authorizedOperationsUnknown
		if err != nil && (r.header.Version >= 6 || !errors.Is(err, group.ErrGroupIDNotFound)) {
			rg.ErrorCode, rg.ErrorMessage = errorCode(err), errorMessage(err)
		}
		// Kafka computes them for every answer without an error, so also for the Dead
		// group v0-v5 describe an unknown one as.
		if req.IncludeAuthorizedOperations && rg.ErrorCode == 0 {
			rg.AuthorizedOperations = d.authorizedOperations(r, acl.ResourceGroup, id)
		}
		for _, m := range desc.Members {
			rm := kmsg.NewDescribeGroupsResponseGroupMember()
			rm.MemberID, rm.ClientID, rm.ClientHost = m.MemberID, m.ClientID, m.ClientHost
			rm.ProtocolMetadata, rm.MemberAssignment = m.Metadata, m.Assignment
			if m.InstanceID != "" {
				rm.InstanceID = ptr(m.InstanceID)
			}
			rg.Members = append(rg.Members, rm)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	r.respond(resp)
}
