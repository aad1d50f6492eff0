package api

// EndTxn (key 26), v0-v4.
//
// Behaviour: commit or abort the producer's transaction. The coordinator writes
// PrepareCommit or PrepareAbort to __transaction_state and answers; it then sends
// WriteTxnMarkers to the leader of every partition in the transaction and writes
// CompleteCommit or CompleteAbort when all have their marker. Until then the id's
// requests answer CONCURRENT_TRANSACTIONS. A retried EndTxn of a transaction already
// completed the same way succeeds; the other way is INVALID_TXN_STATE, as is EndTxn
// with no transaction. WRITE on the TRANSACTIONAL_ID
// (TRANSACTIONAL_ID_AUTHORIZATION_FAILED). PRODUCER_FENCED is INVALID_PRODUCER_EPOCH
// before v2 (KIP-588). v3 is flexible; v4 only allows the new error
// TRANSACTION_ABORTABLE, which Nagare does not return.
//
// Differs from Kafka: v5 (transaction version 2, an epoch bump per transaction) is not
// served.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
)

func (d *Dispatcher) handleEndTxn(ctx context.Context, r *request) {
	req := r.body.(*kmsg.EndTxnRequest)
	resp := req.ResponseKind().(*kmsg.EndTxnResponse)
	switch {
	case !d.authorized(r, acl.OpWrite, acl.ResourceTransactionalID, req.TransactionalID):
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
	case d.cfg.Transactions == nil:
		resp.ErrorCode = errorCode(noTransactions)
	default:
		err := d.cfg.Transactions.EndTxn(ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit)
		resp.ErrorCode = fencedCode(errorCode(err), r.header.Version, 2)
	}
	r.respond(resp)
}
