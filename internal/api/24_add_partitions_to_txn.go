package api

// AddPartitionsToTxn (key 24), v0-v4.
//
// Behaviour: the transaction coordinator adds the partitions to the producer's
// transaction (starting it if none is ongoing), writing the new state to
// __transaction_state before answering. Checks, as KafkaApis: WRITE on the
// TRANSACTIONAL_ID (TRANSACTIONAL_ID_AUTHORIZATION_FAILED on every partition), WRITE on
// each topic (TOPIC_AUTHORIZATION_FAILED), unknown topics or partitions
// (UNKNOWN_TOPIC_OR_PARTITION); one failed partition fails the transaction's request,
// the others answering OPERATION_NOT_ATTEMPTED. Coordinator errors (NOT_COORDINATOR,
// CONCURRENT_TRANSACTIONS, INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED, or
// INVALID_PRODUCER_EPOCH before v2 per KIP-588, INVALID_TXN_STATE) answer every
// partition. v3 is flexible. v4 (KIP-890) batches transactions and adds verifyOnly, the
// partition leaders' check that a partition is in the transaction; it is broker to
// broker and needs CLUSTER_ACTION (CLUSTER_AUTHORIZATION_FAILED at the top otherwise).
//
// Differs from Kafka: v5 (transaction version 2, where produce adds partitions
// implicitly) is not served; the transaction.version feature stays at 0.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/txn"
)

func (d *Dispatcher) handleAddPartitionsToTxn(ctx context.Context, r *request) {
	req := r.body.(*kmsg.AddPartitionsToTxnRequest)
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	v := r.header.Version
	if v < 4 {
		t := kmsg.NewAddPartitionsToTxnRequestTransaction()
		t.TransactionalID, t.ProducerID, t.ProducerEpoch = req.TransactionalID, req.ProducerID, req.ProducerEpoch
		for _, rt := range req.Topics {
			t.Topics = append(t.Topics, kmsg.AddPartitionsToTxnRequestTransactionTopic{Topic: rt.Topic, Partitions: rt.Partitions})
		}
		res := d.addPartitionsToTxn(ctx, r, t, false)
		for _, rt := range res.Topics {
			ot := kmsg.NewAddPartitionsToTxnResponseTopic()
			ot.Topic = rt.Topic
			for _, p := range rt.Partitions {
				ot.Partitions = append(ot.Partitions, kmsg.AddPartitionsToTxnResponseTopicPartition{Partition: p.Partition, ErrorCode: p.ErrorCode})
			}
			resp.Topics = append(resp.Topics, ot)
		}
		r.respond(resp)
		return
	}
	if !d.authorizedCluster(r, acl.OpClusterAction) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		r.respond(resp)
		return
	}
	for _, t := range req.Transactions {
		resp.Transactions = append(resp.Transactions, d.addPartitionsToTxn(ctx, r, t, true))
	}
	r.respond(resp)
}

// addPartitionsToTxn handles one transaction of the request; brokerSide is v4+, where
// the caller was authorized as a broker and verifyOnly applies.
func (d *Dispatcher) addPartitionsToTxn(ctx context.Context, r *request, t kmsg.AddPartitionsToTxnRequestTransaction, brokerSide bool) kmsg.AddPartitionsToTxnResponseTransaction {
	res := kmsg.NewAddPartitionsToTxnResponseTransaction()
	res.TransactionalID = t.TransactionalID
	codes := make([][]int16, len(t.Topics))
	var parts []txn.TopicPartition
	failed := false
	img := d.cfg.Metadata.Image()
	txnDenied := !brokerSide && !d.authorized(r, acl.OpWrite, acl.ResourceTransactionalID, t.TransactionalID)
	for i, rt := range t.Topics {
		codes[i] = make([]int16, len(rt.Partitions))
		topic, exists := img.TopicByName(rt.Topic)
		topicDenied := !txnDenied && !d.authorizedTopic(r, acl.OpWrite, rt.Topic)
		for j, p := range rt.Partitions {
			switch {
			case txnDenied:
				codes[i][j] = kerr.TransactionalIDAuthorizationFailed.Code
			case topicDenied:
				codes[i][j] = kerr.TopicAuthorizationFailed.Code
			case !exists || p < 0 || int(p) >= len(topic.Partitions):
				codes[i][j] = kerr.UnknownTopicOrPartition.Code
			default:
				parts = append(parts, txn.TopicPartition{Topic: rt.Topic, Partition: p})
				continue
			}
			failed = true
		}
	}
	switch {
	case failed:
		fillCodes(codes, kerr.OperationNotAttempted.Code)
	case d.cfg.Transactions == nil:
		fillCodes(codes, errorCode(noTransactions))
	case brokerSide && t.VerifyOnly:
		errs, err := d.cfg.Transactions.VerifyPartitions(ctx, t.TransactionalID, t.ProducerID, t.ProducerEpoch, parts)
		if err != nil {
			fillCodes(codes, errorCode(err))
			break
		}
		n := 0
		for i := range codes {
			for j := range codes[i] {
				codes[i][j] = errorCode(errs[n])
				n++
			}
		}
	default:
		err := d.cfg.Transactions.AddPartitions(ctx, t.TransactionalID, t.ProducerID, t.ProducerEpoch, parts)
		fillCodes(codes, fencedCode(errorCode(err), r.header.Version, 2))
	}
	for i, rt := range t.Topics {
		ot := kmsg.NewAddPartitionsToTxnResponseTransactionTopic()
		ot.Topic = rt.Topic
		for j, p := range rt.Partitions {
			ot.Partitions = append(ot.Partitions, kmsg.AddPartitionsToTxnResponseTransactionTopicPartition{Partition: p, ErrorCode: codes[i][j]})
		}
		res.Topics = append(res.Topics, ot)
	}
	return res
}

// fillCodes sets every code not yet set.
func fillCodes(codes [][]int16, code int16) {
	for i := range codes {
		for j := range codes[i] {
			if codes[i][j] == 0 {
				codes[i][j] = code
			}
		}
	}
}
