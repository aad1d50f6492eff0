package api

// CreateTopics (key 19), v0-v7.
//
// Behaviour: each topic is validated (name, partitions, replication factor against the
// registered brokers, configs) and recorded in the metadata log; validate_only checks
// without creating. A topic named twice in one request fails with INVALID_REQUEST.
// v5+ returns the topic ID, partition count, replication factor and configs.
//
// A topic's partitions count against the client's controller_mutation_rate (KIP-599): from
// v6 a topic is refused with THROTTLING_QUOTA_EXCEEDED while the quota is exhausted;
// earlier versions are only throttled.
//
// A request whose topics add up to more than maxNewPartitions partitions is refused
// whole, every topic POLICY_VIOLATION, as Kafka's controller refuses it
// (validateTotalNumberOfPartitions): creating a million partitions would otherwise hold
// the broker for minutes.
//
// Differs from Kafka: no create.topic.policy.class.name (POLICY_VIOLATION) yet.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/config"
)

func (d *Dispatcher) handleCreateTopics(ctx context.Context, r *request) {
	req := r.body.(*kmsg.CreateTopicsRequest)
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	seen := map[string]int{}
	for _, t := range req.Topics {
		seen[t.Topic]++
	}
	tooMany := d.requestedPartitions(req.Topics) > maxNewPartitions
	for _, t := range req.Topics {
		rt := kmsg.NewCreateTopicsResponseTopic()
		rt.Topic = t.Topic
		if tooMany {
			rt.ErrorCode = kerr.PolicyViolation.Code
			rt.ErrorMessage = ptr("Excessively large number of partitions per request.")
			resp.Topics = append(resp.Topics, rt)
			continue
		}
		if seen[t.Topic] > 1 {
			rt.ErrorCode = kerr.InvalidRequest.Code
			rt.ErrorMessage = ptr("topic named more than once in one request")
			resp.Topics = append(resp.Topics, rt)
			continue
		}
		if rt.ErrorCode = d.createTopicAuthorization(r, t.Topic); rt.ErrorCode != 0 {
			resp.Topics = append(resp.Topics, rt)
			continue
		}
		spec := createSpec(t)
		spec.mutations = r.mutationQuota(createTopicsStrictVersion)
		rec, err := d.createTopic(ctx, spec, req.ValidateOnly)
		if err != nil {
			rt.ErrorCode = topicErrorCode(err)
			rt.ErrorMessage = errorMessage(err)
		} else if r.header.Version >= 5 {
			rt.TopicID = rec.TopicID
			rt.NumPartitions = int32(len(rec.Partitions))
			rt.ReplicationFactor = int16(len(rec.Partitions[0].Replicas))
			rt.Configs = createTopicConfigs(config.DescribeTopic(d.cfg.Broker, rec.Configs))
			if !d.authorizedTopic(r, acl.OpDescribeConfigs, t.Topic) {
				rt.ConfigErrorCode, rt.Configs = kerr.TopicAuthorizationFailed.Code, nil
			}
		}
		resp.Topics = append(resp.Topics, rt)
	}
	r.respond(resp)
}

// requestedPartitions is how many partitions topics would create, counted as Kafka's
// controller counts them: the assignment's length, else the count asked for (-1 is
// num.partitions; other counts below 1 are refused later and count nothing here).
func (d *Dispatcher) requestedPartitions(topics []kmsg.CreateTopicsRequestTopic) int64 {
	var total int64
	for _, t := range topics {
		switch {
		case len(t.ReplicaAssignment) > 0:
			total += int64(len(t.ReplicaAssignment))
		case t.NumPartitions == -1:
			total += int64(d.cfg.Broker.Int("num.partitions"))
		case t.NumPartitions > 0:
			total += int64(t.NumPartitions)
		}
	}
	return total
}

func createSpec(t kmsg.CreateTopicsRequestTopic) topicSpec {
	spec := topicSpec{name: t.Topic, partitions: t.NumPartitions, replicationFactor: t.ReplicationFactor}
	if len(t.ReplicaAssignment) > 0 {
		spec.assignment = map[int32][]int32{}
		for _, a := range t.ReplicaAssignment {
			spec.assignment[a.Partition] = a.Replicas
		}
	}
	if len(t.Configs) > 0 {
		spec.configs = map[string]string{}
		for _, c := range t.Configs {
			if c.Value != nil {
				spec.configs[c.Name] = *c.Value
			}
		}
	}
	return spec
}

func createTopicConfigs(entries []config.Entry) []kmsg.CreateTopicsResponseTopicConfig {
	out := make([]kmsg.CreateTopicsResponseTopicConfig, 0, len(entries))
	for _, e := range entries {
		c := kmsg.NewCreateTopicsResponseTopicConfig()
		c.Name, c.Value, c.ReadOnly, c.IsSensitive = e.Name, e.Value, e.ReadOnly, e.Sensitive
		c.Source = int8(e.Source)
		out = append(out, c)
	}
	return out
}

func ptr[T any](v T) *T { return &v }
