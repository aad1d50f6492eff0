package api

// TxnOffsetCommit (key 28), v0-v4.
//
// Behaviour: a transactional producer commits a consumer group's offsets inside its
// transaction (after AddOffsetsToTxn). The group coordinator writes them to
// __consumer_offsets at once, as a transactional batch with the producer's id and
// epoch, and holds them apart until the transaction's marker reaches that partition:
// commit makes them the group's offsets, abort drops them (internal/group
// txn_offsets.go). Checks, as KafkaApis: WRITE on the TRANSACTIONAL_ID
// (TRANSACTIONAL_ID_AUTHORIZATION_FAILED), READ on the group
// (GROUP_AUTHORIZATION_FAILED), READ on each topic (TOPIC_AUTHORIZATION_FAILED), unknown
// topics or partitions (UNKNOWN_TOPIC_OR_PARTITION). v2 adds the leader epoch; v3
// (KIP-447) the member id, generation and instance id, checked as Kafka's
// doTxnCommitOffsets (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, FENCED_INSTANCE_ID; no
// REBALANCE_IN_PROGRESS); v3 is flexible. PRODUCER_FENCED is INVALID_PRODUCER_EPOCH
// before v3 (KIP-588).
//
// Differs from Kafka: v5 (transaction version 2) and v6 (topic ids) are not served.
// The coordinator does not ask the transaction coordinator whether the group's
// partition is in the transaction (Kafka's KIP-890 verification).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/group"
)

func (d *Dispatcher) handleTxnOffsetCommit(ctx context.Context, r *request) {
	req := r.body.(*kmsg.TxnOffsetCommitRequest)
	resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	v := r.header.Version
	whole := int16(0)
	switch {
	case !d.authorized(r, acl.OpWrite, acl.ResourceTransactionalID, req.TransactionalID):
		whole = kerr.TransactionalIDAuthorizationFailed.Code
	case !d.authorizedGroup(r, acl.OpRead, req.Group):
		whole = kerr.GroupAuthorizationFailed.Code
	}
	cr := group.TxnCommitRequest{MemberRef: group.MemberRef{GroupID: req.Group, Generation: -1},
		ProducerID: req.ProducerID, ProducerEpoch: req.ProducerEpoch}
	if v >= 3 {
		cr.MemberID, cr.Generation = req.MemberID, req.Generation
		if req.InstanceID != nil {
			cr.InstanceID = *req.InstanceID
		}
	}
	if whole == 0 {
		if _, err := d.ensureOffsetsTopic(ctx); err != nil {
			whole = kerr.CoordinatorNotAvailable.Code
		}
	}
	img := d.cfg.Metadata.Image()
	type slot struct{ topic, partition int }
	var slots []slot
	for ti, t := range req.Topics {
		rt := kmsg.NewTxnOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		topic, exists := img.TopicByName(t.Topic)
		code := whole
		if code == 0 && !d.authorizedTopic(r, acl.OpRead, t.Topic) {
			code = kerr.TopicAuthorizationFailed.Code
		}
		for _, p := range t.Partitions {
			rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			rp.Partition = p.Partition
			switch {
			case code != 0:
				rp.ErrorCode = code
			case !exists || p.Partition < 0 || int(p.Partition) >= len(topic.Partitions):
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			default:
				o := group.OffsetCommit{TopicPartition: group.TopicPartition{Topic: t.Topic, Partition: p.Partition},
					Offset: p.Offset, LeaderEpoch: p.LeaderEpoch}
				if v < 2 {
					o.LeaderEpoch = -1
				}
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
	if len(cr.Offsets) > 0 {
		errs := d.cfg.Groups.CommitTxnOffsets(cr)
		for i, s := range slots {
			resp.Topics[s.topic].Partitions[s.partition].ErrorCode = fencedCode(errorCode(errs[i]), v, 3)
		}
	}
	r.respond(resp)
}
