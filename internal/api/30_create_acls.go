package api

// CreateAcls (key 30), v0-v3.
//
// Behaviour: each creation is checked as Kafka checks it (a concrete resource type,
// pattern type LITERAL or PREFIXED, operation and permission; a non-empty name;
// kafka-cluster as the only CLUSTER name; a principal of the form Type:name), failing
// alone with INVALID_REQUEST, then recorded in the metadata log (a CreateACL record) and
// put in force on this broker before the response. Creating a binding that exists
// succeeds without a second copy. The caller needs ALTER on CLUSTER
// (CLUSTER_AUTHORIZATION_FAILED on every result); with no authorizer every result is
// SECURITY_DISABLED. v0 creates literal patterns only; v1 adds pattern types (KIP-290);
// v2 is flexible.
//
// Differs from Kafka: each binding is its own record, so a failure part way (the quorum
// lost) can leave the earlier ones created; Kafka writes a request's records atomically.
// An IP host is stored in one spelling (acl.NormalizeHost: IPv6 compressed, no zone), so
// "0:0:0:0:0:0:0:1", as Java's tools write it, and "::1" are one ACL and both match a
// client on ::1; Kafka stores the string and compares it with Java's spelling of the
// client's address.

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/metadata"
)

func (d *Dispatcher) handleCreateACLs(ctx context.Context, r *request) {
	req := r.body.(*kmsg.CreateACLsRequest)
	resp := req.ResponseKind().(*kmsg.CreateACLsResponse)
	code, msg := d.aclAPIError(r, acl.OpAlter)
	changed := false
	for _, c := range req.Creations {
		res := kmsg.NewCreateACLsResponseResult()
		if code != 0 {
			res.ErrorCode, res.ErrorMessage = code, ptr(msg)
			resp.Results = append(resp.Results, res)
			continue
		}
		b := acl.Binding{ResourceType: acl.ResourceType(c.ResourceType), ResourceName: c.ResourceName,
			PatternType: acl.PatternType(c.ResourcePatternType), Principal: c.Principal, Host: acl.NormalizeHost(c.Host),
			Operation: acl.Operation(c.Operation), Permission: acl.Permission(c.PermissionType)}
		if r.header.Version == 0 {
			b.PatternType = acl.PatternLiteral
		}
		if err := b.Validate(); err != nil {
			res.ErrorCode, res.ErrorMessage = kerr.InvalidRequest.Code, ptr(err.Error())
		} else if _, exists := d.cfg.Metadata.Image().ACLID(b); !exists {
			_, err := d.cfg.Metadata.Propose(ctx, metadata.CreateACL{ID: metadata.NewACLID(), Binding: b})
			if err != nil && !errors.Is(err, metadata.ErrACLExists) {
				res.ErrorCode, res.ErrorMessage = errorCode(err), ptr(err.Error())
			}
			changed = changed || err == nil
		}
		resp.Results = append(resp.Results, res)
	}
	if changed {
		ApplyACLs(d.cfg.Authorizer, d.cfg.Metadata.Image())
	}
	r.respond(resp)
}
