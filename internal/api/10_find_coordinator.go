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
	fail := func(code *kerr.Error, msg string) kmsg.FindCoordinatorResponseCoordinator {
		c.ErrorCode, c.ErrorMessage = code.Code, ptr(msg)
		return c
	}
	switch keyType {
	case coordinatorGroup:
		if !d.authorizedGroup(r, acl.OpDescribe, key) {
			return fail(kerr.GroupAuthorizationFailed, kerr.GroupAuthorizationFailed.Message)
		}
	case coordinatorTransaction:
		if !d.authorized(r, acl.OpDescribe, acl.ResourceTransactionalID, key) {
			return fail(kerr.TransactionalIDAuthorizationFailed, kerr.TransactionalIDAuthorizationFailed.Message)
		}
		return d.transactionCoordinator(ctx, r, c)
	default:
		return fail(kerr.InvalidRequest, "unsupported coordinator type "+strconv.Itoa(int(keyType)))
	}
	topic, err := d.ensureOffsetsTopic(ctx)
	if err != nil {
		return fail(kerr.CoordinatorNotAvailable, err.Error())
	}
	a := topic.Partitions[group.PartitionFor(key, len(topic.Partitions))]
	b, ok := d.cfg.Metadata.Image().Broker(a.Leader)
	if a.Leader == metadata.NoLeader || !ok {
		return fail(kerr.CoordinatorNotAvailable, "the group's partition of "+group.OffsetsTopic+" has no leader")
	}
	c.NodeID = b.NodeID
	c.Host, c.Port = d.brokerAddr(r.session, b)
	return c
}

// offsetsTopicSegmentBytes is Kafka's offsets.topic.segment.bytes default.
const offsetsTopicSegmentBytes = "104857600"

// ensureOffsetsTopic returns __consumer_offsets, creating it if it does not exist yet,
// and has the group coordinator start loading the partitions led here.
func (d *Dispatcher) ensureOffsetsTopic(ctx context.Context) (*metadata.Topic, error) {
	if t, ok := d.cfg.Metadata.Image().TopicByName(group.OffsetsTopic); ok {
		return t, nil
	}
	want, brokers := d.cfg.Broker.Int("offsets.topic.replication.factor"), len(d.cfg.Metadata.Image().Brokers())
	rf := min(want, brokers)
	if rf < want {
		// Kafka refuses to create the topic until enough brokers have registered (its
		// clients see COORDINATOR_NOT_AVAILABLE); a development cluster of fewer brokers
		// would then have no groups at all.
		d.cfg.Logger.Warn("creating "+group.OffsetsTopic+" with fewer replicas than offsets.topic.replication.factor",
			"replication_factor", rf, "offsets.topic.replication.factor", want, "brokers", brokers)
	}
	spec := topicSpec{
		name:              group.OffsetsTopic,
		partitions:        int32(d.cfg.Broker.Int("offsets.topic.num.partitions")),
		replicationFactor: int16(max(rf, 1)),
		configs: map[string]string{
			"cleanup.policy":   "compact",
			"compression.type": "producer",
			"segment.bytes":    offsetsTopicSegmentBytes,
		},
	}
	if _, err := d.createTopic(ctx, spec, false); err != nil && !isCode(err, kerr.TopicAlreadyExists) && !errors.Is(err, metadata.ErrTopicExists) {
		return nil, err
	}
	img := d.cfg.Metadata.Image()
	d.cfg.Groups.ApplyMetadata(img)
	t, ok := img.TopicByName(group.OffsetsTopic)
	if !ok {
		return nil, errors.New("api: " + group.OffsetsTopic + " was not created")
	}
	return t, nil
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
