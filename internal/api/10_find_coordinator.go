package api

// FindCoordinator (key 10), v0-v6.
//
// Behaviour: key type 0 (group) answers the broker that leads the group's
// __consumer_offsets partition, abs(javaStringHashCode(group)) % partitions as in Kafka.
// The first FindCoordinator (or OffsetCommit) creates __consumer_offsets the way Kafka
// does: offsets.topic.num.partitions partitions, replication factor
// min(offsets.topic.replication.factor, registered brokers), cleanup.policy=compact,
// segment.bytes 100 MiB. v1 adds the key type and error message, v3 is flexible, v4
// batches keys (KIP-699), v6 adds share groups (KIP-932).
//
// Differs from Kafka: with fewer registered brokers than offsets.topic.replication.factor
// the topic is created with one replica per broker (logged), where Kafka refuses to create
// it and groups wait. Key type 1 (transactions, DESCRIBE on the TRANSACTIONAL_ID) names
// the leader of the id's __transaction_state partition, created the same way
// (txn_coordinator.go); type 2 (share groups) and unknown types are INVALID_REQUEST.
// Kafka answers COORDINATOR_NOT_AVAILABLE while it creates the topic; Nagare creates it
// before answering, so the first answer already names the coordinator (whose partition
// may still be loading: COORDINATOR_LOAD_IN_PROGRESS on the group request, retried).

import (
	"context"
	"errors"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/coordinator"
	"github.com/nagare-dev/nagare/internal/group"
	"github.com/nagare-dev/nagare/internal/metadata"
)

const (
	coordinatorGroup       = 0
	coordinatorTransaction = 1
)

func (d *Dispatcher) handleFindCoordinator(ctx context.Context, r *request) {
	req := r.body.(*kmsg.FindCoordinatorRequest)
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	keys := req.CoordinatorKeys
	if r.header.Version < 4 {
		keys = []string{req.CoordinatorKey}
	}
	for _, key := range keys {
		resp.Coordinators = append(resp.Coordinators, d.findCoordinator(ctx, r, key, req.CoordinatorType))
	}
	if r.header.Version < 4 {
		c := resp.Coordinators[0]
		resp.Coordinators = nil
		resp.ErrorCode, resp.ErrorMessage, resp.NodeID, resp.Host, resp.Port = c.ErrorCode, c.ErrorMessage, c.NodeID, c.Host, c.Port
	}
	r.respond(resp)
}

func (d *Dispatcher) findCoordinator(ctx context.Context, r *request, key string, keyType int8) kmsg.FindCoordinatorResponseCoordinator {
	c := kmsg.NewFindCoordinatorResponseCoordinator()
	c.Key, c.NodeID = key, -1
	switch keyType {
	case coordinatorGroup:
		if !d.authorizedGroup(r, acl.OpDescribe, key) {
			return coordinatorError(c, kerr.GroupAuthorizationFailed, kerr.GroupAuthorizationFailed.Message)
		}
		return d.coordinatorFor(ctx, r, c, d.ensureOffsetsTopic, "the group's")
	case coordinatorTransaction:
		if !d.authorized(r, acl.OpDescribe, acl.ResourceTransactionalID, key) {
			return coordinatorError(c, kerr.TransactionalIDAuthorizationFailed, kerr.TransactionalIDAuthorizationFailed.Message)
		}
		if d.cfg.Transactions == nil {
			return coordinatorError(c, kerr.CoordinatorNotAvailable, "this broker has no transaction coordinator")
		}
		return d.coordinatorFor(ctx, r, c, d.ensureTransactionTopic, "the transactional id's")
	default:
		return coordinatorError(c, kerr.InvalidRequest, "unsupported coordinator type "+strconv.Itoa(int(keyType)))
	}
}

// coordinatorFor answers for c.Key with the broker that leads the key's partition of
// an internal topic, abs(javaStringHashCode(key)) % partitions as in Kafka, after
// ensure has created the topic if it did not exist. whose names the key in errors.
func (d *Dispatcher) coordinatorFor(ctx context.Context, r *request, c kmsg.FindCoordinatorResponseCoordinator,
	ensure func(context.Context) (*metadata.Topic, error), whose string) kmsg.FindCoordinatorResponseCoordinator {
	topic, err := ensure(ctx)
	if err != nil {
		return coordinatorError(c, kerr.CoordinatorNotAvailable, err.Error())
	}
	a := topic.Partitions[coordinator.PartitionFor(c.Key, len(topic.Partitions))]
	b, ok := d.cfg.Metadata.Image().Broker(a.Leader)
	if a.Leader == metadata.NoLeader || !ok {
		return coordinatorError(c, kerr.CoordinatorNotAvailable, whose+" partition of "+topic.Name+" has no leader")
	}
	c.NodeID = b.NodeID
	c.Host, c.Port = d.brokerAddr(r.session, b)
	return c
}

