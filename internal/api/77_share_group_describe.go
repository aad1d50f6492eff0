package api

// ShareGroupDescribe (key 77), v0-v1.
//
// Behaviour: describes share groups: state (Empty or Stable), group epoch, assignment
// epoch (the same: the target is computed at once), the assignor ("simple"), and per
// member its epoch, client, subscribed topics and assignment. A missing group, or one
// of another kind, is GROUP_ID_NOT_FOUND. Needs DESCRIBE on the group; authorized
// operations are computed when asked for.
//
// Differs from Kafka: the state is never Assigning or Reconciling.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
)

func (d *Dispatcher) handleShareGroupDescribe(_ context.Context, r *request) {
	req := r.body.(*kmsg.ShareGroupDescribeRequest)
	resp := req.ResponseKind().(*kmsg.ShareGroupDescribeResponse)
	for _, id := range req.GroupIDs {
		rg := kmsg.NewShareGroupDescribeResponseGroup()
		rg.GroupID = id
		if !d.authorizedGroup(r, acl.OpDescribe, id) {
			rg.ErrorCode = kerr.GroupAuthorizationFailed.Code
			resp.Groups = append(resp.Groups, rg)
			continue
		}
		desc, err := d.cfg.Groups.DescribeShareGroup(id)
		if err != nil {
			rg.ErrorCode, rg.ErrorMessage = errorCode(err), errorMessage(err)
			resp.Groups = append(resp.Groups, rg)
			continue
		}
		rg.GroupState, rg.GroupEpoch, rg.AssignmentEpoch, rg.Assignor = string(desc.State), desc.Epoch, desc.Epoch, "simple"
		if req.IncludeAuthorizedOperations {
			rg.AuthorizedOperations = d.authorizedOperations(r, acl.ResourceGroup, id)
		}
		for _, m := range desc.Members {
			rm := kmsg.NewShareGroupDescribeResponseGroupMember()
			rm.MemberID, rm.MemberEpoch, rm.ClientID, rm.ClientHost = m.MemberID, m.MemberEpoch, m.ClientID, m.ClientHost
			if m.RackID != "" {
				rm.RackID = ptr(m.RackID)
			}
			rm.SubscribedTopicNames = m.SubscribedTopics
			if rm.SubscribedTopicNames == nil {
				rm.SubscribedTopicNames = []string{}
			}
			for _, t := range m.Assignment {
				tp := kmsg.NewShareGroupDescribeResponseGroupMemberAssignmentTopicPartition()
				tp.TopicID, tp.Topic, tp.Partitions = t.ID, t.Topic, t.Partitions
				rm.Assignment.TopicPartitions = append(rm.Assignment.TopicPartitions, tp)
			}
			rg.Members = append(rg.Members, rm)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	r.respond(resp)
}
