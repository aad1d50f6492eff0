package api

// ConsumerGroupDescribe (key 69), v0-v1.
//
// Behaviour: describes KIP-848 consumer groups: state (Empty, Reconciling, Stable),
// group epoch, assignment epoch, the assignor in use, and per member its epoch,
// subscription, current and target assignment. A missing group, or a classic one, is
// GROUP_ID_NOT_FOUND, as in Kafka. v1 adds the member type (always 1, consumer).
//
// A group the principal may not DESCRIBE answers GROUP_AUTHORIZATION_FAILED; authorized
// operations are computed when asked for.
//
// Differs from Kafka: the state is never Assigning (the target is computed at once).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/group"
)

// memberTypeConsumer is ConsumerGroupDescribe v1's member type of KIP-848 members.
const memberTypeConsumer = 1

func (d *Dispatcher) handleConsumerGroupDescribe(_ context.Context, r *request) {
	req := r.body.(*kmsg.ConsumerGroupDescribeRequest)
	resp := req.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
	for _, id := range req.Groups {
		rg := kmsg.NewConsumerGroupDescribeResponseGroup()
		rg.Group = id
		if !d.authorizedGroup(r, acl.OpDescribe, id) {
			rg.ErrorCode = kerr.GroupAuthorizationFailed.Code
			resp.Groups = append(resp.Groups, rg)
			continue
		}
		desc, err := d.cfg.Groups.DescribeConsumerGroup(id)
		if err != nil {
			rg.ErrorCode, rg.ErrorMessage = errorCode(err), errorMessage(err)
			resp.Groups = append(resp.Groups, rg)
			continue
		}
		rg.State, rg.Epoch, rg.AssignmentEpoch, rg.AssignorName = string(desc.State), desc.Epoch, desc.AssignmentEpoch, desc.Assignor
		if req.IncludeAuthorizedOperations {
			rg.AuthorizedOperations = d.authorizedOperations(r, acl.ResourceGroup, id)
		}
		for _, m := range desc.Members {
			rm := kmsg.NewConsumerGroupDescribeResponseGroupMember()
			rm.MemberID, rm.MemberEpoch, rm.ClientID, rm.ClientHost = m.MemberID, m.MemberEpoch, m.ClientID, m.ClientHost
			if m.InstanceID != "" {
				rm.InstanceID = ptr(m.InstanceID)
			}
			if m.RackID != "" {
				rm.RackID = ptr(m.RackID)
			}
			rm.SubscribedTopics = m.SubscribedTopics
			if rm.SubscribedTopics == nil {
				rm.SubscribedTopics = []string{}
			}
			if m.SubscribedRegex != "" {
				rm.SubscribedTopicRegex = ptr(m.SubscribedRegex)
			}
			rm.Assignment, rm.TargetAssignment = describedAssignment(m.Assignment), describedAssignment(m.TargetAssignment)
			rm.MemberType = memberTypeConsumer
			rg.Members = append(rg.Members, rm)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	r.respond(resp)
}

func describedAssignment(topics []group.OwnedTopic) kmsg.Assignment {
	a := kmsg.NewAssignment()
	for _, t := range topics {
		tp := kmsg.NewAssignmentTopicPartition()
		tp.TopicID, tp.Topic, tp.Partitions = t.ID, t.Topic, t.Partitions
		a.TopicPartitions = append(a.TopicPartitions, tp)
	}
	return a
}
