package api

// AlterClientQuotas (key 49), v0-v1.
//
// Behaviour: each entry sets (value) or removes (remove) quota keys on one entity of user
// and/or client-id, or of ip alone, each a name or <default> (a null name). The keys are
// Kafka's: request_percentage, producer_byte_rate, consumer_byte_rate and
// controller_mutation_rate (KIP-599) on user/client-id entities, connection_creation_rate
// (KIP-612) on ip entities only; values positive, the byte and connection rates whole
// numbers. Each entry is checked as a whole, then recorded in the
// metadata log one ClientQuota record per key, and put in force on this broker's open
// connections before the response (other brokers as they follow the log).
// validate_only checks without changing anything. An entity naming a type twice or an
// unknown type, a key named twice, an unknown key or a bad value is INVALID_REQUEST for
// that entry, with a message. v1 is flexible.
//
// Differs from Kafka: an entry's keys are separate records, so a failure part way (the
// quorum lost) can leave some applied.
// The caller needs ALTER_CONFIGS on CLUSTER (CLUSTER_AUTHORIZATION_FAILED on every entry).

import (
	"context"
	"fmt"
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/metadata"
	"github.com/nagare-dev/nagare/internal/quota"
)

func (d *Dispatcher) handleAlterClientQuotas(ctx context.Context, r *request) {
	req := r.body.(*kmsg.AlterClientQuotasRequest)
	resp := req.ResponseKind().(*kmsg.AlterClientQuotasResponse)
	changed := false
	for _, entry := range req.Entries {
		re := kmsg.NewAlterClientQuotasResponseEntry()
		for _, p := range entry.Entity {
			re.Entity = append(re.Entity, kmsg.AlterClientQuotasResponseEntryEntity{Type: p.Type, Name: p.Name})
		}
		recs, err := alterQuotaRecords(entry)
		if !d.authorizedCluster(r, acl.OpAlterConfigs) {
			re.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		} else if err != nil {
			re.ErrorCode, re.ErrorMessage = kerr.InvalidRequest.Code, ptrTo(err.Error())
		} else if !req.ValidateOnly {
			for _, rec := range recs {
				if _, err := d.cfg.Metadata.Propose(ctx, rec); err != nil {
					re.ErrorCode, re.ErrorMessage = errorCode(err), ptrTo(err.Error())
					break
				}
				changed = true
			}
		}
		resp.Entries = append(resp.Entries, re)
	}
	if changed && d.cfg.Quotas != nil {
		img := d.cfg.Metadata.Image()
		d.cfg.Quotas.SetQuotas(ClientQuotas(img))
		d.cfg.Quotas.SetIPQuotas(IPQuotas(img))
	}
	r.respond(resp)
}

// alterQuotaRecords checks one entry and returns its records.
func alterQuotaRecords(entry kmsg.AlterClientQuotasRequestEntry) ([]metadata.ClientQuota, error) {
	parts := make([]metadata.QuotaEntityPart, 0, len(entry.Entity))
	for _, p := range entry.Entity {
		switch p.Type {
		case metadata.QuotaEntityUser, metadata.QuotaEntityClientID, metadata.QuotaEntityIP:
		default:
			return nil, fmt.Errorf("unsupported quota entity type %q", p.Type)
		}
		parts = append(parts, metadata.QuotaEntityPart{Type: p.Type, Name: p.Name})
	}
	entity, err := metadata.QuotaEntityOf(parts)
	if err != nil {
		return nil, fmt.Errorf("invalid quota entity: %v", err)
	}
	seen := map[string]bool{}
	var recs []metadata.ClientQuota
	for _, op := range entry.Ops {
		if seen[op.Key] {
			return nil, fmt.Errorf("quota key %q named twice", op.Key)
		}
		seen[op.Key] = true
		whole, err := checkQuotaKey(entity, op.Key)
		if err != nil {
			return nil, err
		}
		if !op.Remove {
			if math.IsNaN(op.Value) || math.IsInf(op.Value, 0) || op.Value <= 0 {
				return nil, fmt.Errorf("quota %s must be a positive number, got %v", op.Key, op.Value)
			}
			if whole && op.Value != math.Trunc(op.Value) {
				return nil, fmt.Errorf("quota %s must be a whole number per second, got %v", op.Key, op.Value)
			}
		}
		recs = append(recs, metadata.ClientQuota{Entity: parts, Key: op.Key, Value: op.Value, Remove: op.Remove})
	}
	return recs, nil
}

// connectionCreationRate is KIP-612's quota key, valid on ip entities only.
const connectionCreationRate = "connection_creation_rate"

// checkQuotaKey says whether key may be set on entity (Kafka's rule: ip entities take
// connection_creation_rate and nothing else) and whether its value must be whole.
func checkQuotaKey(entity metadata.QuotaEntity, key string) (whole bool, err error) {
	if entity.HasIP {
		if key != connectionCreationRate {
			return false, fmt.Errorf("quota %q cannot be set on an ip entity; only %s can", key, connectionCreationRate)
		}
		return true, nil
	}
	t, ok := quota.ParseType(key)
	if !ok {
		return false, fmt.Errorf("unknown or unsupported quota key %q", key)
	}
	return t == quota.ProducerByteRate || t == quota.ConsumerByteRate, nil
}

// IPQuotas returns the metadata's connection_creation_rate quotas by IP, "" for
// <default>, in the quota manager's form. The broker applies it on every metadata change.
func IPQuotas(img *metadata.Image) map[string]float64 {
	out := map[string]float64{}
	for e, values := range img.ClientQuotas() {
		if v, ok := values[connectionCreationRate]; ok && e.HasIP {
			out[e.IP] = v // IP is "" for <default>
		}
	}
	return out
}

// ClientQuotas converts the metadata's client quotas to the quota manager's form, leaving
// out keys the manager does not enforce and ip entities (IPQuotas). The broker applies it
// on every metadata change.
func ClientQuotas(img *metadata.Image) quota.Quotas {
	out := quota.Quotas{}
	for e, values := range img.ClientQuotas() {
		if e.HasIP {
			continue
		}
		entity := quota.Entity{
			User:     quota.Part{Set: e.HasUser, Default: e.UserDefault, Name: e.User},
			ClientID: quota.Part{Set: e.HasClientID, Default: e.ClientIDDefault, Name: e.ClientID},
		}
		for k, v := range values {
			t, ok := quota.ParseType(k)
			if !ok {
				continue
			}
			if out[entity] == nil {
				out[entity] = map[quota.Type]float64{}
			}
			out[entity][t] = v
		}
	}
	return out
}

func ptrTo[T any](v T) *T { return &v }
