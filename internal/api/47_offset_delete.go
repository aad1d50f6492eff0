package api

// OffsetDelete (key 47), v0.
//
// Behaviour: deletes committed offsets of a group (KIP-496), writing tombstones. An
// empty group loses any offsets asked for; a consumer group with members keeps those of
// topics a member subscribes to (GROUP_SUBSCRIBED_TO_TOPIC per partition); a group of
// another protocol type with members is NON_EMPTY_GROUP. Partitions of unknown topics
// are UNKNOWN_TOPIC_OR_PARTITION; an unknown group is GROUP_ID_NOT_FOUND.
//
// Differs from Kafka: nothing known.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/group"
)

func (d *Dispatcher) handleOffsetDelete(_ context.Context, r *request) {
	req := r.body.(*kmsg.OffsetDeleteRequest)
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	if !d.authorizedGroup(r, acl.OpDelete, req.Group) {
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		r.respond(resp)
		return
	}
	img := d.cfg.Metadata.Image()
	type slot struct{ topic, partition int }
	var asked []group.TopicPartition
	var slots []slot
	for ti, t := range req.Topics {
		rt := kmsg.NewOffsetDeleteResponseTopic()
		rt.Topic = t.Topic
		topic, known := img.TopicByName(t.Topic)
		denied := !d.authorizedTopic(r, acl.OpRead, t.Topic)
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetDeleteResponseTopicPartition()
			rp.Partition = p.Partition
			if denied {
				rp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			} else if !known || p.Partition < 0 || int(p.Partition) >= len(topic.Partitions) {
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			} else {
				asked = append(asked, group.TopicPartition{Topic: t.Topic, Partition: p.Partition})
				slots = append(slots, slot{ti, len(rt.Partitions)})
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	errs, err := d.cfg.Groups.DeleteOffsets(req.Group, asked)
	if err != nil {
		resp.ErrorCode = errorCode(err)
		resp.Topics = nil
		r.respond(resp)
		return
	}
	for i, s := range slots {
		resp.Topics[s.topic].Partitions[s.partition].ErrorCode = errorCode(errs[i])
	}
	r.respond(resp)
}
