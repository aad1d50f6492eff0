package main

import (
	"context"
	"fmt"
	"net/url"
)

// shareInFlight is one share-partition's in-flight records as its data leader reports
// them on /v1/share-groups (internal/share.PartitionView's JSON).
type shareInFlight struct {
	Group     string `json:"group"`
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	InFlight  int    `json:"in_flight"`
	Acquired  int    `json:"acquired"`
}

// addShareInFlight fills the in-flight and acquired counts of the share groups' rows from
// the brokers' HTTP endpoints (nagare serve --http): only a partition's leader holds
// them, and no Kafka API carries them, so every broker is asked. A broker that cannot be
// read is reported and the others still count.
func addShareInFlight(ctx context.Context, addrs []string, groups []groupDescription) []error {
	var problems []error
	for i := range groups {
		g := &groups[i]
		if len(g.ShareOffsets) == 0 {
			continue
		}
		for _, addr := range addrs {
			var views []shareInFlight
			if err := newBrokerHTTP(addr).get(ctx, "/v1/share-groups?group="+url.QueryEscape(g.Group), &views); err != nil {
				// %v, not %w: a dial error here is about --http, and the CLI would
				// otherwise explain it as the Kafka bootstrap being unreachable.
				problems = append(problems, fmt.Errorf("in-flight counts of %q from %s: %v", g.Group, addr, err))
				continue
			}
			applyShareInFlight(g.ShareOffsets, views)
		}
	}
	return problems
}

// applyShareInFlight sets the counts on the rows the views describe.
func applyShareInFlight(rows []shareOffset, views []shareInFlight) {
	for _, v := range views {
		for j := range rows {
			r := &rows[j]
			if r.Topic == v.Topic && r.Partition == v.Partition {
				inFlight, acquired := v.InFlight, v.Acquired
				r.InFlight, r.Acquired = &inFlight, &acquired
			}
		}
	}
}
