package api

// OffsetCommit (key 8), v0-v10.
//
// Behaviour: offsets are written to __consumer_offsets (one append, acks=all) before the
// response. Members commit with their member id and generation (ILLEGAL_GENERATION,
// UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID otherwise; REBALANCE_IN_PROGRESS between
// JoinGroup and SyncGroup; commits during PreparingRebalance are accepted, so
// cooperative members can commit what they keep). Generation -1 without a member id
// commits to an empty or unknown group ("simple" commits: kcat, admin tools). Metadata
// and the leader epoch (v6+) are kept; metadata over offset.metadata.max.bytes is
// OFFSET_METADATA_TOO_LARGE. Partitions of unknown topics are UNKNOWN_TOPIC_OR_PARTITION
// (UNKNOWN_TOPIC_ID for v10's topic ids). v1 adds generation and member, v2-v4 carry a
// retention time (honoured per commit), v7 group.instance.id, v8 is flexible, v10 names
// topics by id. For KIP-848 consumer groups the generation is the member epoch: members
// commit with v9+ (UNSUPPORTED_VERSION before) at their current epoch
// (STALE_MEMBER_EPOCH otherwise).
//
// Differs from Kafka: v0, which Kafka stored in ZooKeeper apart from v1+ commits, is a
// simple commit to the coordinator like any other. v1's per-partition commit timestamp is
// ignored (the broker's time is used).

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/group"
	"github.com/nagare-dev/nagare/internal/metadata"
)

func (d *Dispatcher) handleOffsetCommit(ctx context.Context, r *request) {
	req := r.body.(*kmsg.OffsetCommitRequest)
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	if _, err := d.ensureOffsetsTopic(ctx); err != nil {
		d.cfg.Logger.Warn("creating "+group.OffsetsTopic, "err", err)
	}
	cr := group.CommitRequest{MemberRef: group.MemberRef{GroupID: req.Group, MemberID: req.MemberID, Generation: req.Generation},
		Version: r.header.Version}
	if r.header.Version == 0 {
		cr.MemberID, cr.Generation = "", -1
	}
	if req.InstanceID != nil {
		cr.InstanceID = *req.InstanceID
	}
	if r.header.Version >= 2 && r.header.Version <= 4 && req.RetentionTimeMillis > 0 {
		cr.Retention = time.Duration(req.RetentionTimeMillis) * time.Millisecond
	}
	img := d.cfg.Metadata.Image()
	type slot struct{ topic, partition int } // where each committed offset answers
	var slots []slot
	for ti, t := range req.Topics {
		rt := kmsg.NewOffsetCommitResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		topic, code := commitTopic(img, t, r.header.Version)
		code = d.commitAuthorization(r, req.Group, t.Topic, topic, code)
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetCommitResponseTopicPartition()
			rp.Partition = p.Partition
			switch {
			case code != 0:
				rp.ErrorCode = code
			case p.Partition < 0 || int(p.Partition) >= len(topic.Partitions):
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			default:
				o := group.OffsetCommit{TopicPartition: group.TopicPartition{Topic: topic.Name, Partition: p.Partition},
					Offset: p.Offset, LeaderEpoch: p.LeaderEpoch}
				if p.Metadata != nil {
					o.Metadata = *p.Metadata
				}
				cr.Offsets = append(cr.Offsets, o)
				slots = append(slots, slot{ti, len(rt.Partitions)})
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if (len(cr.Offsets) > 0 || len(req.Topics) == 0) && d.authorizedGroup(r, acl.OpRead, req.Group) {
		errs := d.cfg.Groups.CommitOffsets(cr)
		for i, s := range slots {
			resp.Topics[s.topic].Partitions[s.partition].ErrorCode = errorCode(errs[i])
		}
	}
	r.respond(resp)
}

// commitTopic finds a committed topic by name, or by id from v10.
func commitTopic(img *metadata.Image, t kmsg.OffsetCommitRequestTopic, version int16) (*metadata.Topic, int16) {
	if version >= 10 {
		if topic, ok := img.TopicByID(t.TopicID); ok {
			return topic, 0
		}
		return nil, kerr.UnknownTopicID.Code
	}
	if topic, ok := img.TopicByName(t.Topic); ok {
		return topic, 0
	}
	return nil, kerr.UnknownTopicOrPartition.Code
}

// commitAuthorization applies Kafka's checks to one committed topic, before its existence
// is told: READ on the group (GROUP_AUTHORIZATION_FAILED), then READ on the topic
// (TOPIC_AUTHORIZATION_FAILED). A v10+ topic ID that names no topic stays
// UNKNOWN_TOPIC_ID: an ID tells nothing.
func (d *Dispatcher) commitAuthorization(r *request, groupID, name string, topic *metadata.Topic, code int16) int16 {
	if !d.authorizedGroup(r, acl.OpRead, groupID) {
		return kerr.GroupAuthorizationFailed.Code
	}
	if topic != nil {
		name = topic.Name
	} else if code == kerr.UnknownTopicID.Code {
		return code
	}
	if !d.authorizedTopic(r, acl.OpRead, name) {
		return kerr.TopicAuthorizationFailed.Code
	}
	return code
}
