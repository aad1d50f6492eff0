package api

// DescribeShareGroupOffsets (key 90), v0-v1.
//
// Behaviour: per group (DESCRIBE on the group, else GROUP_AUTHORIZATION_FAILED), the
// share-partition start offset of each partition asked for or, when topics is null, of
// every partition the group has share state for. The state is read without fencing
// (leader epoch -1), so describing never disturbs the data partitions' leaders. A group
// that is not a share group here and has no share state is GROUP_ID_NOT_FOUND; an
// unknown topic or partition UNKNOWN_TOPIC_OR_PARTITION; a named topic without DESCRIBE
// TOPIC_AUTHORIZATION_FAILED (left out when listing all, as Kafka does). A partition
// with no state answers start offset -1, leader epoch -1 and lag -1. The leader epoch
// is the one of the state's last write. v1 adds lag (KIP-1226): the high watermark less
// the start offset and the acknowledged or archived offsets past it.
//
// Differs from Kafka: lag uses this broker's replica's high watermark (a follower's may
// trail the leader's), -1 when this broker has no replica; Kafka asks the leaders. The
// leader epoch is -1 for state kept on another broker (ReadShareGroupState does not
// carry it).

import (
	"context"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/metadata"
	"github.com/nagare-dev/nagare/internal/share"
)

func (d *Dispatcher) handleDescribeShareGroupOffsets(ctx context.Context, r *request) {
	req := r.body.(*kmsg.DescribeShareGroupOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeShareGroupOffsetsResponse)
	for _, g := range req.Groups {
		resp.Groups = append(resp.Groups, d.describeShareOffsets(ctx, r, g))
	}
	r.respond(resp)
}

func (d *Dispatcher) describeShareOffsets(ctx context.Context, r *request, g kmsg.DescribeShareGroupOffsetsRequestGroup) kmsg.DescribeShareGroupOffsetsResponseGroup {
	rg := kmsg.NewDescribeShareGroupOffsetsResponseGroup()
	rg.GroupID = g.GroupID
	if !d.authorizedGroup(r, acl.OpDescribe, g.GroupID) {
		rg.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return rg
	}
	if _, err := d.operatorShareGroup(ctx, g.GroupID); err != nil {
		rg.ErrorCode, rg.ErrorMessage = shareErrorCode(err), errorMessage(err)
		return rg
	}
	var err error
	if g.Topics == nil {
		rg.Topics, err = d.describeAllShareOffsets(ctx, r, g.GroupID)
	} else {
		rg.Topics, err = d.describeNamedShareOffsets(ctx, r, g)
	}
	if err != nil {
		rg.Topics, rg.ErrorCode, rg.ErrorMessage = nil, shareErrorCode(err), errorMessage(err)
	}
	return rg
}

// describeNamedShareOffsets answers the topics and partitions a request names.
func (d *Dispatcher) describeNamedShareOffsets(ctx context.Context, r *request, g kmsg.DescribeShareGroupOffsetsRequestGroup) ([]kmsg.DescribeShareGroupOffsetsResponseGroupTopic, error) {
	img := d.cfg.Metadata.Image()
	var keys []share.Key
	for _, t := range g.Topics {
		if topic, ok := img.TopicByName(t.Topic); ok && d.authorizedTopic(r, acl.OpDescribe, t.Topic) {
			for _, p := range t.Partitions {
				if p >= 0 && int(p) < len(topic.Partitions) {
					keys = append(keys, share.Key{Group: g.GroupID, TopicID: topic.ID, Partition: p})
				}
			}
		}
	}
	state, err := d.cfg.Shares.ReadAll(ctx, keys)
	if err != nil {
		return nil, err
	}
	var out []kmsg.DescribeShareGroupOffsetsResponseGroupTopic
	for _, t := range g.Topics {
		rt := kmsg.NewDescribeShareGroupOffsetsResponseGroupTopic()
		rt.Topic = t.Topic
		topic, known := img.TopicByName(t.Topic)
		code := int16(0)
		switch {
		case !d.authorizedTopic(r, acl.OpDescribe, t.Topic):
			code = kerr.TopicAuthorizationFailed.Code
		case !known:
			code = kerr.UnknownTopicOrPartition.Code
		default:
			rt.TopicID = topic.ID
		}
		for _, p := range t.Partitions {
			rp := d.shareOffsetPartition(t.Topic, p, state[share.Key{Group: g.GroupID, TopicID: rt.TopicID, Partition: p}])
			if rp.ErrorCode == 0 {
				rp.ErrorCode = code
			}
			if code == 0 && (p < 0 || int(p) >= len(topic.Partitions)) {
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		out = append(out, rt)
	}
	return out, nil
}

// describeAllShareOffsets answers every partition the group has state for, by topic
// name, leaving out topics the caller may not describe.
func (d *Dispatcher) describeAllShareOffsets(ctx context.Context, r *request, groupID string) ([]kmsg.DescribeShareGroupOffsetsResponseGroupTopic, error) {
	state, err := d.shareGroupState(ctx, groupID)
	if err != nil {
		return nil, err
	}
	img := d.cfg.Metadata.Image()
	byTopic := map[metadata.TopicID][]int32{}
	for k := range state {
		byTopic[k.TopicID] = append(byTopic[k.TopicID], k.Partition)
	}
	var out []kmsg.DescribeShareGroupOffsetsResponseGroupTopic
	for id, parts := range byTopic {
		topic, ok := img.TopicByID(id)
		if !ok || !d.authorizedTopic(r, acl.OpDescribe, topic.Name) {
			continue
		}
		slices.Sort(parts)
		rt := kmsg.NewDescribeShareGroupOffsetsResponseGroupTopic()
		rt.Topic, rt.TopicID = topic.Name, topic.ID
		for _, p := range parts {
			rt.Partitions = append(rt.Partitions, d.shareOffsetPartition(topic.Name, p, state[share.Key{Group: groupID, TopicID: id, Partition: p}]))
		}
		out = append(out, rt)
	}
	slices.SortFunc(out, func(a, b kmsg.DescribeShareGroupOffsetsResponseGroupTopic) int {
		return strings.Compare(a.Topic, b.Topic)
	})
	return out, nil
}

// shareOffsetPartition is one partition's answer from its stored snapshot (nil: none).
func (d *Dispatcher) shareOffsetPartition(topic string, index int32, snap []byte) kmsg.DescribeShareGroupOffsetsResponseGroupTopicPartition {
	rp := kmsg.NewDescribeShareGroupOffsetsResponseGroupTopicPartition()
	rp.Partition, rp.StartOffset, rp.LeaderEpoch, rp.Lag = index, -1, -1, -1
	if snap == nil {
		return rp
	}
	sum, err := share.SummaryOf(snap)
	if err != nil {
		rp.ErrorCode, rp.ErrorMessage = shareErrorCode(err), errorMessage(err)
		return rp
	}
	rp.StartOffset, rp.LeaderEpoch, rp.Lag = sum.StartOffset, sum.LeaderEpoch, d.shareLag(topic, index, sum)
	return rp
}
