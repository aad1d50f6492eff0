package api

// IncrementalAlterConfigs (key 44), v0-v1.
//
// Behaviour: each resource's operations (KIP-339) are applied to its current overrides:
// SET a value, DELETE an override (reverting to the next synonym), APPEND to or SUBTRACT
// from a LIST config, starting from its default when unset. The result is validated as a
// whole (topic configs with the topic rules; BROKER configs, for the cluster default or this
// node's ID, against what may change at run time at that scope), recorded in the metadata
// as a difference and applied before the response, so a new retention.ms reaches the logs'
// next retention pass. validate_only checks without changing anything. A resource named
// twice, a config named twice, a null value for an operation other than DELETE or an
// unknown operation is INVALID_REQUEST, as in Kafka's ConfigAdminManager; a bad name or
// value, or APPEND/SUBTRACT on a config that is not a LIST, INVALID_CONFIG with a message
// naming the config. v1 is flexible.
//
// Differs from Kafka: an invalid BROKER config answers INVALID_CONFIG where Kafka answers
// INVALID_REQUEST (KAFKA-13609), and unknown broker config names are refused rather than
// stored. No alter.config.policy. BROKER_LOGGER (KIP-412 log levels), CLIENT_METRICS and
// GROUP resources are refused with INVALID_REQUEST.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/config"
)

func (d *Dispatcher) handleIncrementalAlterConfigs(ctx context.Context, r *request) {
	req := r.body.(*kmsg.IncrementalAlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	imgs := d.newAdminImages() // one catch-up with the quorum at most, for all its topics
	keys := make([]resourceKey, len(req.Resources))
	for i, res := range req.Resources {
		keys[i] = resourceKey{res.ResourceType, res.ResourceName}
	}
	repeated := repeatedResources(keys)
	for i, res := range req.Resources {
		rr := kmsg.NewIncrementalAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		err := errRepeatedResource
		if !repeated[keys[i]] {
			if err = d.configAuthorization(r, acl.OpAlterConfigs, res.ResourceType, res.ResourceName); err == nil {
				err = d.incrementalAlterResource(ctx, imgs, res, req.ValidateOnly)
			}
		}
		if err != nil {
			rr.ErrorCode, rr.ErrorMessage = errorCode(err), errorMessage(err)
		}
		resp.Resources = append(resp.Resources, rr)
	}
	r.respond(resp)
}

func (d *Dispatcher) incrementalAlterResource(ctx context.Context, imgs *adminImages, res kmsg.IncrementalAlterConfigsRequestResource, validateOnly bool) error {
	ops, err := incrementalOps(res.Configs)
	if err != nil {
		return err
	}
	switch res.ResourceType {
	case kmsg.ConfigResourceTypeTopic:
		t, ok := imgs.byName(ctx, res.ResourceName).TopicByName(res.ResourceName)
		if !ok {
			return unknownTopicError(res.ResourceName)
		}
		next, err := config.ApplyIncremental(t.Configs, ops)
		if err != nil {
			return err
		}
		return d.replaceTopicConfigs(ctx, t, next, validateOnly)
	case kmsg.ConfigResourceTypeBroker:
		br, err := d.brokerResourceFor(res.ResourceName)
		if err != nil {
			return err
		}
		next, err := config.ApplyIncremental(d.cfg.Metadata.Image().BrokerConfigs(br.nodeID), ops)
		if err != nil {
			return err
		}
		return d.replaceBrokerConfigs(ctx, br, next, validateOnly)
	}
	return unsupportedResourceError(res.ResourceType)
}

// incrementalOps checks a resource's operations as Kafka does before applying any, and
// converts them.
func incrementalOps(configs []kmsg.IncrementalAlterConfigsRequestResourceConfig) ([]config.AlterOp, error) {
	names := make([]string, len(configs))
	for i, c := range configs {
		names[i] = c.Name
	}
	needsValue := func(i int) bool {
		return configs[i].Op != kmsg.IncrementalAlterConfigOpDelete && configs[i].Value == nil
	}
	if err := checkAlterEntries(names, needsValue); err != nil {
		return nil, err
	}
	ops := make([]config.AlterOp, 0, len(configs))
	for _, c := range configs {
		switch c.Op {
		case kmsg.IncrementalAlterConfigOpSet, kmsg.IncrementalAlterConfigOpDelete,
			kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
		default:
			return nil, newError(kerr.InvalidRequest, "Unknown operations type %d", int8(c.Op))
		}
		op := config.AlterOp{Name: c.Name, Op: config.AlterOpType(c.Op)}
		if c.Value != nil {
			op.Value = *c.Value
		}
		ops = append(ops, op)
	}
	return ops, nil
}
