package group

import (
	"fmt"
	"slices"
	"strings"
)

// Listing is one group as ListGroups shows it.
type Listing struct {
	GroupID      string
	ProtocolType string
	State        string
	Type         string
}

// ListGroups lists the groups this broker coordinates, filtered by state and type
// names (case-insensitive; empty filters match everything). It also returns
// ErrLoadInProgress when some partition is still loading: the list is then incomplete.
func (c *Coordinator) ListGroups(states, types []string) ([]Listing, error) {
	shards, loading := c.loaded()
	var out []Listing
	for _, s := range shards {
		for _, g := range s.all() {
			g.lock()
			l := Listing{GroupID: g.id, ProtocolType: g.protocolType, State: g.state.String(), Type: classicType}
			if g.consumer != nil {
				l.State, l.Type = string(g.consumer.state()), consumerType
			}
			if g.share != nil {
				l.State, l.Type = string(g.share.state()), shareType
			}
			dead := g.state == Dead
			g.unlock()
			if dead || !matchesAny(states, l.State) || !matchesAny(types, l.Type) {
				continue
			}
			out = append(out, l)
		}
	}
	slices.SortFunc(out, func(a, b Listing) int { return strings.Compare(a.GroupID, b.GroupID) })
	if loading {
		return out, ErrLoadInProgress
	}
	return out, nil
}

func matchesAny(filter []string, s string) bool {
	return len(filter) == 0 || slices.ContainsFunc(filter, func(f string) bool { return strings.EqualFold(f, s) })
}

// Description is a group as DescribeGroups shows it.
type Description struct {
	GroupID      string
	State        string
	ProtocolType string
	Protocol     string
	Members      []MemberDescription
}

// MemberDescription is one member of a described group. Metadata and Assignment are
// set only while the group is Stable, as in Kafka.
type MemberDescription struct {
	MemberID   string
	InstanceID string
	ClientID   string
	ClientHost string
	Metadata   []byte
	Assignment []byte
}

// DescribeGroup describes a group; an unknown group is ErrGroupIDNotFound (with a Dead
// description, which older DescribeGroups versions return without an error).
func (c *Coordinator) DescribeGroup(groupID string) (Description, error) {
	d := Description{GroupID: groupID, State: Dead.String()}
	g, err := c.lockGroup(groupID, false)
	if err != nil {
		return d, err
	}
	if g == nil {
		return d, ErrGroupIDNotFound
	}
	defer g.unlock()
	if g.consumer != nil || g.share != nil {
		return d, fmt.Errorf("%w: group %s is not a classic group", ErrGroupIDNotFound, groupID)
	}
	d.State, d.ProtocolType = g.state.String(), g.protocolType
	stable := g.state == Stable
	if stable {
		d.Protocol = g.protocol
	}
	for _, m := range g.sortedMembersLocked() {
		md := MemberDescription{MemberID: m.id, InstanceID: m.instanceID, ClientID: m.clientID, ClientHost: m.clientHost}
		if stable {
			md.Metadata, _ = m.metadataFor(g.protocol)
			md.Assignment = m.assignment
		}
		d.Members = append(d.Members, md)
	}
	return d, nil
}

// DeleteGroup deletes an empty group and its offsets (DeleteGroups).
func (c *Coordinator) DeleteGroup(groupID string) error {
	if groupID == "" {
		return ErrInvalidGroupID
	}
	g, err := c.lockGroup(groupID, false)
	if err != nil {
		return err
	}
	if g == nil {
		return ErrGroupIDNotFound
	}
	defer g.unlock()
	if g.state != Empty {
		return ErrNonEmptyGroup
	}
	return g.deleteLocked()
}
