package group

import (
	"cmp"
	"fmt"
)

// ConsumerDescription is a consumer group as ConsumerGroupDescribe shows it.
type ConsumerDescription struct {
	GroupID         string
	State           ConsumerState
	Epoch           int32
	AssignmentEpoch int32
	Assignor        string
	Members         []ConsumerMemberDescription
}

// ConsumerMemberDescription is one member of a described consumer group.
type ConsumerMemberDescription struct {
	MemberID         string
	InstanceID       string
	RackID           string
	MemberEpoch      int32
	ClientID         string
	ClientHost       string
	SubscribedTopics []string
	SubscribedRegex  string
	Assignment       []OwnedTopic
	TargetAssignment []OwnedTopic
}

// checkClassicLocked refuses classic-protocol requests to a consumer group, as Kafka
// does (GROUP_ID_NOT_FOUND).
func (g *group) checkClassicLocked() error {
	if g.consumer != nil || g.share != nil {
		return fmt.Errorf("%w: group %s is not a classic group", ErrGroupIDNotFound, g.id)
	}
	return nil
}

// DescribeConsumerGroup describes a KIP-848 group; a missing or classic group is
// ErrGroupIDNotFound.
func (c *Coordinator) DescribeConsumerGroup(groupID string) (ConsumerDescription, error) {
	d := ConsumerDescription{GroupID: groupID}
	img := c.image.Load()
	g, err := c.lockGroup(groupID, false)
	if err != nil {
		return d, err
	}
	if g == nil {
		return d, fmt.Errorf("%w: group %s not found", ErrGroupIDNotFound, groupID)
	}
	defer g.unlock()
	cg := g.consumer
	if cg == nil {
		return d, fmt.Errorf("%w: group %s is not a consumer group", ErrGroupIDNotFound, groupID)
	}
	d.State, d.Epoch, d.AssignmentEpoch = cg.state(), cg.epoch, cg.assignmentEpoch
	d.Assignor = cmp.Or(cg.assignor, defaultAssignor)
	for _, m := range cg.sortedMembers() {
		md := ConsumerMemberDescription{MemberID: m.id, InstanceID: m.instanceID, RackID: m.rackID,
			MemberEpoch: m.epoch, ClientID: m.clientID, ClientHost: m.clientHost,
			SubscribedTopics: m.topics, SubscribedRegex: m.regexText,
			Assignment: assignmentOf(m.assigned, img), TargetAssignment: assignmentOf(cg.target[m.id], img)}
		d.Members = append(d.Members, md)
	}
	return d, nil
}
