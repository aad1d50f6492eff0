package api

// AlterPartitionReassignments (key 45), v0.
//
// Behaviour (KIP-455, as Kafka's KRaft controller): needs ALTER on CLUSTER, else the whole
// request fails with CLUSTER_AUTHORIZATION_FAILED (top level and every partition). Each
// partition with a replica list starts (or replaces) a reassignment: replicas become the
// target followed by the current replicas not in it, the target's new replicas are
// recorded as adding and the replicas left out as removing (a ChangePartition record). The
// new replicas fetch from the leader and join the ISR when caught up; the controller then
// completes the reassignment (internal/controller/reassign.go): replicas = target, ISR cut
// to it, a new leader from the target if the old one is removed. A target already in the
// ISR (a replica dropped, the same replicas reordered) completes at once; the current
// replicas unchanged with nothing in progress is a no-op. A null replica list cancels the
// partition's reassignment: replicas and ISR revert to the original replicas (current
// minus adding). Errors per partition: UNKNOWN_TOPIC_OR_PARTITION; INVALID_REPLICA_ASSIGNMENT
// for an empty list, a broker named twice, a broker not registered or fenced, or a cancel
// that would need an unclean election; NO_REASSIGNMENT_IN_PROGRESS for a cancel with none.
//
// Differs from Kafka: timeout_ms is not waited on: the reassignment is recorded when the
// response leaves (so is Kafka's), and a partition named twice is handled twice, in order.
// v1 (KIP-860, allow_replication_factor_change) is not served.

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/metadata"
)

// reassignAttempts bounds how often one partition's change is recomputed when a concurrent
// change (an ISR expansion, an election) moved its partition epoch first.
const reassignAttempts = 5

func (d *Dispatcher) handleAlterPartitionReassignments(ctx context.Context, r *request) {
	req := r.body.(*kmsg.AlterPartitionAssignmentsRequest)
	resp := req.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	imgs := d.newAdminImages() // one catch-up with the quorum at most, for all its topics
	var denied error
	if !d.authorizedCluster(r, acl.OpAlter) {
		denied = newError(kerr.ClusterAuthorizationFailed, "%s", kerr.ClusterAuthorizationFailed.Message)
		resp.ErrorCode, resp.ErrorMessage = errorCode(denied), errorMessage(denied)
	}
	for _, t := range req.Topics {
		rt := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			rp.Partition = p.Partition
			err := denied
			if err == nil {
				err = d.reassignPartition(ctx, imgs, t.Topic, p.Partition, p.Replicas)
			}
			if err != nil {
				rp.ErrorCode, rp.ErrorMessage = errorCode(err), errorMessage(err)
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	r.respond(resp)
}

// reassignPartition records one partition's reassignment (target non-nil) or its
// cancellation, recomputing it from a fresh image when the partition changed meanwhile.
func (d *Dispatcher) reassignPartition(ctx context.Context, imgs *adminImages, topic string, partition int32, target []int32) error {
	if target != nil {
		if err := checkManualReplicas(d.cfg.Metadata.Image().UnfencedBrokers(), target, len(target)); err != nil {
			return err
		}
	}
	var err error
	for attempt := 0; attempt < reassignAttempts; attempt++ {
		if attempt > 0 {
			if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
				return err
			}
		}
		var change metadata.ChangePartition
		var ok bool
		change, ok, err = reassignmentChange(imgs.byName(ctx, topic), topic, partition, target)
		if err != nil || !ok {
			return err
		}
		if _, err = d.cfg.Metadata.Propose(ctx, change); !errors.Is(err, metadata.ErrInvalidPartitionChange) {
			return err
		}
	}
	return err
}

// reassignmentChange computes the record for one partition from img, and false when there
// is nothing to record.
func reassignmentChange(img *metadata.Image, topic string, partition int32, target []int32) (metadata.ChangePartition, bool, error) {
	t, ok := img.TopicByName(topic)
	if !ok {
		return metadata.ChangePartition{}, false, newError(kerr.UnknownTopicOrPartition, "Unable to find topic %s", topic)
	}
	p, ok := t.Partition(partition)
	if !ok {
		return metadata.ChangePartition{}, false, newError(kerr.UnknownTopicOrPartition, "Unable to find partition %s:%d.", topic, partition)
	}
	electable := func(id int32) bool {
		b, ok := img.Broker(id)
		return ok && !b.Fenced
	}
	var change metadata.ChangePartition
	if target == nil {
		var err error
		if change, err = metadata.CancelReassignment(p, electable); err != nil {
			return change, false, reassignmentError(err, topic, partition)
		}
	} else if change, ok = metadata.StartReassignment(p, target, electable); !ok {
		return change, false, nil
	}
	change.TopicID = t.ID
	return change, true, nil
}

// reassignmentError is Kafka's answer for a cancellation that cannot be done.
func reassignmentError(err error, topic string, partition int32) error {
	switch {
	case errors.Is(err, metadata.ErrNoReassignmentInProgress):
		return newError(kerr.NoReassignmentInProgress, "Unable to cancel reassignment of %s-%d: no reassignment is in progress.", topic, partition)
	case errors.Is(err, metadata.ErrReassignmentNeedsUnclean):
		return newError(kerr.InvalidReplicaAssignment,
			"Unable to revert partition assignment for %s-%d because it would require an unclean leader election.", topic, partition)
	}
	return err
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
