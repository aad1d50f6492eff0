package api

// DeleteShareGroupOffsets (key 92), v0.
//
// Behaviour: deletes a share group's state for whole topics, so its next member starts
// those share-partitions afresh at share.auto.offset.reset. Top-level errors: DELETE on
// the group, else GROUP_AUTHORIZATION_FAILED; a group that is not a share group here and
// has no share state, GROUP_ID_NOT_FOUND; members, NON_EMPTY_GROUP. Per topic: READ on
// the topic (TOPIC_AUTHORIZATION_FAILED); an unknown topic, or one the group has no
// state for, UNKNOWN_TOPIC_OR_PARTITION (Kafka: not initialized for the group). Each
// partition's state is deleted through DeleteShareGroupState (a tombstone in
// __share_group_state); a data leader holding the share-partition drops it (at once on
// this broker, else when a member's share session next opens).
//
// Differs from Kafka: nothing known beyond where the group's partitions with state are
// found (share_offsets.go).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/share"
)

func (d *Dispatcher) handleDeleteShareGroupOffsets(ctx context.Context, r *request) {
	req := r.body.(*kmsg.DeleteShareGroupOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteShareGroupOffsetsResponse)
	if err := d.checkShareOffsetsChange(ctx, r, req.GroupID, acl.OpDelete); err != nil {
		resp.ErrorCode, resp.ErrorMessage = shareErrorCode(err), errorMessage(err)
		r.respond(resp)
		return
	}
	img := d.cfg.Metadata.Image()
	for _, t := range req.Topics {
		rt := kmsg.NewDeleteShareGroupOffsetsResponseTopic()
		rt.Topic = t.Topic
		topic, known := img.TopicByName(t.Topic)
		switch {
		case !d.authorizedTopic(r, acl.OpRead, t.Topic):
			rt.ErrorCode = kerr.TopicAuthorizationFailed.Code
		case !known:
			rt.ErrorCode = kerr.UnknownTopicOrPartition.Code
		default:
			rt.TopicID = topic.ID
			if err := d.deleteTopicShareState(ctx, req.GroupID, topic.Name, shareKeys(req.GroupID, topic)); err != nil {
				rt.ErrorCode, rt.ErrorMessage = shareErrorCode(err), errorMessage(err)
			}
		}
		resp.Topics = append(resp.Topics, rt)
	}
	r.respond(resp)
}

// deleteTopicShareState deletes the state of the partitions of one topic that have
// some; none is UNKNOWN_TOPIC_OR_PARTITION.
func (d *Dispatcher) deleteTopicShareState(ctx context.Context, groupID, topic string, keys []share.Key) error {
	state, err := d.cfg.Shares.ReadAll(ctx, keys)
	if err != nil {
		return err
	}
	if len(state) == 0 {
		return newError(kerr.UnknownTopicOrPartition, "share group %s has no state for topic %s", groupID, topic)
	}
	with := make([]share.Key, 0, len(state))
	for k := range state {
		with = append(with, k)
	}
	return d.deleteShareState(ctx, with)
}
