package api

// DescribeClientQuotas (key 48), v0-v1.
//
// Behaviour: returns the quotas set on every entity that matches all the components of
// the filter: EXACT a named user or client-id, DEFAULT the <default> one, ANY either.
// With strict, an entity must have no entity type beyond the filter's; without, it may.
// An empty non-strict filter matches every entity. A type named twice, an EXACT match
// without a name or an unknown match type is INVALID_REQUEST. Static defaults
// (nagare.quota.default.*) are broker configs and not listed, as Kafka's never were.
// v1 is flexible.
//
// The caller needs DESCRIBE_CONFIGS on CLUSTER (CLUSTER_AUTHORIZATION_FAILED).

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/metadata"
)

func (d *Dispatcher) handleDescribeClientQuotas(_ context.Context, r *request) {
	req := r.body.(*kmsg.DescribeClientQuotasRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClientQuotasResponse)
	if !d.authorizedCluster(r, acl.OpDescribeConfigs) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		r.respond(resp)
		return
	}
	if err := checkQuotaFilter(req.Components); err != nil {
		resp.ErrorCode, resp.ErrorMessage = kerr.InvalidRequest.Code, ptrTo(err.Error())
		r.respond(resp)
		return
	}
	quotas := d.cfg.Metadata.Image().ClientQuotas()
	for _, e := range sortedQuotaEntities(quotas) {
		if !quotaFilterMatches(req.Components, req.Strict, e) {
			continue
		}
		entry := kmsg.NewDescribeClientQuotasResponseEntry()
		for _, p := range e.Parts() {
			entry.Entity = append(entry.Entity, kmsg.DescribeClientQuotasResponseEntryEntity{Type: p.Type, Name: p.Name})
		}
		for _, k := range slices.Sorted(maps.Keys(quotas[e])) {
			entry.Values = append(entry.Values, kmsg.DescribeClientQuotasResponseEntryValue{Key: k, Value: quotas[e][k]})
		}
		resp.Entries = append(resp.Entries, entry)
	}
	r.respond(resp)
}

func checkQuotaFilter(components []kmsg.DescribeClientQuotasRequestComponent) error {
	seen := map[string]bool{}
	for _, c := range components {
		if seen[c.EntityType] {
			return fmt.Errorf("entity type %q named twice in the filter", c.EntityType)
		}
		seen[c.EntityType] = true
		switch c.MatchType {
		case kmsg.QuotasMatchTypeExact:
			if c.Match == nil {
				return fmt.Errorf("exact match on %q without a name", c.EntityType)
			}
		case kmsg.QuotasMatchTypeDefault, kmsg.QuotasMatchTypeAny:
		default:
			return fmt.Errorf("unknown match type %d", c.MatchType)
		}
	}
	return nil
}

// quotaFilterMatches applies a checked filter to one entity (Kafka's
// ClientQuotaControlManager.describeClientQuotas rules).
func quotaFilterMatches(components []kmsg.DescribeClientQuotasRequestComponent, strict bool, e metadata.QuotaEntity) bool {
	types := 0
	for _, c := range components {
		var has, def bool
		var name string
		switch c.EntityType {
		case metadata.QuotaEntityUser:
			has, def, name = e.HasUser, e.UserDefault, e.User
		case metadata.QuotaEntityClientID:
			has, def, name = e.HasClientID, e.ClientIDDefault, e.ClientID
		case metadata.QuotaEntityIP:
			has, def, name = e.HasIP, e.IPDefault, e.IP
		}
		if !has {
			return false
		}
		types++
		switch c.MatchType {
		case kmsg.QuotasMatchTypeExact:
			if def || name != *c.Match {
				return false
			}
		case kmsg.QuotasMatchTypeDefault:
			if !def {
				return false
			}
		}
	}
	return !strict || types == len(e.Parts())
}

func sortedQuotaEntities(quotas map[metadata.QuotaEntity]map[string]float64) []metadata.QuotaEntity {
	return slices.SortedFunc(maps.Keys(quotas), func(a, b metadata.QuotaEntity) int {
		return compareStrings(fmt.Sprint(a.Parts()), fmt.Sprint(b.Parts()))
	})
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
