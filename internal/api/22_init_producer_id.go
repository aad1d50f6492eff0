package api

// InitProducerId (key 22), v0-v5.
//
// Behaviour: a producer without a transactional id gets a fresh producer id, never
// reused (ids come from blocks recorded in the metadata log), epoch 0. A producer that
// sends its current id and epoch (v3+, KIP-360) gets the epoch bumped, or a new id once
// the epoch is exhausted.
//
// With a transactional id the transaction coordinator answers (internal/txn): the id
// keeps its producer id and gets the epoch bumped, which fences older producers; an
// ongoing transaction of the old epoch is aborted first (CONCURRENT_TRANSACTIONS, the
// client retries); KIP-360 recovery checks the given id and epoch (PRODUCER_FENCED, or
// INVALID_PRODUCER_EPOCH before v4, KIP-588); a new producer id once the epoch is
// exhausted; a timeout above transaction.max.timeout.ms is INVALID_TRANSACTION_TIMEOUT.
// The request must reach the id's coordinator (NOT_COORDINATOR otherwise).
//
// Differs from Kafka: nothing known.

import (
	"context"
	"math"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/txn"
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
		d.initTransactionalProducerID(ctx, r, req, resp)
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

// initTransactionalProducerID serves InitProducerId for a transactional id.
func (d *Dispatcher) initTransactionalProducerID(ctx context.Context, r *request, req *kmsg.InitProducerIDRequest, resp *kmsg.InitProducerIDResponse) {
	if d.cfg.Transactions == nil {
		resp.ErrorCode = errorCode(noTransactions)
		return
	}
	pe, err := d.cfg.Transactions.InitProducerID(ctx, txn.InitRequest{TransactionalID: *req.TransactionalID,
		Timeout:    time.Duration(req.TransactionTimeoutMillis) * time.Millisecond,
		ProducerID: req.ProducerID, ProducerEpoch: req.ProducerEpoch})
	if err != nil {
		resp.ErrorCode = fencedCode(errorCode(err), r.header.Version, 4)
		return
	}
	resp.ProducerID, resp.ProducerEpoch = pe.ID, pe.Epoch
}
