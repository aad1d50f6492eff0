package api

// ListPartitionReassignments (key 46), v0.
//
// Behaviour (KIP-455, as Kafka's KRaft controller): needs DESCRIBE on CLUSTER, else
// CLUSTER_AUTHORIZATION_FAILED at the top level. Lists the partitions with a reassignment in
// progress: each with its replicas (target first, then those being removed) and its adding
// and removing replicas. A null topic list means every partition of every topic; with a
// list, only the named partitions, and topics or partitions that do not exist (or are not
// being reassigned) are left out without an error, as Kafka does. Topics are listed by name.
//
// Differs from Kafka: nothing known.

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/metadata"
)

func (d *Dispatcher) handleListPartitionReassignments(_ context.Context, r *request) {
	req := r.body.(*kmsg.ListPartitionReassignmentsRequest)
	resp := req.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	if !d.authorizedCluster(r, acl.OpDescribe) {
		err := newError(kerr.ClusterAuthorizationFailed, "%s", kerr.ClusterAuthorizationFailed.Message)
		resp.ErrorCode, resp.ErrorMessage = errorCode(err), errorMessage(err)
		r.respond(resp)
		return
	}
	img := d.cfg.Metadata.Image()
	if req.Topics == nil {
		for _, t := range img.Topics() {
			appendReassignments(resp, t, nil)
		}
	} else {
		for _, rt := range req.Topics {
			if t, ok := img.TopicByName(rt.Topic); ok {
				appendReassignments(resp, t, rt.Partitions)
			}
		}
	}
	r.respond(resp)
}

// appendReassignments adds t's partitions being reassigned (of only, when not nil) to resp.
func appendReassignments(resp *kmsg.ListPartitionReassignmentsResponse, t *metadata.Topic, only []int32) {
	rt := kmsg.NewListPartitionReassignmentsResponseTopic()
	rt.Topic = t.Name
	for _, p := range t.Partitions {
		if !p.Reassigning() || (only != nil && !slices.Contains(only, p.Partition)) {
			continue
		}
		rp := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
		rp.Partition = p.Partition
		rp.Replicas = slices.Clone(p.Replicas)
		rp.AddingReplicas = nonNil(p.AddingReplicas)
		rp.RemovingReplicas = nonNil(p.RemovingReplicas)
		rt.Partitions = append(rt.Partitions, rp)
	}
	if len(rt.Partitions) > 0 {
		resp.Topics = append(resp.Topics, rt)
	}
}

// nonNil returns s, or an empty list for nil: the fields are not nullable on the wire.
func nonNil(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	return slices.Clone(s)
}
