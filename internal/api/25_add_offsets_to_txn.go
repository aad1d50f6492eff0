package api

// AddOffsetsToTxn (key 25), v0-v3.
//
// Behaviour: the group's __consumer_offsets partition (abs(javaStringHashCode(group)) %
// partitions) joins the producer's transaction, so the coordinator writes a marker
// there too and the offsets TxnOffsetCommit stages become visible with the commit.
// Checks, as KafkaApis: WRITE on the TRANSACTIONAL_ID
// (TRANSACTIONAL_ID_AUTHORIZATION_FAILED), READ on the group
// (GROUP_AUTHORIZATION_FAILED); then the coordinator's errors as AddPartitionsToTxn
// (PRODUCER_FENCED is INVALID_PRODUCER_EPOCH before v2, KIP-588). v3 is flexible.
//
// Differs from Kafka: v4 (transaction version 2) is not served.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/group"
	"github.com/nagare-dev/nagare/internal/txn"
)

func (d *Dispatcher) handleAddOffsetsToTxn(ctx context.Context, r *request) {
	req := r.body.(*kmsg.AddOffsetsToTxnRequest)
	resp := req.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	switch {
	case !d.authorized(r, acl.OpWrite, acl.ResourceTransactionalID, req.TransactionalID):
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
	case !d.authorizedGroup(r, acl.OpRead, req.Group):
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
	case d.cfg.Transactions == nil:
		resp.ErrorCode = errorCode(noTransactions)
	default:
		topic, err := d.ensureOffsetsTopic(ctx)
		if err != nil {
			resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
			break
		}
		tp := txn.TopicPartition{Topic: group.OffsetsTopic, Partition: group.PartitionFor(req.Group, len(topic.Partitions))}
		err = d.cfg.Transactions.AddPartitions(ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, []txn.TopicPartition{tp})
		resp.ErrorCode = fencedCode(errorCode(err), r.header.Version, 2)
	}
	r.respond(resp)
}
