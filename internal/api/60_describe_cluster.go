package api

// DescribeCluster (key 60), v0-v2.
//
// Behaviour (KIP-700): the registered brokers, the quorum leader as controller (every
// controller is a broker here; Kafka names a random broker), and the cluster ID.
// The cluster's authorized operations are computed only when asked for, else INT32_MIN. v1
// adds the endpoint type (KIP-919): this is a broker endpoint, so 1 (brokers) is served, 2
// (controllers) is MISMATCHED_ENDPOINT_TYPE and any other UNSUPPORTED_ENDPOINT_TYPE, as a
// Kafka broker answers. v2 adds
// include_fenced_brokers (KIP-1073); no broker is ever fenced here, so it changes nothing.
//
// Differs from Kafka: with no authorizer yet, the authorized operations are every
// operation a cluster supports, as Kafka answers when no authorizer is configured. The
// controller is always this node (Kafka's brokers name a random live broker, KIP-590).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
)

// Endpoint types of DescribeCluster v1+ (KIP-919).
const (
	endpointBrokers     = 1
	endpointControllers = 2
)

// clusterOperations are the ACL operations Kafka defines on the CLUSTER resource (its
// AclEntry.supportedOperations), as a bit field of operation codes.
const clusterOperations = 1<<kmsg.ACLOperationCreate | 1<<kmsg.ACLOperationClusterAction |
	1<<kmsg.ACLOperationDescribeConfigs | 1<<kmsg.ACLOperationAlterConfigs |
	1<<kmsg.ACLOperationIdempotentWrite | 1<<kmsg.ACLOperationAlter | 1<<kmsg.ACLOperationDescribe

func (d *Dispatcher) handleDescribeCluster(_ context.Context, r *request) {
	req := r.body.(*kmsg.DescribeClusterRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.EndpointType = endpointBrokers
	resp.ClusterAuthorizedOperations = authorizedOperationsUnknown
	if err := endpointError(req.EndpointType); err != nil {
		resp.ErrorCode, resp.ErrorMessage = errorCode(err), errorMessage(err)
		r.respond(resp)
		return
	}
	resp.ClusterID = d.cfg.ClusterID
	resp.ControllerID = d.cfg.Metadata.ClientControllerID()      // the quorum leader when it is a broker, else a live broker
	for _, b := range d.cfg.Metadata.Image().UnfencedBrokers() { // fenced ones serve nothing
		rb := kmsg.NewDescribeClusterResponseBroker()
		rb.NodeID = b.NodeID
		rb.Host, rb.Port = d.brokerAddr(r.session, b)
		if b.Rack != "" {
			rb.Rack = ptr(b.Rack)
		}
		resp.Brokers = append(resp.Brokers, rb)
	}
	if req.IncludeClusterAuthorizedOperations {
		resp.ClusterAuthorizedOperations = clusterOperations
		if d.cfg.Authorizer != nil {
			resp.ClusterAuthorizedOperations = 0 // without DESCRIBE, none are told
			if d.authorizedCluster(r, acl.OpDescribe) {
				resp.ClusterAuthorizedOperations = d.authorizedOperations(r, acl.ResourceCluster, acl.ClusterName)
			}
		}
	}
	r.respond(resp)
}

// endpointError checks the endpoint type a v1+ request asks for against this broker
// endpoint. A v0 request carries none and reads as endpointBrokers.
func endpointError(endpoint int8) error {
	switch endpoint {
	case endpointBrokers:
		return nil
	case endpointControllers:
		return newError(kerr.MismatchedEndpointType,
			"The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER")
	}
	return newError(kerr.UnsupportedEndpointType, "Unsupported endpoint type %d", endpoint)
}
