package api

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/nagare-dev/nagare/internal/config"
	"github.com/nagare-dev/nagare/internal/metadata"
)

// topicSpec is a topic to create, as CreateTopics or auto-creation asks for it.
type topicSpec struct {
	name              string
	partitions        int32 // -1: num.partitions
	replicationFactor int16 // -1: default.replication.factor
	assignment        map[int32][]int32
	configs           map[string]string
	mutations         mutationQuota // charged the topic's partitions when it is created
}

// createTopic validates spec and, unless validateOnly, records the topic in the
// metadata and waits until this broker holds its partitions, so a produce right after
// CreateTopics finds them. It returns the topic as created (or as it would be).
func (d *Dispatcher) createTopic(ctx context.Context, spec topicSpec, validateOnly bool) (metadata.CreateTopic, error) {
	rec, err := d.planTopic(spec)
	if err != nil || validateOnly {
		return rec, err
	}
	if err := spec.mutations.admit(len(rec.Partitions)); err != nil {
		return rec, err
	}
	if _, err := d.cfg.Metadata.Propose(ctx, rec); err != nil {
		return rec, err
	}
	return rec, d.cfg.Partitions.Sync(d.cfg.Metadata.Image())
}

// planTopic turns a spec into the CreateTopic record, checking it as Kafka does.
func (d *Dispatcher) planTopic(spec topicSpec) (metadata.CreateTopic, error) {
	img := d.cfg.Metadata.Image()
	rec := metadata.CreateTopic{Name: spec.name, TopicID: metadata.NewTopicID(), Configs: spec.configs}
	if _, exists := img.TopicByName(spec.name); exists {
		return rec, fmt.Errorf("%w: topic %q already exists", kerr.TopicAlreadyExists, spec.name)
	}
	if err := config.ValidateTopic(spec.configs); err != nil {
		return rec, fmt.Errorf("%w: %v", kerr.InvalidConfig, err)
	}
	brokers := img.Brokers()
	if len(spec.assignment) > 0 {
		return d.planManualAssignment(rec, spec, brokers)
	}
	brokers = img.UnfencedBrokers() // new replicas go to live brokers only, as Kafka places them
	partitions, rf := spec.partitions, spec.replicationFactor
	if partitions == -1 {
		partitions = int32(d.cfg.Broker.Int("num.partitions"))
	}
	if rf == -1 {
		rf = int16(d.cfg.Broker.Int("default.replication.factor"))
	}
	if partitions <= 0 {
		return rec, fmt.Errorf("%w: number of partitions must be positive, got %d", kerr.InvalidPartitions, partitions)
	}
	if rf <= 0 || int(rf) > len(brokers) {
		return rec, fmt.Errorf("%w: replication factor %d with %d available brokers", kerr.InvalidReplicationFactor, rf, len(brokers))
	}
	rec.Partitions = assignReplicas(brokers, 0, partitions, int(rf))
	return rec, nil
}

func (d *Dispatcher) planManualAssignment(rec metadata.CreateTopic, spec topicSpec, brokers []metadata.Broker) (metadata.CreateTopic, error) {
	if spec.partitions != -1 || spec.replicationFactor != -1 {
		return rec, fmt.Errorf("%w: both a replica assignment and partitions or replication factor were given", kerr.InvalidRequest)
	}
	for p := int32(0); p < int32(len(spec.assignment)); p++ {
		replicas, ok := spec.assignment[p]
		if !ok || len(replicas) == 0 {
			return rec, fmt.Errorf("%w: partitions must be numbered 0..%d", kerr.InvalidReplicaAssignment, len(spec.assignment)-1)
		}
		for _, id := range replicas {
			if !slices.ContainsFunc(brokers, func(b metadata.Broker) bool { return b.NodeID == id }) {
				return rec, fmt.Errorf("%w: unknown broker %d", kerr.InvalidReplicaAssignment, id)
			}
		}
		rec.Partitions = append(rec.Partitions, metadata.PartitionAssignment{
			Partition: p, Replicas: replicas, Leader: replicas[0], ISR: slices.Clone(replicas)})
	}
	return rec, nil
}

// topicErrorCode maps a topic creation error, treating name errors as Kafka does.
func topicErrorCode(err error) int16 {
	if errors.Is(err, metadata.ErrInvalidTopicName) {
		return kerr.InvalidTopicException.Code
	}
	return errorCode(err)
}
