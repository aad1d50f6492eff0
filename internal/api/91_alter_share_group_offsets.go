package api

// AlterShareGroupOffsets (key 91), v0.
//
// Behaviour: sets the share-partition start offsets of a share group that has no
// members. Top-level errors (also set on every partition, as Kafka's error response
// does): READ on the group, else GROUP_AUTHORIZATION_FAILED; a group that is not a
// share group here and has no share state, GROUP_ID_NOT_FOUND; members, NON_EMPTY_GROUP.
// Each partition is initialized through InitializeShareGroupState at the next state
// epoch: an empty window at the offset (every in-flight state and delivery count
// dropped); a data leader that loaded the old state is fenced (FENCED_STATE_EPOCH) and
// loads it again, and one on this broker is dropped at once. Per partition: READ on the
// topic (TOPIC_AUTHORIZATION_FAILED), the topic and partition must exist
// (UNKNOWN_TOPIC_OR_PARTITION), the offset must not be negative (INVALID_REQUEST).
//
// Differs from Kafka: the offset is not checked against the log: one below the log
// start moves up to it when next fetched, one past the end waits for the log to reach
// it. A negative offset is refused where Kafka's tools resolve earliest/latest first.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/group"
	"github.com/nagare-dev/nagare/internal/share"
)

func (d *Dispatcher) handleAlterShareGroupOffsets(ctx context.Context, r *request) {
	req := r.body.(*kmsg.AlterShareGroupOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.AlterShareGroupOffsetsResponse)
	err := d.checkShareOffsetsChange(ctx, r, req.GroupID, acl.OpRead)
	if err == nil {
		_, err = d.ensureShareStateTopic(ctx) // a group that never fetched may precede it
	}
	if err != nil {
		resp.ErrorCode, resp.ErrorMessage = shareErrorCode(err), errorMessage(err)
	}
	img := d.cfg.Metadata.Image()
	for _, t := range req.Topics {
		rt := kmsg.NewAlterShareGroupOffsetsResponseTopic()
		rt.Topic = t.Topic
		topic, known := img.TopicByName(t.Topic)
		if known {
			rt.TopicID = topic.ID
		}
		for _, p := range t.Partitions {
			rp := kmsg.NewAlterShareGroupOffsetsResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, resp.ErrorCode
			switch {
			case rp.ErrorCode != 0:
			case !d.authorizedTopic(r, acl.OpRead, t.Topic):
				rp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			case !known || p.Partition < 0 || int(p.Partition) >= len(topic.Partitions):
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case p.StartOffset < 0:
				rp.ErrorCode = kerr.InvalidRequest.Code
			default:
				key := share.Key{Group: req.GroupID, TopicID: topic.ID, Partition: p.Partition}
				if err := d.cfg.Shares.Store().Initialize(ctx, key, p.StartOffset); err != nil {
					rp.ErrorCode, rp.ErrorMessage = shareErrorCode(err), errorMessage(err)
				} else {
					d.dropLoaded(key)
				}
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	r.respond(resp)
}

// checkShareOffsetsChange is what altering and deleting a share group's offsets
// check first: op on the group, a share group (or share state) here, no members.
func (d *Dispatcher) checkShareOffsetsChange(ctx context.Context, r *request, groupID string, op acl.Operation) error {
	if !d.authorizedGroup(r, op, groupID) {
		return kerr.GroupAuthorizationFailed
	}
	empty, err := d.operatorShareGroup(ctx, groupID)
	if err != nil {
		return err
	}
	if !empty {
		return group.ErrNonEmptyGroup
	}
	return nil
}
