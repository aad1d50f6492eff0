package api

// ListTransactions (key 66), v0-v2.
//
// Behaviour: the transactional ids this broker coordinates (every loaded
// __transaction_state partition it leads), filtered by state names (names Kafka does
// not know are returned in UnknownStateFilters and ignored, as Kafka does), producer
// ids, v1's duration (ongoing transactions running at least that long, KIP-994) and
// v2's transactional id regular expression (INVALID_REGULAR_EXPRESSION when it does
// not compile). Ids the caller may not DESCRIBE are left out. While a partition is
// still loading the answer is COORDINATOR_LOAD_IN_PROGRESS with no ids. Flexible.
//
// Differs from Kafka: the pattern is compiled by Go's regexp (RE2), not Java's, so
// look-arounds and back-references are refused.

import (
	"context"
	"regexp"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/txn"
)

func (d *Dispatcher) handleListTransactions(_ context.Context, r *request) {
	req := r.body.(*kmsg.ListTransactionsRequest)
	resp := req.ResponseKind().(*kmsg.ListTransactionsResponse)
	if d.cfg.Transactions == nil {
		r.respond(resp) // no coordinator: no transactions
		return
	}
	f := txn.ListFilter{ProducerIDs: req.ProducerIDFilters,
		Allowed: func(id string) bool { return d.authorized(r, acl.OpDescribe, acl.ResourceTransactionalID, id) }}
	for _, name := range req.StateFilters {
		if s, ok := txn.ParseState(name); ok {
			f.States = append(f.States, s)
		} else {
			resp.UnknownStateFilters = append(resp.UnknownStateFilters, name)
		}
	}
	if r.header.Version >= 1 && req.DurationFilterMillis > 0 {
		f.MinDuration = time.Duration(req.DurationFilterMillis) * time.Millisecond
	}
	if r.header.Version >= 2 && req.TransactionalIDPattern != nil && *req.TransactionalIDPattern != "" {
		re, err := regexp.Compile(*req.TransactionalIDPattern)
		if err != nil {
			resp.ErrorCode = kerr.InvalidRegularExpression.Code
			r.respond(resp)
			return
		}
		f.Pattern = re
	}
	list, loading := d.cfg.Transactions.List(f)
	if loading {
		resp.ErrorCode = kerr.CoordinatorLoadInProgress.Code
		r.respond(resp)
		return
	}
	for _, desc := range list {
		st := kmsg.NewListTransactionsResponseTransactionState()
		st.TransactionalID, st.ProducerID, st.TransactionState = desc.TransactionalID, desc.ProducerID, desc.State.String()
		resp.TransactionStates = append(resp.TransactionStates, st)
	}
	r.respond(resp)
}
