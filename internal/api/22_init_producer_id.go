package api

// InitProducerId (key 22), v0-v5.
//
// Behaviour: a producer without a transactional id gets a fresh producer id, never
// reused (ids come from blocks recorded in the metadata log), epoch 0. A producer that
// sends its current id and epoch (v3+, KIP-360) gets the epoch bumped, or a new id once
// the epoch is exhausted.
//
// Differs from Kafka: transactional ids are refused with INVALID_REQUEST until the
// transaction coordinator exists (the exactly-once issue).

import (
	"context"
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
)

func (d *Dispatcher) handleInitProducerID(ctx context.Context, r *request) {
	req := r.body.(*kmsg.InitProducerIDRequest)
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	switch {
	case req.TransactionalID != nil && !d.authorized(r, acl.OpWrite, acl.ResourceTransactionalID, *req.TransactionalID):
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
	case req.TransactionalID == nil && !d.authorizedIdempotentWrite(r):
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
	case req.TransactionalID != nil:
		resp.ErrorCode = kerr.InvalidRequest.Code
	case req.ProducerID >= 0 && req.ProducerEpoch >= 0 && req.ProducerEpoch < math.MaxInt16-1:
		resp.ProducerID, resp.ProducerEpoch = req.ProducerID, req.ProducerEpoch+1
	default:
		id, err := d.cfg.ProducerIDs.NextProducerID(ctx)
		if err != nil {
			d.cfg.Logger.Warn("allocating producer id", "err", err)
			resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
			break
		}
		resp.ProducerID, resp.ProducerEpoch = id, 0
	}
	r.respond(resp)
}
