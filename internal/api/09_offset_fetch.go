package api

// OffsetFetch (key 9), v0-v10.
//
// Behaviour: returns a group's committed offsets with their leader epoch (v5+) and
// metadata: for the partitions asked for (-1 where nothing is committed) or, with a null
// topic list (v2+), every partition the group has committed. An unknown group has no
// offsets and no error. v2 adds the top-level error, v6 is flexible, v7 require_stable,
// v8 batches groups, v9 carries a KIP-848 member id and epoch, v10 names topics by id.
//
// v9's member id and epoch are checked for KIP-848 consumer groups (UNKNOWN_MEMBER_ID,
// STALE_MEMBER_EPOCH) and ignored for classic groups, as in Kafka.
//
// With require_stable (v7+, KIP-447) a partition for which a transaction has staged
// offsets of the group (TxnOffsetCommit, not yet committed or aborted), or whose
// OffsetCommit is still awaiting the ISR, answers UNSTABLE_OFFSET_COMMIT with offset -1,
// which consumers retry, so a consumer taking over from another never starts from an
// offset that may still change.
//
// Differs from Kafka: v0, which Kafka read from ZooKeeper, reads the coordinator's offsets.

import (
	"cmp"
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/group"
	"github.com/nagare-dev/nagare/internal/metadata"
)

