package api

// ElectLeaders (key 43), v0-v2.
//
// Behaviour: each partition named (a null topic list: every partition of every topic)
// gets one election of the request's type, run by the active controller on its current
// metadata (metadata.Store.ElectLeader forwards it; internal/controller/preferred.go
// decides), so a broker whose metadata lags cannot elect a replica that was just fenced
// or is shutting down. PREFERRED (0) moves leadership to the first replica when it is a
// live ISR member: ELECTION_NOT_NEEDED when it leads already,
// PREFERRED_LEADER_NOT_AVAILABLE when it is not in the ISR, fenced or shutting down.
// UNCLEAN (1) gives a partition without a leader the first live ISR member, else any live
// replica (records may be lost): ELECTION_NOT_NEEDED when it has a leader,
// ELIGIBLE_LEADERS_NOT_AVAILABLE when no replica is live. Unknown topics and partitions are
// UNKNOWN_TOPIC_OR_PARTITION. With a null topic list, partitions answering
// ELECTION_NOT_NEEDED are left out, as Kafka does. Needs ALTER on the cluster: otherwise
// CLUSTER_AUTHORIZATION_FAILED at the top level (v1+) and for every partition named. The
// answer comes once this broker's metadata holds every change made; past timeout_ms the
// remaining partitions are REQUEST_TIMED_OUT (0 or less: 60 s). v0 has no election type (preferred) and no
// top-level error; v1 adds both; v2 is flexible.
//
// Differs from Kafka: one forwarded call and one metadata record per elected partition
// (Kafka's controller batches a request's records), so electing thousands of partitions
// takes as many quorum round trips.

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/metadata"
)

// defaultElectTimeout is the protocol's default timeout_ms, used when a client sends none.
const defaultElectTimeout = 60 * time.Second

func (d *Dispatcher) handleElectLeaders(ctx context.Context, r *request) {
	req := r.body.(*kmsg.ElectLeadersRequest)
	resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
	election := metadata.ElectPreferred
	if r.header.Version >= 1 {
		election = metadata.ElectionType(req.ElectionType)
	}
	all := req.Topics == nil
	topics := req.Topics
	if all {
		topics = allTopicPartitions(d.cfg.Metadata.Image())
	}
	code := int16(0)
	switch {
	case !d.authorizedCluster(r, acl.OpAlter):
		code = kerr.ClusterAuthorizationFailed.Code
	case election != metadata.ElectPreferred && election != metadata.ElectUnclean:
		code = kerr.InvalidRequest.Code
	}
	if code != 0 {
		resp.ErrorCode = code
		if !all {
			resp.Topics = electResults(req.Topics, func(string, int32) int16 { return code })
		}
		r.respond(resp)
		return
	}
	timeout := time.Duration(req.TimeoutMillis) * time.Millisecond
	if timeout <= 0 {
		timeout = defaultElectTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp.Topics = electResults(topics, func(topic string, partition int32) int16 {
		return d.electLeader(ctx, topic, partition, election)
	})
	if all {
		resp.Topics = withoutElectionNotNeeded(resp.Topics)
	}
	r.respond(resp)
}

// electLeader runs one partition's election on the active controller and returns its
// Kafka error code.
func (d *Dispatcher) electLeader(ctx context.Context, topic string, partition int32, election metadata.ElectionType) int16 {
	if ctx.Err() != nil {
		return kerr.RequestTimedOut.Code
	}
	err := d.cfg.Metadata.ElectLeader(ctx, topic, partition, election)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, metadata.ErrElectionNotNeeded):
		return kerr.ElectionNotNeeded.Code
	case errors.Is(err, metadata.ErrPreferredLeaderNotAvailable):
		return kerr.PreferredLeaderNotAvailable.Code
	case errors.Is(err, metadata.ErrEligibleLeadersNotAvailable):
		return kerr.EligibleLeadersNotAvailable.Code
	case errors.Is(err, metadata.ErrUnknownTopic), errors.Is(err, metadata.ErrInvalidPartitions):
		return kerr.UnknownTopicOrPartition.Code
	case errors.Is(err, context.DeadlineExceeded):
		return kerr.RequestTimedOut.Code
	}
	d.cfg.Logger.Warn("elect leaders: election failed", "topic", topic, "partition", partition, "err", err)
	return errorCode(err)
}

// electResults answers every partition of topics with code(topic, partition), in order.
func electResults(topics []kmsg.ElectLeadersRequestTopic, code func(string, int32) int16) []kmsg.ElectLeadersResponseTopic {
	out := make([]kmsg.ElectLeadersResponseTopic, 0, len(topics))
	for _, t := range topics {
		rt := kmsg.NewElectLeadersResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewElectLeadersResponseTopicPartition()
			rp.Partition = p
			rp.ErrorCode = code(t.Topic, p)
			if rp.ErrorCode != 0 {
				msg := kerr.ErrorForCode(rp.ErrorCode).Error()
				rp.ErrorMessage = &msg
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		out = append(out, rt)
	}
	return out
}

// allTopicPartitions lists every partition in img, for a request with a null topic list.
func allTopicPartitions(img *metadata.Image) []kmsg.ElectLeadersRequestTopic {
	var out []kmsg.ElectLeadersRequestTopic
	for _, t := range img.Topics() {
		rt := kmsg.NewElectLeadersRequestTopic()
		rt.Topic = t.Name
		for _, p := range t.Partitions {
			rt.Partitions = append(rt.Partitions, p.Partition)
		}
		out = append(out, rt)
	}
	return out
}

// withoutElectionNotNeeded drops the partitions that needed no election, which Kafka
// leaves out of an answer to "every partition".
func withoutElectionNotNeeded(topics []kmsg.ElectLeadersResponseTopic) []kmsg.ElectLeadersResponseTopic {
	for i := range topics {
		parts := topics[i].Partitions[:0]
		for _, p := range topics[i].Partitions {
			if p.ErrorCode != kerr.ElectionNotNeeded.Code {
				parts = append(parts, p)
			}
		}
		topics[i].Partitions = parts
	}
	return topics
}