// coordinatorError is c answered with an error.
func coordinatorError(c kmsg.FindCoordinatorResponseCoordinator, code *kerr.Error, msg string) kmsg.FindCoordinatorResponseCoordinator {
	c.ErrorCode, c.ErrorMessage = code.Code, ptr(msg)
	return c
}

// offsetsTopicSegmentBytes is Kafka's offsets.topic.segment.bytes default.
const offsetsTopicSegmentBytes = "104857600"

// ensureOffsetsTopic returns __consumer_offsets, creating it if it does not exist yet,
// and has the group coordinator start loading the partitions led here.
func (d *Dispatcher) ensureOffsetsTopic(ctx context.Context) (*metadata.Topic, error) {
	return d.ensureInternalTopic(ctx, internalTopic{
		name:              group.OffsetsTopic,
		partitions:        "offsets.topic.num.partitions",
		replicationFactor: "offsets.topic.replication.factor",
		configs: func(int) map[string]string {
			return map[string]string{
				"cleanup.policy":   "compact",
				"compression.type": "producer",
				"segment.bytes":    offsetsTopicSegmentBytes,
			}
		},
		coordinator: d.cfg.Groups,
	})
}

// internalTopic is how a coordinator's internal topic is created on first use: its
// partition count and replication factor come from the broker configs named here.
type internalTopic struct {
	name              string
	partitions        string // the config holding its partition count
	replicationFactor string // the config holding its replication factor
	// configs are its topic configs, given the replication factor it gets.
	configs func(replicationFactor int) map[string]string
	// coordinator loads the partitions led here once the topic exists.
	coordinator interface{ ApplyMetadata(*metadata.Image) }
}

// ensureInternalTopic returns t's topic, creating it if it does not exist yet, and has
// its coordinator start loading the partitions led here. The replication factor is
// capped at the registered brokers (logged): Kafka refuses to create the topic until
// enough brokers have registered (its clients see COORDINATOR_NOT_AVAILABLE), and a
// development cluster of fewer brokers would then have no groups or transactions.
func (d *Dispatcher) ensureInternalTopic(ctx context.Context, t internalTopic) (*metadata.Topic, error) {
	if topic, ok := d.cfg.Metadata.Image().TopicByName(t.name); ok {
		return topic, nil
	}
	want, brokers := d.cfg.Broker.Int(t.replicationFactor), len(d.cfg.Metadata.Image().Brokers())
	rf := max(min(want, brokers), 1)
	if rf < want {
		d.cfg.Logger.Warn("creating "+t.name+" with fewer replicas than "+t.replicationFactor,
			"replication_factor", rf, t.replicationFactor, want, "brokers", brokers)
	}
	spec := topicSpec{
		name:              t.name,
		partitions:        int32(d.cfg.Broker.Int(t.partitions)),
		replicationFactor: int16(rf),
		configs:           t.configs(rf),
	}
	if _, err := d.createTopic(ctx, spec, false); err != nil && !isCode(err, kerr.TopicAlreadyExists) && !errors.Is(err, metadata.ErrTopicExists) {
		return nil, err
	}
	img := d.cfg.Metadata.Image()
	t.coordinator.ApplyMetadata(img)
	topic, ok := img.TopicByName(t.name)
	if !ok {
		return nil, errors.New("api: " + t.name + " was not created")
	}
	return topic, nil
}

// clientHost is the client's address as Kafka reports it in group descriptions
// ("/127.0.0.1": Java's InetAddress.toString).
func clientHost(s *Session) string {
	host, _, err := net.SplitHostPort(s.RemoteAddr)
	if err != nil {
		host = s.RemoteAddr
	}
	return "/" + host
}

// awaitGroup arranges for a request the coordinator answers later (JoinGroup,
// SyncGroup) not to hold its connection's writer forever: if the connection closes
// first, the reply completes with nothing to send. It returns the function that the
// coordinator's callback calls first, to drop that arrangement.
func awaitGroup(ctx context.Context, r *request) (stop func() bool) {
	return context.AfterFunc(ctx, r.reply.NoResponse)
}
