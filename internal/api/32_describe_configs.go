package api

// DescribeConfigs (key 32), v0-v4.
//
// Behaviour: TOPIC resources list every topic config with its value, source and (v1+, when
// asked) synonyms, highest precedence first: the topic override, then the broker configs
// that supply its default. BROKER resources named by this node's ID list every broker
// config; a BROKER resource with an empty name lists the cluster-wide dynamic defaults that
// are set (KIP-226). ConfigNames, when not null, keeps only those names (unknown names are
// left out silently, as in Kafka). Sensitive values are null. v0 reports IsDefault (source
// DEFAULT_CONFIG); v1 adds sources and synonyms; v3 adds config types and, when asked,
// documentation (KIP-569). Each resource has its own error: UNKNOWN_TOPIC_OR_PARTITION for
// a missing topic, INVALID_REQUEST for another broker's ID or an unsupported type.
//
// Differs from Kafka: BROKER_LOGGER, CLIENT_METRICS and GROUP resources are refused with
// INVALID_REQUEST (no run-time log levels, client metrics or group configs yet). A topic's
// broker synonyms list every one that is set (see config.DescribeTopic). An invalid topic
// name is UNKNOWN_TOPIC_OR_PARTITION rather than INVALID_TOPIC_EXCEPTION.

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/config"
)

func (d *Dispatcher) handleDescribeConfigs(_ context.Context, r *request) {
	req := r.body.(*kmsg.DescribeConfigsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	synonyms := r.header.Version >= 1 && req.IncludeSynonyms
	docs := r.header.Version >= 3 && req.IncludeDocumentation
	for _, res := range req.Resources {
		rr := kmsg.NewDescribeConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		// Authorization first: an unauthorized client must not cost the describe work, nor
		// learn from its errors whether the resource exists.
		err := d.configAuthorization(r, acl.OpDescribeConfigs, res.ResourceType, res.ResourceName)
		var entries []config.Entry
		if err == nil {
			entries, err = d.describeResource(res.ResourceType, res.ResourceName)
		}
		if err != nil {
			rr.ErrorCode, rr.ErrorMessage = errorCode(err), errorMessage(err)
			resp.Resources = append(resp.Resources, rr)
			continue
		}
		for _, e := range entries {
			if res.ConfigNames != nil && !slices.Contains(res.ConfigNames, e.Name) {
				continue
			}
			rr.Configs = append(rr.Configs, describeConfigEntry(e, synonyms, docs))
		}
		resp.Resources = append(resp.Resources, rr)
	}
	r.respond(resp)
}

// describeResource returns the entries of one resource, or why it cannot be described.
func (d *Dispatcher) describeResource(kind kmsg.ConfigResourceType, name string) ([]config.Entry, error) {
	switch kind {
	case kmsg.ConfigResourceTypeTopic:
		t, ok := d.cfg.Metadata.Image().TopicByName(name)
		if !ok {
			return nil, unknownTopicError(name)
		}
		return config.DescribeTopic(d.cfg.Broker, t.Configs), nil
	case kmsg.ConfigResourceTypeBroker:
		res, err := d.brokerResourceFor(name)
		if err != nil {
			return nil, err
		}
		if res.scope == config.ScopeClusterDefault {
			return d.cfg.Broker.DescribeClusterDefaults(), nil
		}
		return d.cfg.Broker.Describe(), nil
	}
	return nil, unsupportedResourceError(kind)
}