func (d *Dispatcher) handleOffsetFetch(_ context.Context, r *request) {
	req := r.body.(*kmsg.OffsetFetchRequest)
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	version := r.header.Version
	if version >= 8 {
		for _, rg := range req.Groups {
			resp.Groups = append(resp.Groups, d.fetchGroupOffsets(r, rg, version, req.RequireStable))
		}
		r.respond(resp)
		return
	}
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = req.Group
	if req.Topics != nil || version < 2 {
		rg.Topics = []kmsg.OffsetFetchRequestGroupTopic{}
	}
	for _, t := range req.Topics {
		rg.Topics = append(rg.Topics, kmsg.OffsetFetchRequestGroupTopic{Topic: t.Topic, Partitions: t.Partitions})
	}
	g := d.fetchGroupOffsets(r, rg, version, req.RequireStable)
	if version >= 2 {
		resp.ErrorCode = g.ErrorCode
	}
	for _, t := range g.Topics {
		rt := kmsg.NewOffsetFetchResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetFetchResponseTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata, rp.ErrorCode = p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	r.respond(resp)
}

// fetchGroupOffsets answers for one group, in the v8+ shape.
func (d *Dispatcher) fetchGroupOffsets(r *request, rg kmsg.OffsetFetchRequestGroup, version int16, requireStable bool) (out kmsg.OffsetFetchResponseGroup) {
	out = kmsg.NewOffsetFetchResponseGroup()
	out.Group = rg.Group
	img := d.cfg.Metadata.Image()
	if !d.authorizedGroup(r, acl.OpDescribe, rg.Group) {
		return offsetFetchDenied(rg, kerr.GroupAuthorizationFailed.Code)
	}
	defer d.hideUnauthorizedOffsets(r, img, rg.Topics == nil, &out) // out is the named result
	if requireStable {
		defer d.markUnstableOffsets(img, rg.Group, &out)
	}
	var asked []group.TopicPartition
	unknownIDs := map[[16]byte]bool{}
	if rg.Topics != nil {
		asked = []group.TopicPartition{}
		for _, t := range rg.Topics {
			name := t.Topic
			if version >= 10 {
				topic, ok := img.TopicByID(t.TopicID)
				if !ok {
					unknownIDs[t.TopicID] = true
					continue
				}
				name = topic.Name
			}
			for _, p := range t.Partitions {
				asked = append(asked, group.TopicPartition{Topic: name, Partition: p})
			}
		}
	}
	ref := group.MemberRef{GroupID: rg.Group, Generation: -1}
	if version >= 9 {
		ref.Generation = rg.MemberEpoch
		if rg.MemberID != nil {
			ref.MemberID = *rg.MemberID
		}
	}
	offsets, err := d.cfg.Groups.FetchMemberOffsets(ref, asked)
	if err != nil && version >= 2 { // v0-v1 have no group-level error: each partition carries it
		out.ErrorCode = errorCode(err)
		return out
	}
	if rg.Topics == nil {
		out.Topics = allFetchedOffsets(img, offsets)
		return out
	}
	for _, t := range rg.Topics {
		rt := kmsg.NewOffsetFetchResponseGroupTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		name := t.Topic
		if topic, ok := img.TopicByID(t.TopicID); ok && version >= 10 {
			name = topic.Name
		}
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
			rp.Partition, rp.Offset, rp.Metadata = p, -1, ptr("")
			switch o, ok := offsets[group.TopicPartition{Topic: name, Partition: p}]; {
			case version >= 10 && unknownIDs[t.TopicID]:
				rp.ErrorCode = kerr.UnknownTopicID.Code
			case err != nil:
				rp.ErrorCode = errorCode(err)
			case ok:
				rp.Offset, rp.LeaderEpoch, rp.Metadata = o.Offset, o.LeaderEpoch, ptr(o.Metadata)
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		out.Topics = append(out.Topics, rt)
	}
	return out
}

// markUnstableOffsets answers UNSTABLE_OFFSET_COMMIT for the partitions with offsets
// not yet settled: staged by a transaction, or a commit awaiting the ISR (require_stable).
func (d *Dispatcher) markUnstableOffsets(img *metadata.Image, groupID string, out *kmsg.OffsetFetchResponseGroup) {
	if out.ErrorCode != 0 {
		return
	}
	for i := range out.Topics {
		t := &out.Topics[i]
		name := t.Topic
		if topic, ok := img.TopicByID(t.TopicID); ok && name == "" {
			name = topic.Name
		}
		for j := range t.Partitions {
			p := &t.Partitions[j]
			if p.ErrorCode == 0 && d.cfg.Groups.HasPendingOffsets(groupID, group.TopicPartition{Topic: name, Partition: p.Partition}) {
				p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode = -1, -1, ptr(""), kerr.UnstableOffsetCommit.Code
			}
		}
	}
}

// allFetchedOffsets lists every committed offset, topics and partitions in order.
func allFetchedOffsets(img *metadata.Image, offsets map[group.TopicPartition]group.CommittedOffset) []kmsg.OffsetFetchResponseGroupTopic {
	tps := make([]group.TopicPartition, 0, len(offsets))
	for tp := range offsets {
		tps = append(tps, tp)
	}
	slices.SortFunc(tps, func(a, b group.TopicPartition) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	var out []kmsg.OffsetFetchResponseGroupTopic
	for _, tp := range tps {
		if len(out) == 0 || out[len(out)-1].Topic != tp.Topic {
			rt := kmsg.NewOffsetFetchResponseGroupTopic()
			rt.Topic = tp.Topic
			if topic, ok := img.TopicByName(tp.Topic); ok {
				rt.TopicID = topic.ID
			}
			out = append(out, rt)
		}
		o := offsets[tp]
		rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
		rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = tp.Partition, o.Offset, o.LeaderEpoch, ptr(o.Metadata)
		out[len(out)-1].Partitions = append(out[len(out)-1].Partitions, rp)
	}
	return out
}

// offsetFetchDenied answers a group the principal may not DESCRIBE: the error at group
// level (v2+) and on every named partition (v0-v1 carry it there).
func offsetFetchDenied(rg kmsg.OffsetFetchRequestGroup, code int16) kmsg.OffsetFetchResponseGroup {
	out := kmsg.NewOffsetFetchResponseGroup()
	out.Group, out.ErrorCode = rg.Group, code
	for _, t := range rg.Topics {
		rt := kmsg.NewOffsetFetchResponseGroupTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
			rp.Partition, rp.Offset, rp.Metadata, rp.ErrorCode = p, -1, ptr(""), code
			rt.Partitions = append(rt.Partitions, rp)
		}
		out.Topics = append(out.Topics, rt)
	}
	return out
}

// hideUnauthorizedOffsets applies Kafka's rule that a principal sees offsets only of
// topics it may DESCRIBE: left out of an all-topics answer, TOPIC_AUTHORIZATION_FAILED
// on the partitions of a named one.
func (d *Dispatcher) hideUnauthorizedOffsets(r *request, img *metadata.Image, all bool, out *kmsg.OffsetFetchResponseGroup) {
	if d.cfg.Authorizer == nil {
		return
	}
	kept := out.Topics[:0]
	for _, t := range out.Topics {
		name := t.Topic
		if topic, ok := img.TopicByID(t.TopicID); ok && name == "" {
			name = topic.Name
		}
		if name == "" || d.authorizedTopic(r, acl.OpDescribe, name) {
			kept = append(kept, t)
			continue
		}
		if all {
			continue
		}
		for i := range t.Partitions {
			p := &t.Partitions[i]
			p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode = -1, -1, ptr(""), kerr.TopicAuthorizationFailed.Code
		}
		kept = append(kept, t)
	}
	out.Topics = kept
}
