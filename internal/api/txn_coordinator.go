package api

// The transaction coordinator's side of the api package: creating __transaction_state
// (FindCoordinator key type 1 finds an id's coordinator in it, 10_find_coordinator.go),
// and the version rules the transaction APIs share. The handlers are 22, 24, 25, 26,
// 28, 65 and 66.

import (
	"context"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/nagare-dev/nagare/internal/metadata"
	"github.com/nagare-dev/nagare/internal/txn"
)

// transactionStateSegmentBytes is Kafka's transaction.state.log.segment.bytes default.
const transactionStateSegmentBytes = "104857600"

// ensureTransactionTopic returns __transaction_state, creating it as Kafka does
// (transaction.state.log.num.partitions, replication factor and min.isr, compacted),
// and has the coordinator start loading the partitions led here. The replication
// factor is capped at the registered brokers, as for __consumer_offsets, and min.isr
// at the replication factor, so a one-broker development cluster has transactions.
func (d *Dispatcher) ensureTransactionTopic(ctx context.Context) (*metadata.Topic, error) {
	return d.ensureInternalTopic(ctx, internalTopic{
		name:              txn.StateTopic,
		partitions:        "transaction.state.log.num.partitions",
		replicationFactor: "transaction.state.log.replication.factor",
		configs: func(rf int) map[string]string {
			return map[string]string{
				"cleanup.policy":                 "compact",
				"compression.type":               "uncompressed",
				"min.insync.replicas":            strconv.Itoa(min(d.cfg.Broker.Int("transaction.state.log.min.isr"), rf)),
				"segment.bytes":                  transactionStateSegmentBytes,
				"unclean.leader.election.enable": "false",
			}
		},
		coordinator: d.cfg.Transactions,
	})
}

// fencedCode is KIP-588's rule: versions before fencedVersion do not know
// PRODUCER_FENCED and get INVALID_PRODUCER_EPOCH, which they handle the same way.
func fencedCode(code int16, version, fencedVersion int16) int16 {
	if code == kerr.ProducerFenced.Code && version < fencedVersion {
		return kerr.InvalidProducerEpoch.Code
	}
	return code
}

// noTransactions is the error when the broker runs without a coordinator (tests that
// build a Dispatcher by hand).
var noTransactions = newError(kerr.CoordinatorNotAvailable, "this broker has no transaction coordinator")
