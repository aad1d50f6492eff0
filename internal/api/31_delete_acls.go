package api

// DeleteAcls (key 31), v0-v3.
//
// Behaviour: each filter (as in DescribeAcls: ANY and MATCH pattern types, null or ANY
// fields for any) deletes every binding it matches, recorded in the metadata log (a
// DeleteACL record per binding) and put out of force on this broker before the
// response, which lists what each filter matched (a binding several filters match is
// listed under each, as in Kafka). A filter with a field Kafka would read as UNKNOWN
// fails alone with INVALID_REQUEST. The caller needs ALTER on CLUSTER
// (CLUSTER_AUTHORIZATION_FAILED on every filter); with no authorizer every filter is
// SECURITY_DISABLED. v0 filters match literal patterns only; v1 adds pattern types
// (KIP-290); v2 is flexible.
//
// Differs from Kafka: each deletion is its own record, so a failure part way (the quorum
// lost) can leave some deleted, reported as the filter's error; Kafka deletes a request's
// matches atomically.

import (
	"context"
	"errors"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/metadata"
)

func (d *Dispatcher) handleDeleteACLs(ctx context.Context, r *request) {
	req := r.body.(*kmsg.DeleteACLsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteACLsResponse)
	code, msg := d.aclAPIError(r, acl.OpAlter)
	changed := false
	// Every filter matches the ACLs as they were before the request, as in Kafka, so a
	// binding two filters match is reported under both, not only the first.
	acls := d.cfg.Metadata.Image().ACLs()
	deletedIDs := map[string]bool{}
	for _, f := range req.Filters {
		res := kmsg.NewDeleteACLsResponseResult()
		filter := aclFilter(r.header.Version, f.ResourceType, f.ResourceName, f.ResourcePatternType,
			f.Principal, f.Host, f.Operation, f.PermissionType)
		switch err := filter.Validate(); {
		case code != 0:
			res.ErrorCode, res.ErrorMessage = code, ptr(msg)
		case err != nil:
			res.ErrorCode, res.ErrorMessage = kerr.InvalidRequest.Code, ptr(err.Error())
		default:
			var deleted bool
			res, deleted = d.deleteMatchingACLs(ctx, filter, acls, deletedIDs)
			changed = changed || deleted
		}
		resp.Results = append(resp.Results, res)
	}
	if changed {
		ApplyACLs(d.cfg.Authorizer, d.cfg.Metadata.Image())
	}
	r.respond(resp)
}

// deleteMatchingACLs deletes what one filter matches among acls and reports it, whether
// this filter deleted a binding or an earlier one of the request did (deletedIDs, which
// it extends).
func (d *Dispatcher) deleteMatchingACLs(ctx context.Context, filter acl.Filter, acls map[string]acl.Binding, deletedIDs map[string]bool) (kmsg.DeleteACLsResponseResult, bool) {
	res := kmsg.NewDeleteACLsResponseResult()
	deleted := false
	for _, id := range slices.Sorted(maps.Keys(acls)) {
		b := acls[id]
		if !filter.Matches(b) {
			continue
		}
		if !deletedIDs[id] {
			_, err := d.cfg.Metadata.Propose(ctx, metadata.DeleteACL{ID: id})
			if err != nil && !errors.Is(err, metadata.ErrUnknownACL) {
				res.ErrorCode, res.ErrorMessage = errorCode(err), ptr(err.Error())
				return res, deleted
			}
			deleted = deleted || err == nil
			deletedIDs[id] = true
		}
		m := kmsg.NewDeleteACLsResponseResultMatchingACL()
		m.ResourceType, m.ResourceName = kmsg.ACLResourceType(b.ResourceType), b.ResourceName
		m.ResourcePatternType = kmsg.ACLResourcePatternType(b.PatternType)
		m.Principal, m.Host = b.Principal, b.Host
		m.Operation, m.PermissionType = kmsg.ACLOperation(b.Operation), kmsg.ACLPermissionType(b.Permission)
		res.MatchingACLs = append(res.MatchingACLs, m)
	}
	return res, deleted
}
