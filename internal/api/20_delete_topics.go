package api

// DeleteTopics (key 20), v0-v6.
//
// Behaviour: each topic is removed from the metadata (by ID, so a racing re-create of the
// name is never the one removed) and its logs are deleted before the response, so a topic
// created again under the same name starts empty. Topics are named by name, or (v6+, KIP-516)
// by ID; naming both, neither, or one topic twice is INVALID_REQUEST, as in Kafka's
// ControllerApis. An unknown name is UNKNOWN_TOPIC_OR_PARTITION, an unknown ID
// UNKNOWN_TOPIC_ID. With delete.topic.enable=false every topic fails with
// TOPIC_DELETION_DISABLED (v3+) or INVALID_REQUEST (v0-v2). v1 adds throttling, v4 is
// flexible, v5 adds error messages, v6 topic IDs. A topic's partitions count against the
// client's controller_mutation_rate (KIP-599): from v5 a topic is refused with
// THROTTLING_QUOTA_EXCEEDED while the quota is exhausted; earlier versions only throttle.
//
// Authorization as Kafka's controller (ControllerApis): DELETE on the cluster allows every
// topic; otherwise a topic needs DELETE, and one named by ID DESCRIBE too, failing with
// TOPIC_AUTHORIZATION_FAILED before its existence is told.
//
// Differs from Kafka: internal topics (__consumer_offsets, __transaction_state) cannot be
// deleted: INVALID_TOPIC_EXCEPTION. Kafka's controller deletes them when asked (only its
// kafka-topics tool refuses), which loses every group's committed offsets; on a cluster
// shared by many teams one client must not be able to do that to all the others.
// timeout_ms is not waited on: the delete is done, or has failed, when the response leaves.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/metadata"
)

func (d *Dispatcher) handleDeleteTopics(ctx context.Context, r *request) {
	req := r.body.(*kmsg.DeleteTopicsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	imgs := d.newAdminImages() // one catch-up with the quorum at most, for all its topics
	topics := req.Topics
	if r.header.Version < 6 {
		topics = make([]kmsg.DeleteTopicsRequestTopic, len(req.TopicNames))
		for i, name := range req.TopicNames {
			topics[i] = kmsg.DeleteTopicsRequestTopic{Topic: ptr(name)}
		}
	}
	if !d.cfg.Broker.Bool("delete.topic.enable") {
		code := kerr.TopicDeletionDisabled
		if r.header.Version < 3 {
			code = kerr.InvalidRequest
		}
		for _, t := range topics {
			rt := deleteTopicResult(t)
			rt.ErrorCode, rt.ErrorMessage = code.Code, ptr("Topic deletion is disabled.")
			resp.Topics = append(resp.Topics, rt)
		}
		r.respond(resp)
		return
	}
	names, ids := map[string]int{}, map[[16]byte]int{}
	for _, t := range topics {
		if t.Topic != nil {
			names[*t.Topic]++
		} else {
			ids[t.TopicID]++
		}
	}
	deleted := false
	clusterDelete := d.authorizedCluster(r, acl.OpDelete)
	for _, t := range topics {
		rt := deleteTopicResult(t)
		var err error
		switch {
		case t.Topic != nil && t.TopicID != [16]byte{}:
			err = newError(kerr.InvalidRequest, "You may not specify both topic name and topic id.")
		case t.Topic == nil && t.TopicID == [16]byte{}:
			err = newError(kerr.InvalidRequest, "Neither topic name nor id were specified.")
		case t.Topic != nil && names[*t.Topic] > 1:
			err = newError(kerr.InvalidRequest, "Duplicate topic name.")
		case t.Topic == nil && ids[t.TopicID] > 1:
			err = newError(kerr.InvalidRequest, "Duplicate topic id.")
		default:
			if err = d.deleteTopicAuthorization(r, t, clusterDelete); err != nil {
				break
			}
			var topic *metadata.Topic
			topic, err = d.deleteTopic(ctx, imgs, t, r.mutationQuota(deleteTopicsStrictVersion))
			if topic != nil {
				rt.Topic, rt.TopicID = ptr(topic.Name), topic.ID
			}
			deleted = deleted || err == nil
		}
		if err != nil {
			rt.ErrorCode, rt.ErrorMessage = errorCode(err), errorMessage(err)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if deleted {
		// The topics are gone from the metadata whatever happens here: a log that could not
		// be deleted now is deleted by a later sync (one runs at every start), and a topic
		// created again under its name never reads it (the log records its topic ID).
		if err := d.cfg.Partitions.Sync(d.cfg.Metadata.Image()); err != nil {
			d.cfg.Logger.Error("deleting logs of deleted topics", "err", err)
		}
	}
	r.respond(resp)
}

func deleteTopicResult(t kmsg.DeleteTopicsRequestTopic) kmsg.DeleteTopicsResponseTopic {
	rt := kmsg.NewDeleteTopicsResponseTopic()
	rt.Topic, rt.TopicID = t.Topic, t.TopicID
	return rt
}

// deleteTopic removes one topic from the metadata, returning it when it was found.
func (d *Dispatcher) deleteTopic(ctx context.Context, imgs *adminImages, t kmsg.DeleteTopicsRequestTopic, mutations mutationQuota) (*metadata.Topic, error) {
	var topic *metadata.Topic
	var ok bool
	if t.Topic != nil {
		if topic, ok = imgs.byName(ctx, *t.Topic).TopicByName(*t.Topic); !ok {
			return nil, newError(kerr.UnknownTopicOrPartition, "This server does not host this topic-partition.")
		}
	} else if topic, ok = imgs.byID(ctx, t.TopicID).TopicByID(t.TopicID); !ok {
		return nil, newError(kerr.UnknownTopicID, "This server does not host this topic ID.")
	}
	if isInternalTopic(topic.Name) {
		return topic, newError(kerr.InvalidTopicException,
			"Topic %s is an internal topic and cannot be deleted.", topic.Name)
	}
	if err := mutations.admit(len(topic.Partitions)); err != nil {
		return topic, err
	}
	_, err := d.cfg.Metadata.Propose(ctx, metadata.DeleteTopic{TopicID: topic.ID})
	if isCode(err, kerr.UnknownTopicOrPartition) && t.Topic == nil {
		err = newError(kerr.UnknownTopicID, "This server does not host this topic ID.") // deleted meanwhile
	}
	return topic, err
}
