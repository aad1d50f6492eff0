package api

// What ShareFetch (78) and ShareAcknowledge (79) share: request checks, the order of a
// connection's share work off its reader, applying one partition's acknowledgements,
// releasing a closed session, the state topic, and the mapping of internal/share's
// errors to Kafka codes.

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/metadata"
	"github.com/nagare-dev/nagare/internal/share"
)

func (d *Dispatcher) shareLockDuration() time.Duration {
	if d.cfg.Shares == nil {
		return 0
	}
	return d.cfg.Shares.LockDuration()
}

// shareRequestCheck is what both APIs check first: READ on the group, a member id of 1
// to 36 characters, share groups served here, the group not of another kind, and
// __share_group_state existing.
func (d *Dispatcher) shareRequestCheck(ctx context.Context, r *request, groupID, member string) int16 {
	switch {
	case !d.authorizedGroup(r, acl.OpRead, groupID):
		return kerr.GroupAuthorizationFailed.Code
	case member == "" || len(member) > 36:
		return kerr.InvalidRequest.Code
	case d.cfg.Shares == nil:
		return kerr.UnsupportedVersion.Code
	}
	if isShare, exists := d.cfg.Groups.IsShareGroup(groupID); exists && !isShare {
		return kerr.GroupIDNotFound.Code
	}
	if _, err := d.ensureShareStateTopic(ctx); err != nil {
		d.cfg.Logger.Warn("creating "+share.StateTopic, "err", err)
		return kerr.CoordinatorNotAvailable.Code
	}
	return 0
}

// shareOrder runs a connection's share work off its reader, each request's after the
// one before it has answered, and lets the reader go on to the next request at once.
// Acknowledging persists share state with acks=all, which may wait up to the state
// store's write timeout for a slow replica (Kafka makes it a delayed operation); on
// the reader it would stop every later request of the connection. The order is
// Kafka's: its broker reads nothing more from a connection until the response is
// sent, so a member's acknowledgements, releases and acquisitions apply in the order
// sent (an accept is not lost to a later session close releasing the record, and a
// fetch still long-polling or warming its reads acquires nothing after the member's
// next request closed its session). Other APIs are not held: replies still leave in
// request order, which the server's writer sees to. The zero value is ready; only the
// connection's reader calls its methods.
type shareOrder struct {
	last <-chan struct{} // the reply of the share request queued last; nil: none
}

// idle reports whether the last share request has answered, so new work may run in
// place.
func (o *shareOrder) idle() bool {
	if o.last == nil {
		return true
	}
	select {
	case <-o.last:
		o.last = nil
		return true
	default:
		return false
	}
}

// hold makes later share work wait for r's reply; for a request served in place.
func (o *shareOrder) hold(r *request) { o.last = r.reply.Done() }

// run starts r's work on its own goroutine once the share request before it has
// answered. Work queued behind a connection that is closing is not started (nothing it
// answers would be sent; acknowledgements it would apply are the client's to retry, as
// Kafka's broker never reads them).
func (o *shareOrder) run(ctx context.Context, d *Dispatcher, r *request, work func()) {
	prev := o.last
	o.hold(r)
	go func() {
		defer d.guard(r)
		if prev != nil {
			select {
			case <-prev:
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			r.reply.CloseConnection()
			return
		}
		work()
	}()
}

// shareAcknowledge applies one partition's acknowledgements (READ on the topic needed).
func (d *Dispatcher) shareAcknowledge(ctx context.Context, r *request, img *metadata.Image, groupID, member string, topicID [16]byte, index int32, batches []share.AckBatch) error {
	topic, ok := img.TopicByID(topicID)
	if !ok {
		return kerr.UnknownTopicID
	}
	if !d.authorizedTopic(r, acl.OpRead, topic.Name) {
		return kerr.TopicAuthorizationFailed
	}
	sp, _, err := d.cfg.Shares.Partition(ctx, share.Key{Group: groupID, TopicID: topicID, Partition: index}, topic.Name)
	if err != nil {
		return err
	}
	return sp.Acknowledge(ctx, member, batches)
}

// releaseSession releases what member holds on a closed session's partitions.
func (d *Dispatcher) releaseSession(ctx context.Context, groupID, member string, parts []share.TopicPartition) {
	for _, tp := range parts {
		if sp := d.cfg.Shares.Loaded(share.Key{Group: groupID, TopicID: tp.TopicID, Partition: tp.Partition}); sp != nil {
			sp.ReleaseMember(member)
		}
	}
}

// shareErrorCode maps internal/share's errors, then the rest as errorCode does.
func shareErrorCode(err error) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, share.ErrInvalidRecordState):
		return kerr.InvalidRecordState.Code
	case errors.Is(err, share.ErrInvalidRequest):
		return kerr.InvalidRequest.Code
	case errors.Is(err, share.ErrSessionNotFound):
		return kerr.ShareSessionNotFound.Code
	case errors.Is(err, share.ErrInvalidSessionEpoch):
		return kerr.InvalidShareSessionEpoch.Code
	case errors.Is(err, share.ErrNotLeader), errors.Is(err, share.ErrFencedLeaderEpoch), errors.Is(err, share.ErrFencedStateEpoch):
		return kerr.NotLeaderForPartition.Code // the client looks up the leader and fetches again
	case errors.Is(err, share.ErrUnknownPartition):
		return kerr.UnknownTopicOrPartition.Code
	case errors.Is(err, share.ErrStateUnavailable), errors.Is(err, share.ErrCorruptState):
		return kerr.CoordinatorNotAvailable.Code
	}
	return errorCode(err)
}

// ensureShareStateTopic returns __share_group_state, creating it as Kafka's share
// coordinator does (share.coordinator.state.topic.*, compacted).
func (d *Dispatcher) ensureShareStateTopic(ctx context.Context) (*metadata.Topic, error) {
	if t, ok := d.cfg.Metadata.Image().TopicByName(share.StateTopic); ok {
		return t, nil
	}
	want, brokers := d.cfg.Broker.Int("share.coordinator.state.topic.replication.factor"), len(d.cfg.Metadata.Image().Brokers())
	rf := max(min(want, brokers), 1)
	spec := topicSpec{
		name:              share.StateTopic,
		partitions:        int32(d.cfg.Broker.Int("share.coordinator.state.topic.num.partitions")),
		replicationFactor: int16(rf),
		configs: map[string]string{
			"cleanup.policy":      "compact",
			"compression.type":    "producer",
			"segment.bytes":       offsetsTopicSegmentBytes,
			"min.insync.replicas": strconv.Itoa(min(d.cfg.Broker.Int("share.coordinator.state.topic.min.isr"), rf)),
		},
	}
	if _, err := d.createTopic(ctx, spec, false); err != nil && !isCode(err, kerr.TopicAlreadyExists) && !errors.Is(err, metadata.ErrTopicExists) {
		return nil, err
	}
	t, ok := d.cfg.Metadata.Image().TopicByName(share.StateTopic)
	if !ok {
		return nil, errors.New("api: " + share.StateTopic + " was not created")
	}
	return t, nil
}
