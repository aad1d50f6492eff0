package api

// DescribeUserScramCredentials (key 50), v0.
//
// Behaviour: lists the SCRAM mechanisms and iteration counts each named user has
// credentials for (never salts or keys). A null or empty user list describes every user
// with a credential, sorted by name. A user named twice is DUPLICATE_RESOURCE, one
// without credentials RESOURCE_NOT_FOUND, each with Kafka's message. Needs DESCRIBE on
// the cluster, else CLUSTER_AUTHORIZATION_FAILED for the whole request. The protocol is
// flexible from v0.
//
// Differs from Kafka: none known.

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/auth"
	"github.com/nagare-dev/nagare/internal/metadata"
)

func (d *Dispatcher) handleDescribeUserScramCredentials(_ context.Context, r *request) {
	req := r.body.(*kmsg.DescribeUserSCRAMCredentialsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
	if !d.authorizedCluster(r, acl.OpDescribe) { // Kafka: DESCRIBE on CLUSTER
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		r.respond(resp)
		return
	}
	byUser := scramInfoByUser(d.cfg.Metadata.Image())
	var users []string
	count := map[string]int{}
	if len(req.Users) == 0 {
		users = slices.Sorted(maps.Keys(byUser))
	}
	for _, u := range req.Users {
		if count[u.Name]++; count[u.Name] == 1 {
			users = append(users, u.Name)
		}
	}
	for _, user := range users {
		res := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		res.User = user
		infos, ok := byUser[user]
		switch {
		case count[user] > 1:
			res.ErrorCode = kerr.DuplicateResource.Code
			res.ErrorMessage = ptrTo("Cannot describe SCRAM credentials for the same user twice in a single request: " + user)
		case !ok:
			res.ErrorCode = kerr.ResourceNotFound.Code
			res.ErrorMessage = ptrTo("Attempt to describe a user credential that does not exist: " + user)
		default:
			res.CredentialInfos = infos
		}
		resp.Results = append(resp.Results, res)
	}
	r.respond(resp)
}

// scramInfoByUser groups the image's credentials by user, mechanisms in Kafka's order.
func scramInfoByUser(img *metadata.Image) map[string][]kmsg.DescribeUserSCRAMCredentialsResponseResultCredentialInfo {
	out := map[string][]kmsg.DescribeUserSCRAMCredentialsResponseResultCredentialInfo{}
	for key, cred := range img.ScramCredentials() {
		t, ok := auth.ScramMechanismType(key.Mechanism)
		if !ok {
			continue
		}
		info := kmsg.NewDescribeUserSCRAMCredentialsResponseResultCredentialInfo()
		info.Mechanism, info.Iterations = t, cred.Iterations
		out[key.User] = append(out[key.User], info)
	}
	for _, infos := range out {
		slices.SortFunc(infos, func(a, b kmsg.DescribeUserSCRAMCredentialsResponseResultCredentialInfo) int {
			return int(a.Mechanism) - int(b.Mechanism)
		})
	}
	return out
}

// ScramLookup reads credentials from the current metadata image, for SCRAM exchanges.
func ScramLookup(meta *metadata.Store) auth.CredentialLookup {
	return func(user, mechanism string) (auth.ScramCredential, bool) {
		c, ok := meta.Image().ScramCredential(user, strings.ToUpper(mechanism))
		if !ok {
			return auth.ScramCredential{}, false
		}
		return auth.ScramCredential{Salt: c.Salt, Iterations: int(c.Iterations), StoredKey: c.StoredKey, ServerKey: c.ServerKey}, true
	}
}
