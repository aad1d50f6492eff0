package api

// Metadata (key 3), v0-v13.
//
// Behaviour: brokers from the metadata image, the quorum leader as controller, topics by name
// or (v10+) by ID. A null topic list (v1+) or an empty one (v0) asks for every topic.
// Missing topics are created when auto.create.topics.enable is set and the request
// allows it (v4+; always for v0-v3), with num.partitions and
// default.replication.factor, as Kafka does.
//
// Authorization as Kafka's: a topic the principal may not DESCRIBE is left out of an
// all-topics answer and answers TOPIC_AUTHORIZATION_FAILED when named (by name: whether or
// not it exists; by ID: with the ID, without the name); auto-creation needs CREATE on the
// cluster or the topic. Authorized operations (KIP-430) are computed when asked for.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/metadata"
)

// authorizedOperationsUnknown is Kafka's INT32_MIN: "not computed".
const authorizedOperationsUnknown = -2147483648

func (d *Dispatcher) handleMetadata(ctx context.Context, r *request) {
	req := r.body.(*kmsg.MetadataRequest)
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	img := d.cfg.Metadata.Image()
	for _, b := range img.UnfencedBrokers() { // a fenced broker serves nothing, as in Kafka
		mb := kmsg.NewMetadataResponseBroker()
		mb.NodeID = b.NodeID
		mb.Host, mb.Port = d.brokerAddr(r.session, b)
		if b.Rack != "" {
			rack := b.Rack
			mb.Rack = &rack
		}
		resp.Brokers = append(resp.Brokers, mb)
	}
	clusterID := d.cfg.ClusterID
	resp.ClusterID = &clusterID
	resp.ControllerID = d.cfg.Metadata.ClientControllerID() // the quorum leader when it is a broker, else a live broker
	resp.AuthorizedOperations = authorizedOperationsUnknown

	all := req.Topics == nil || (r.header.Version == 0 && len(req.Topics) == 0)
	if all {
		for _, t := range img.Topics() {
			if d.authorizedTopic(r, acl.OpDescribe, t.Name) { // the others are not even named
				resp.Topics = append(resp.Topics, metadataTopic(t))
			}
		}
	} else {
		autoCreate := (r.header.Version < 4 || req.AllowAutoTopicCreation) && d.cfg.Broker.Bool("auto.create.topics.enable")
		for _, rt := range req.Topics {
			resp.Topics = append(resp.Topics, d.metadataTopicFor(ctx, r, rt, autoCreate))
		}
	}
	d.setMetadataAuthorizedOperations(r, req, resp)
	r.respond(resp)
}

// setMetadataAuthorizedOperations fills the KIP-430 fields a client asked for: the
// cluster's (v8-v10) only for a principal that may DESCRIBE it (else 0), and each
// topic's that the principal may DESCRIBE, as Kafka's handleTopicMetadataRequest does
// for its authorized topics: with any error but TOPIC_AUTHORIZATION_FAILED (so also an
// unknown topic, or one whose auto-creation failed), and not for an unknown topic ID,
// which names no topic.
func (d *Dispatcher) setMetadataAuthorizedOperations(r *request, req *kmsg.MetadataRequest, resp *kmsg.MetadataResponse) {
	if req.IncludeClusterAuthorizedOperations {
		resp.AuthorizedOperations = 0
		if d.authorizedCluster(r, acl.OpDescribe) {
			resp.AuthorizedOperations = d.authorizedOperations(r, acl.ResourceCluster, acl.ClusterName)
		}
	}
	if req.IncludeTopicAuthorizedOperations {
		for i := range resp.Topics {
			if t := &resp.Topics[i]; t.ErrorCode != kerr.TopicAuthorizationFailed.Code && t.Topic != nil {
				t.AuthorizedOperations = d.authorizedOperations(r, acl.ResourceTopic, *t.Topic)
			}
		}
	}
}

// metadataTopicFor answers for one requested topic, auto-creating it if allowed.
func (d *Dispatcher) metadataTopicFor(ctx context.Context, r *request, rt kmsg.MetadataRequestTopic, autoCreate bool) kmsg.MetadataResponseTopic {
	img := d.cfg.Metadata.Image()
	if rt.Topic == nil {
		if t, ok := img.TopicByID(rt.TopicID); ok {
			if !d.authorizedTopic(r, acl.OpDescribe, t.Name) {
				// Kafka does not count a topic ID as secret, only the name.
				mt := kmsg.NewMetadataResponseTopic()
				mt.TopicID, mt.ErrorCode = t.ID, kerr.TopicAuthorizationFailed.Code
				return mt
			}
			return metadataTopic(t)
		}
		mt := kmsg.NewMetadataResponseTopic()
		mt.TopicID = rt.TopicID
		mt.ErrorCode = kerr.UnknownTopicID.Code
		return mt
	}
	name := *rt.Topic
	mt := kmsg.NewMetadataResponseTopic()
	mt.Topic = &name
	if !d.authorizedTopic(r, acl.OpDescribe, name) {
		mt.ErrorCode = kerr.TopicAuthorizationFailed.Code // whether or not it exists
		return mt
	}
	if t, ok := img.TopicByName(name); ok {
		return metadataTopic(t)
	}
	mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
	if !autoCreate {
		return mt
	}
	if !d.authorizedCluster(r, acl.OpCreate) && !d.authorizedTopic(r, acl.OpCreate, name) {
		mt.ErrorCode, mt.IsInternal = kerr.TopicAuthorizationFailed.Code, isInternalTopic(name)
		return mt
	}
	_, err := d.createTopic(ctx, topicSpec{name: name, partitions: -1, replicationFactor: -1}, false)
	if err != nil && !isCode(err, kerr.TopicAlreadyExists) {
		mt.ErrorCode = topicErrorCode(err)
		return mt
	}
	if t, ok := d.cfg.Metadata.Image().TopicByName(name); ok {
		return metadataTopic(t)
	}
	return mt
}

func metadataTopic(t *metadata.Topic) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.Name
	mt.Topic = &name
	mt.TopicID = t.ID
	mt.IsInternal = isInternalTopic(t.Name)
	mt.AuthorizedOperations = authorizedOperationsUnknown
	for _, a := range t.Partitions {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = a.Partition
		mp.Leader = a.Leader
		mp.LeaderEpoch = a.LeaderEpoch
		mp.Replicas = a.Replicas
		mp.ISR = a.ISR
		mp.OfflineReplicas = []int32{}
		if a.Leader == metadata.NoLeader {
			mp.ErrorCode = kerr.LeaderNotAvailable.Code
		}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}

// isInternalTopic names Kafka's internal topics.
func isInternalTopic(name string) bool {
	return name == "__consumer_offsets" || name == "__transaction_state"
}

// isCode reports whether err carries the given Kafka error.
func isCode(err error, code *kerr.Error) bool { return errorCode(err) == code.Code }
