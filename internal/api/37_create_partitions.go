package api

// CreatePartitions (key 37), v0-v3.
//
// Behaviour: a topic's partition count only grows (KIP-195): a count equal to or below the
// current one is INVALID_PARTITIONS, with Kafka's messages. New partitions take the topic's
// replication factor and are placed round-robin over the registered brokers, or as the
// request's assignment says: one replica list per new partition, each as long as the
// topic's replication factor, of distinct registered brokers, else
// INVALID_REPLICA_ASSIGNMENT. validate_only checks without creating. A topic named twice is
// INVALID_REQUEST, an unknown one UNKNOWN_TOPIC_OR_PARTITION. The partitions exist on this
// broker when the response leaves. v1 adds throttling, v2 is flexible, v3 is v2 with
// KIP-599: the new partitions count against the client's controller_mutation_rate, and
// from v3 a topic is refused with THROTTLING_QUOTA_EXCEEDED while the quota is exhausted
// (earlier versions only throttle).
//
// Differs from Kafka: timeout_ms is not waited on; the work is done when the response
// leaves. Adding more than maxNewPartitions in one request, over all its topics, is
// POLICY_VIOLATION for every topic, with Kafka's message for an oversized controller
// operation (Kafka bounds the records of one request).

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/metadata"
)

// maxNewPartitions bounds the partitions one topic may gain in one request, and those one
// CreateTopics may create, as Kafka's controller bounds the records of one operation
// (MAX_RECORDS_PER_USER_OP, MAX_PARTITIONS_PER_BATCH).
const maxNewPartitions = 10000

func (d *Dispatcher) handleCreatePartitions(ctx context.Context, r *request) {
	req := r.body.(*kmsg.CreatePartitionsRequest)
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	imgs := d.newAdminImages() // one catch-up with the quorum at most, for all its topics
	seen := map[string]int{}
	for _, t := range req.Topics {
		seen[t.Topic]++
	}
	tooMany := partitionsAdded(ctx, imgs, req.Topics) > maxNewPartitions
	for _, t := range req.Topics {
		rt := kmsg.NewCreatePartitionsResponseTopic()
		rt.Topic = t.Topic
		var err error
		if tooMany {
			err = errExcessivePartitions
		} else if seen[t.Topic] > 1 {
			err = newError(kerr.InvalidRequest, "Duplicate topic name.")
		} else if !d.authorizedTopic(r, acl.OpAlter, t.Topic) {
			err = newError(kerr.TopicAuthorizationFailed, "%s", kerr.TopicAuthorizationFailed.Message)
		} else {
			err = d.createPartitions(ctx, imgs, t, req.ValidateOnly, r.mutationQuota(createPartitionsStrictVersion))
		}
		if err != nil {
			rt.ErrorCode, rt.ErrorMessage = errorCode(err), errorMessage(err)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	r.respond(resp)
}

// errExcessivePartitions refuses a request adding more than maxNewPartitions, with
// Kafka's message for an operation over its controller's record bound.
var errExcessivePartitions = newError(kerr.PolicyViolation, "Unable to perform excessively large batch operation.")

// partitionsAdded is how many partitions topics would add, for the whole-request bound:
// Kafka's controller fails a request whose records exceed its bound, all topics at once.
// Topics are looked up as the request's own handling looks them up (imgs), so a topic
// created a moment ago through another broker counts too.
func partitionsAdded(ctx context.Context, imgs *adminImages, topics []kmsg.CreatePartitionsRequestTopic) int64 {
	var total int64
	for _, t := range topics {
		if topic, ok := imgs.byName(ctx, t.Topic).TopicByName(t.Topic); ok && t.Count > int32(len(topic.Partitions)) {
			total += int64(t.Count) - int64(len(topic.Partitions))
		}
	}
	return total
}

func (d *Dispatcher) createPartitions(ctx context.Context, imgs *adminImages, t kmsg.CreatePartitionsRequestTopic, validateOnly bool, mutations mutationQuota) error {
	img := imgs.byName(ctx, t.Topic)
	topic, ok := img.TopicByName(t.Topic)
	if !ok {
		return unknownTopicError(t.Topic)
	}
	current := int32(len(topic.Partitions))
	switch {
	case t.Count == current:
		return newError(kerr.InvalidPartitions, "Topic already has %d partition(s).", current)
	case t.Count < current:
		return newError(kerr.InvalidPartitions,
			"The topic %s currently has %d partition(s); %d would not be an increase.", t.Topic, current, t.Count)
	case t.Count-current > maxNewPartitions:
		return errExcessivePartitions
	}
	added, err := planNewPartitions(img.UnfencedBrokers(), topic, t)
	if err != nil || validateOnly {
		return err
	}
	if err := mutations.admit(len(added)); err != nil {
		return err
	}
	if _, err := d.cfg.Metadata.Propose(ctx, metadata.CreatePartitions{TopicID: topic.ID, New: added}); err != nil {
		return err
	}
	return d.cfg.Partitions.Sync(d.cfg.Metadata.Image())
}

// planNewPartitions places the partitions t adds to topic: as its assignment says, checked
// as Kafka's controller checks it, or round-robin with the topic's replication factor.
func planNewPartitions(brokers []metadata.Broker, topic *metadata.Topic, t kmsg.CreatePartitionsRequestTopic) ([]metadata.PartitionAssignment, error) {
	first := int32(len(topic.Partitions))
	add := t.Count - first
	rf := len(topic.Partitions[0].Replicas)
	if t.Assignment == nil {
		if rf > len(brokers) {
			return nil, newError(kerr.InvalidReplicationFactor,
				"Unable to replicate the partition %d time(s): only %d broker(s) are registered.", rf, len(brokers))
		}
		return assignReplicas(brokers, first, add, rf), nil
	}
	if int32(len(t.Assignment)) != add {
		return nil, newError(kerr.InvalidReplicaAssignment,
			"Attempted to add %d additional partition(s), but only %d assignment(s) were specified.", add, len(t.Assignment))
	}
	out := make([]metadata.PartitionAssignment, 0, add)
	for i, a := range t.Assignment {
		if err := checkManualReplicas(brokers, a.Replicas, rf); err != nil {
			return nil, err
		}
		out = append(out, metadata.PartitionAssignment{Partition: first + int32(i),
			Replicas: a.Replicas, Leader: a.Replicas[0], ISR: slices.Clone(a.Replicas)})
	}
	return out, nil
}

// checkManualReplicas checks one partition's replica list from a manual assignment.
func checkManualReplicas(brokers []metadata.Broker, replicas []int32, rf int) error {
	if len(replicas) == 0 {
		return newError(kerr.InvalidReplicaAssignment, "The manual partition assignment includes an empty replica list.")
	}
	if len(replicas) != rf {
		return newError(kerr.InvalidReplicaAssignment,
			"The manual partition assignment includes a partition with %d replica(s), but this is not "+
				"consistent with previous partitions, which have %d replica(s).", len(replicas), rf)
	}
	for i, id := range replicas {
		if slices.Contains(replicas[:i], id) {
			return newError(kerr.InvalidReplicaAssignment,
				"The manual partition assignment includes the broker %d more than once.", id)
		}
		if !slices.ContainsFunc(brokers, func(b metadata.Broker) bool { return b.NodeID == id }) {
			return newError(kerr.InvalidReplicaAssignment,
				"The manual partition assignment includes broker %d, but no such broker is registered.", id)
		}
	}
	return nil
}
