package api

// The transaction coordinator's side of the api package: creating __transaction_state,
// finding a transactional id's coordinator, and the version rules the transaction APIs
// share. The handlers are 22, 24, 25, 26, 28, 65 and 66.

import (
	"context"
	"errors"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/metadata"
	"github.com/nagare-dev/nagare/internal/txn"
)

// transactionCoordinator answers FindCoordinator key type 1 for one transactional id:
// the leader of partition abs(javaStringHashCode(id)) % partitions of
// __transaction_state, created first if needed.
func (d *Dispatcher) transactionCoordinator(ctx context.Context, r *request, c kmsg.FindCoordinatorResponseCoordinator) kmsg.FindCoordinatorResponseCoordinator {
	fail := func(code *kerr.Error, msg string) kmsg.FindCoordinatorResponseCoordinator {
		c.ErrorCode, c.ErrorMessage = code.Code, ptr(msg)
		return c
	}
	if d.cfg.Transactions == nil {
		return fail(kerr.CoordinatorNotAvailable, "this broker has no transaction coordinator")
	}
	topic, err := d.ensureTransactionTopic(ctx)
	if err != nil {
		return fail(kerr.CoordinatorNotAvailable, err.Error())
	}
	a := topic.Partitions[txn.PartitionFor(c.Key, len(topic.Partitions))]
	b, ok := d.cfg.Metadata.Image().Broker(a.Leader)
	if a.Leader == metadata.NoLeader || !ok {
		return fail(kerr.CoordinatorNotAvailable, "the transactional id's partition of "+txn.StateTopic+" has no leader")
	}
	c.NodeID = b.NodeID
	c.Host, c.Port = d.brokerAddr(r.session, b)
	return c
}

// transactionStateSegmentBytes is Kafka's transaction.state.log.segment.bytes default.
const transactionStateSegmentBytes = "104857600"

// ensureTransactionTopic returns __transaction_state, creating it as Kafka does
// (transaction.state.log.num.partitions, replication factor and min.isr, compacted),
// and has the coordinator start loading the partitions led here. The replication
// factor is capped at the registered brokers, as for __consumer_offsets, and min.isr
// at the replication factor, so a one-broker development cluster has transactions.
func (d *Dispatcher) ensureTransactionTopic(ctx context.Context) (*metadata.Topic, error) {
	if t, ok := d.cfg.Metadata.Image().TopicByName(txn.StateTopic); ok {
		return t, nil
	}
	want, brokers := d.cfg.Broker.Int("transaction.state.log.replication.factor"), len(d.cfg.Metadata.Image().Brokers())
	rf := max(min(want, brokers), 1)
	if rf < want {
		d.cfg.Logger.Warn("creating "+txn.StateTopic+" with fewer replicas than transaction.state.log.replication.factor",
			"replication_factor", rf, "transaction.state.log.replication.factor", want, "brokers", brokers)
	}
	minISR := min(d.cfg.Broker.Int("transaction.state.log.min.isr"), rf)
	spec := topicSpec{
		name:              txn.StateTopic,
		partitions:        int32(d.cfg.Broker.Int("transaction.state.log.num.partitions")),
		replicationFactor: int16(rf),
		configs: map[string]string{
			"cleanup.policy":                 "compact",
			"compression.type":               "uncompressed",
			"min.insync.replicas":            strconv.Itoa(minISR),
			"segment.bytes":                  transactionStateSegmentBytes,
			"unclean.leader.election.enable": "false",
		},
	}
	if _, err := d.createTopic(ctx, spec, false); err != nil && !isCode(err, kerr.TopicAlreadyExists) && !errors.Is(err, metadata.ErrTopicExists) {
		return nil, err
	}
	img := d.cfg.Metadata.Image()
	d.cfg.Transactions.ApplyMetadata(img)
	t, ok := img.TopicByName(txn.StateTopic)
	if !ok {
		return nil, errors.New("api: " + txn.StateTopic + " was not created")
	}
	return t, nil
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
