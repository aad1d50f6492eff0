package api

// What the share coordinator APIs (83-86) share: the CLUSTER_ACTION check, the key of
// a request partition, and the mapping of the coordinator's errors to Kafka codes.

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/share"
)

// shareStateCheck is what every share coordinator API checks first: CLUSTER_ACTION
// (only brokers call them) and a coordinator on this broker.
func (d *Dispatcher) shareStateCheck(r *request) int16 {
	if !d.authorizedCluster(r, acl.OpClusterAction) {
		return kerr.ClusterAuthorizationFailed.Code
	}
	r.exemptFromQuota() // a broker's share state: not a client's work (quota.go)
	if d.cfg.Shares == nil || d.cfg.Shares.Coordinator() == nil {
		return kerr.CoordinatorNotAvailable.Code
	}
	return 0
}

// shareStateCode maps the coordinator's errors: a state partition led elsewhere or
// not there yet is NOT_COORDINATOR (the caller looks up the leader again), fencing is
// FENCED_LEADER_EPOCH.
func shareStateCode(err error) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, share.ErrFencedLeaderEpoch):
		return kerr.FencedLeaderEpoch.Code
	case errors.Is(err, share.ErrFencedStateEpoch):
		return kerr.FencedStateEpoch.Code
	case errors.Is(err, share.ErrInvalidRequest):
		return kerr.InvalidRequest.Code
	case errors.Is(err, share.ErrStateUnavailable):
		return kerr.NotCoordinator.Code
	}
	return errorCode(err)
}
