package api

// Authorization: the checks every handler makes, in one place, so that a handler's
// change is a line. They mirror Kafka's AuthHelper. With no authorizer configured
// (Config.Authorizer nil: a broker whose listeners authenticate nobody) every check
// allows, at the cost of one nil comparison.
//
// The principal is the session's user (ANONYMOUS until authenticated) and the host is
// the client's IP, as Kafka's ACLs name them. A check is a cached lookup in
// acl.Authorizer (see BenchmarkAuthorize), so handlers check per topic without batching.

import (
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/metadata"
)

// authorized reports whether the request's principal may perform op on the resource.
func (d *Dispatcher) authorized(r *request, op acl.Operation, rt acl.ResourceType, name string) bool {
	a := d.cfg.Authorizer
	if a == nil {
		return true
	}
	return a.Authorize(r.session.Principal(), sessionIP(r.session), op, rt, name)
}

// authorizedTopic checks op on a topic.
func (d *Dispatcher) authorizedTopic(r *request, op acl.Operation, topic string) bool {
	return d.authorized(r, op, acl.ResourceTopic, topic)
}

// authorizedGroup checks op on a consumer group.
func (d *Dispatcher) authorizedGroup(r *request, op acl.Operation, group string) bool {
	return d.authorized(r, op, acl.ResourceGroup, group)
}

// authorizedCluster checks op on the cluster resource (kafka-cluster).
func (d *Dispatcher) authorizedCluster(r *request, op acl.Operation) bool {
	return d.authorized(r, op, acl.ResourceCluster, acl.ClusterName)
}

// authorizedOperations is the KIP-430 bit field of what the principal may do to the
// resource: every supported operation when there is no authorizer, as Kafka answers.
func (d *Dispatcher) authorizedOperations(r *request, rt acl.ResourceType, name string) int32 {
	return d.cfg.Authorizer.AuthorizedOperations(r.session.Principal(), sessionIP(r.session), rt, name)
}

// sessionIP is the client's address without the port, the host ACLs match, in
// acl.NormalizeHost's form (ACL hosts are compared in it). It is worked out once per
// connection, so a check does not allocate.
func sessionIP(s *Session) string {
	if h := s.host.Load(); h != nil {
		return *h
	}
	addr := s.RemoteAddr
	if i := strings.LastIndexByte(addr, ':'); i >= 0 && strings.IndexByte(addr[i:], ']') < 0 {
		addr = addr[:i]
	}
	host := acl.NormalizeHost(strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]"))
	s.host.Store(&host)
	return host
}

// ApplyACLs puts the image's ACLs in force on a, when they changed since it last saw
// them. The broker calls it on every metadata change and the ACL handlers before they
// answer, so a client that created an ACL is held to it on its next request.
func ApplyACLs(a *acl.Authorizer, img *metadata.Image) {
	if a == nil || img.ACLIndex() == a.Version() {
		return
	}
	a.SetBindings(img.ACLIndex(), img.ACLBindings())
}

// createTopicAuthorization is CreateTopics' check: CREATE on the cluster, or else on the
// topic; TOPIC_AUTHORIZATION_FAILED (0 when allowed).
func (d *Dispatcher) createTopicAuthorization(r *request, topic string) int16 {
	if d.authorizedCluster(r, acl.OpCreate) || d.authorizedTopic(r, acl.OpCreate, topic) {
		return 0
	}
	return kerr.TopicAuthorizationFailed.Code
}

// deleteTopicAuthorization is DeleteTopics' check, before the topic's existence is told:
// clusterDelete (DELETE on the cluster, which the handler checks once per request) allows
// any topic, as in Kafka's ControllerApis; otherwise DELETE on the topic, and for a topic
// named by ID, DESCRIBE too (without it Kafka hides the name). An ID that names no topic
// passes, to answer UNKNOWN_TOPIC_ID.
func (d *Dispatcher) deleteTopicAuthorization(r *request, t kmsg.DeleteTopicsRequestTopic, clusterDelete bool) error {
	if d.cfg.Authorizer == nil || clusterDelete {
		return nil
	}
	var name string
	if t.Topic != nil {
		name = *t.Topic
	} else if topic, ok := d.cfg.Metadata.Image().TopicByID(t.TopicID); ok {
		name = topic.Name
		if !d.authorizedTopic(r, acl.OpDescribe, name) {
			return newError(kerr.TopicAuthorizationFailed, "%s", kerr.TopicAuthorizationFailed.Message)
		}
	} else {
		return nil
	}
	if !d.authorizedTopic(r, acl.OpDelete, name) {
		return newError(kerr.TopicAuthorizationFailed, "%s", kerr.TopicAuthorizationFailed.Message)
	}
	return nil
}

// authorizedIdempotentWrite is InitProducerId's check for an idempotent producer:
// IDEMPOTENT_WRITE on the cluster, or WRITE on any topic (KIP-679).
func (d *Dispatcher) authorizedIdempotentWrite(r *request) bool {
	a := d.cfg.Authorizer
	if a == nil || d.authorizedCluster(r, acl.OpIdempotentWrite) {
		return true
	}
	return a.AuthorizeByResourceType(r.session.Principal(), sessionIP(r.session), acl.OpWrite, acl.ResourceTopic)
}

// configAuthorization is the check of Describe/Alter/IncrementalAlterConfigs on one
// resource, op being DESCRIBE_CONFIGS or ALTER_CONFIGS: on the cluster for broker, broker
// logger and client metrics resources, on the topic or group otherwise, failing with the
// matching *_AUTHORIZATION_FAILED.
func (d *Dispatcher) configAuthorization(r *request, op acl.Operation, rt kmsg.ConfigResourceType, name string) error {
	switch rt {
	case kmsg.ConfigResourceTypeTopic:
		if !d.authorizedTopic(r, op, name) {
			return newError(kerr.TopicAuthorizationFailed, "%s", kerr.TopicAuthorizationFailed.Message)
		}
	case kmsg.ConfigResourceTypeGroupConfig:
		if !d.authorizedGroup(r, op, name) {
			return newError(kerr.GroupAuthorizationFailed, "%s", kerr.GroupAuthorizationFailed.Message)
		}
	case kmsg.ConfigResourceTypeBroker, kmsg.ConfigResourceTypeBrokerLogger, kmsg.ConfigResourceTypeClientMetrics:
		if !d.authorizedCluster(r, op) {
			return newError(kerr.ClusterAuthorizationFailed, "%s", kerr.ClusterAuthorizationFailed.Message)
		}
	}
	return nil
}
