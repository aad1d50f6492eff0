package api

// DescribeAcls (key 29), v0-v3.
//
// Behaviour: returns the ACL bindings that match the filter, grouped by resource
// pattern: resource type (or ANY), name (or null for any), pattern type (ANY: either type
// with that exact name; MATCH: every binding that would apply to a resource of that
// name, literal, "*" or prefix; LITERAL or PREFIXED: that type), principal, host,
// operation and permission (null/ANY for any). The caller needs DESCRIBE on CLUSTER
// (CLUSTER_AUTHORIZATION_FAILED). With no authorizer (no listener authenticates and
// authorizer.class.name unset) the answer is SECURITY_DISABLED, as Kafka answers without
// one. A filter field Kafka would read as UNKNOWN is INVALID_REQUEST. v0 knows only
// literal patterns; v1 adds pattern types (KIP-290); v2 is flexible.
//
// Differs from Kafka: a filter with an unknown code answers INVALID_REQUEST where Kafka
// fails to parse the request and closes the connection.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
)

func (d *Dispatcher) handleDescribeACLs(_ context.Context, r *request) {
	req := r.body.(*kmsg.DescribeACLsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeACLsResponse)
	filter := aclFilter(r.header.Version, req.ResourceType, req.ResourceName, req.ResourcePatternType,
		req.Principal, req.Host, req.Operation, req.PermissionType)
	switch code, msg := d.aclAPIError(r, acl.OpDescribe); {
	case code != 0:
		resp.ErrorCode, resp.ErrorMessage = code, &msg
	case filter.Validate() != nil:
		resp.ErrorCode, resp.ErrorMessage = kerr.InvalidRequest.Code, ptr(filter.Validate().Error())
	default:
		resp.Resources = describeACLResources(d.cfg.Metadata.Image().ACLBindings(), filter)
	}
	r.respond(resp)
}

// aclAPIError is the error every ACL API answers before looking at its input: no
// authorizer, or the caller lacks op on the cluster.
func (d *Dispatcher) aclAPIError(r *request, op acl.Operation) (int16, string) {
	switch {
	case d.cfg.Authorizer == nil:
		return kerr.SecurityDisabled.Code, "No Authorizer is configured."
	case !d.authorizedCluster(r, op):
		return kerr.ClusterAuthorizationFailed.Code, kerr.ClusterAuthorizationFailed.Message
	}
	return 0, ""
}

// aclFilter builds a filter from the fields DescribeAcls and DeleteAcls share. v0 has no
// pattern type on the wire: its filters are LITERAL, Kafka's normalisation.
func aclFilter(version int16, rt kmsg.ACLResourceType, name *string, pt kmsg.ACLResourcePatternType,
	principal, host *string, op kmsg.ACLOperation, perm kmsg.ACLPermissionType) acl.Filter {
	f := acl.Filter{ResourceType: acl.ResourceType(rt), ResourceName: name, PatternType: acl.PatternType(pt),
		Principal: principal, Host: host, Operation: acl.Operation(op), Permission: acl.Permission(perm)}
	if version == 0 {
		f.PatternType = acl.PatternLiteral
	}
	return f
}

// describeACLResources groups the bindings that match f by resource pattern, in the
// order the bindings come.
func describeACLResources(bindings []acl.Binding, f acl.Filter) []kmsg.DescribeACLsResponseResource {
	type pattern struct {
		rt   acl.ResourceType
		name string
		pt   acl.PatternType
	}
	var out []kmsg.DescribeACLsResponseResource
	at := map[pattern]int{}
	for _, b := range bindings {
		if !f.Matches(b) {
			continue
		}
		key := pattern{b.ResourceType, b.ResourceName, b.PatternType}
		i, ok := at[key]
		if !ok {
			res := kmsg.NewDescribeACLsResponseResource()
			res.ResourceType, res.ResourceName = kmsg.ACLResourceType(b.ResourceType), b.ResourceName
			res.ResourcePatternType = kmsg.ACLResourcePatternType(b.PatternType)
			i = len(out)
			at[key] = i
			out = append(out, res)
		}
		a := kmsg.NewDescribeACLsResponseResourceACL()
		a.Principal, a.Host = b.Principal, b.Host
		a.Operation, a.PermissionType = kmsg.ACLOperation(b.Operation), kmsg.ACLPermissionType(b.Permission)
		out[i].ACLs = append(out[i].ACLs, a)
	}
	return out
}
