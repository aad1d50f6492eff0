package api

// AlterConfigs (key 33), v0-v2.
//
// Behaviour: the configs given become the resource's whole set of overrides: names left out
// are removed (the old, non-incremental semantics; IncrementalAlterConfigs changes single
// names). TOPIC resources are checked with the topic config rules and recorded as a
// difference from the current overrides; BROKER resources (an empty name for the cluster
// default, or this node's ID) must name configs that may change at run time at that scope,
// are recorded in the metadata and take effect at once. validate_only checks without
// changing anything. A resource named twice, a config named twice or a null value is
// INVALID_REQUEST, as in Kafka's ConfigAdminManager; a bad name or value INVALID_CONFIG
// with a message naming the config. v1 changes only throttling (KIP-219); v2 is flexible.
//
// Differs from Kafka: an invalid BROKER config answers INVALID_CONFIG where Kafka answers
// INVALID_REQUEST (KAFKA-13609 calls Kafka's code wrong but keeps it for compatibility), and
// unknown broker config names are refused rather than stored. Sensitive broker configs are
// stored as given, not encrypted with a password encoder secret. No alter.config.policy.
// BROKER_LOGGER, CLIENT_METRICS and GROUP resources are refused with INVALID_REQUEST.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
)

func (d *Dispatcher) handleAlterConfigs(ctx context.Context, r *request) {
	req := r.body.(*kmsg.AlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	imgs := d.newAdminImages() // one catch-up with the quorum at most, for all its topics
	keys := make([]resourceKey, len(req.Resources))
	for i, res := range req.Resources {
		keys[i] = resourceKey{res.ResourceType, res.ResourceName}
	}
	repeated := repeatedResources(keys)
	for i, res := range req.Resources {
		rr := kmsg.NewAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		err := errRepeatedResource
		if !repeated[keys[i]] {
			if err = d.configAuthorization(r, acl.OpAlterConfigs, res.ResourceType, res.ResourceName); err == nil {
				err = d.alterConfigsResource(ctx, imgs, res, req.ValidateOnly)
			}
		}
		if err != nil {
			rr.ErrorCode, rr.ErrorMessage = errorCode(err), errorMessage(err)
		}
		resp.Resources = append(resp.Resources, rr)
	}
	r.respond(resp)
}

func (d *Dispatcher) alterConfigsResource(ctx context.Context, imgs *adminImages, res kmsg.AlterConfigsRequestResource, validateOnly bool) error {
	names := make([]string, len(res.Configs))
	for i, c := range res.Configs {
		names[i] = c.Name
	}
	if err := checkAlterEntries(names, func(i int) bool { return res.Configs[i].Value == nil }); err != nil {
		return err
	}
	next := make(map[string]string, len(res.Configs))
	for _, c := range res.Configs {
		next[c.Name] = *c.Value
	}
	switch res.ResourceType {
	case kmsg.ConfigResourceTypeTopic:
		t, ok := imgs.byName(ctx, res.ResourceName).TopicByName(res.ResourceName)
		if !ok {
			return unknownTopicError(res.ResourceName)
		}
		return d.replaceTopicConfigs(ctx, t, next, validateOnly)
	case kmsg.ConfigResourceTypeBroker:
		br, err := d.brokerResourceFor(res.ResourceName)
		if err != nil {
			return err
		}
		return d.replaceBrokerConfigs(ctx, br, next, validateOnly)
	}
	return unsupportedResourceError(res.ResourceType)
}
