package api

// DescribeTransactions (key 65), v0.
//
// Behaviour: each transactional id's state, timeout, start time, producer id and
// epoch and partitions, from its coordinator (this broker must lead the id's
// __transaction_state partition: NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS,
// TRANSACTIONAL_ID_NOT_FOUND otherwise). DESCRIBE on the TRANSACTIONAL_ID
// (TRANSACTIONAL_ID_AUTHORIZATION_FAILED); topics the caller may not DESCRIBE are left
// out of the partitions, as Kafka does. Flexible.
//
// Differs from Kafka: nothing known.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
)

func (d *Dispatcher) handleDescribeTransactions(_ context.Context, r *request) {
	req := r.body.(*kmsg.DescribeTransactionsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeTransactionsResponse)
	for _, id := range req.TransactionalIDs {
		st := kmsg.NewDescribeTransactionsResponseTransactionState()
		st.TransactionalID, st.ProducerID, st.ProducerEpoch, st.StartTimestamp = id, -1, -1, -1
		switch {
		case !d.authorized(r, acl.OpDescribe, acl.ResourceTransactionalID, id):
			st.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		case d.cfg.Transactions == nil:
			st.ErrorCode = errorCode(noTransactions)
		default:
			desc, err := d.cfg.Transactions.Describe(id)
			if err != nil {
				st.ErrorCode = errorCode(err)
				break
			}
			st.State, st.TimeoutMillis = desc.State.String(), int32(desc.Timeout.Milliseconds())
			st.ProducerID, st.ProducerEpoch = desc.ProducerID, desc.ProducerEpoch
			if !desc.StartTime.IsZero() {
				st.StartTimestamp = desc.StartTime.UnixMilli()
			}
			for _, tp := range desc.Partitions {
				if n := len(st.Topics); n > 0 && st.Topics[n-1].Topic == tp.Topic {
					st.Topics[n-1].Partitions = append(st.Topics[n-1].Partitions, tp.Partition)
					continue
				}
				if !d.authorizedTopic(r, acl.OpDescribe, tp.Topic) {
					continue
				}
				t := kmsg.NewDescribeTransactionsResponseTransactionStateTopic()
				t.Topic, t.Partitions = tp.Topic, []int32{tp.Partition}
				st.Topics = append(st.Topics, t)
			}
		}
		resp.TransactionStates = append(resp.TransactionStates, st)
	}
	r.respond(resp)
}
