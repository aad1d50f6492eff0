package api

// ListGroups (key 16), v0-v5.
//
// Behaviour: the groups this broker coordinates, with their protocol type; v4+ adds
// each group's state and filters by state (KIP-518), v5 adds the group type ("classic", or
// "consumer" for KIP-848 groups, whose states are Empty, Reconciling and Stable) and
// filters by type (KIP-848); filters match case-insensitively, as Kafka's do. While
// a __consumer_offsets partition is still loading, the error is
// COORDINATOR_LOAD_IN_PROGRESS and the list holds the groups already loaded. v3 is
// flexible.
//
// Differs from Kafka: an empty KIP-848 group whose coordinator restarted is listed as
// classic until a member rejoins (its membership is not persisted; see key 68).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
)

func (d *Dispatcher) handleListGroups(_ context.Context, r *request) {
	req := r.body.(*kmsg.ListGroupsRequest)
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	groups, err := d.cfg.Groups.ListGroups(req.StatesFilter, req.TypesFilter)
	resp.ErrorCode = errorCode(err)
	all := d.authorizedCluster(r, acl.OpDescribe) // else only the groups it may DESCRIBE
	for _, g := range groups {
		if !all && !d.authorizedGroup(r, acl.OpDescribe, g.GroupID) {
			continue
		}
		rg := kmsg.NewListGroupsResponseGroup()
		rg.Group, rg.ProtocolType, rg.GroupState, rg.GroupType = g.GroupID, g.ProtocolType, g.State, g.Type
		resp.Groups = append(resp.Groups, rg)
	}
	r.respond(resp)
}
