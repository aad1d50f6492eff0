package main

// Share groups (KIP-932) in `nagare group describe`: members and assignments from
// ShareGroupDescribe, and per partition the share-partition start offset and lag from
// DescribeShareGroupOffsets, beside the log end offset from ListOffsets, as Kafka's
// kafka-share-groups.sh --describe shows them. Lag is the broker's (KIP-1226: the high
// watermark less the start offset and the records already acknowledged or archived
// past it) when it gives one, else the high watermark less the start offset.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// shareGroupType is the group type ListGroups reports for share groups.
const shareGroupType = "share"

// shareOffset is where a share group stands in one partition.
type shareOffset struct {
	Topic        string   `json:"topic"`
	Partition    int32    `json:"partition"`
	StartOffset  *int64   `json:"start_offset"` // the share-partition start offset; null if none
	LeaderEpoch  int32    `json:"leader_epoch"`
	LogEndOffset int64    `json:"log_end_offset"` // the high watermark; -1 if not listed
	Lag          *int64   `json:"lag"`
	Members      []string `json:"members"` // a share-partition may have several consumers
	// InFlight and Acquired are the data leader's counts (records between the start and
	// end offsets; records held by consumers), read only with describe --http.
	InFlight *int   `json:"in_flight,omitempty"`
	Acquired *int   `json:"acquired,omitempty"`
	Error    string `json:"error,omitempty"`
}

// describeShareGroupViews fills the views of share groups. A group the cluster does
// not know is left not existing; other failures are in its err.
func describeShareGroupViews(ctx context.Context, adm groupAdmin, names []string, views map[string]*groupDescription) {
	if len(names) == 0 {
		return
	}
	described, err := adm.DescribeShareGroups(ctx, names...)
	offsets, oerr := adm.DescribeShareGroupOffsets(ctx, names...)
	topics := make(kadm.TopicsSet)
	for _, name := range names {
		d, ok := described[name]
		switch {
		case !ok:
			views[name].err = groupError("describe", name, shardError(cmpErr(err)), "")
			continue
		case errors.Is(d.Err, kerr.GroupIDNotFound):
			continue
		case d.Err != nil:
			views[name].err = groupError("describe", name, d.Err, "")
			continue
		}
		setShareView(views[name], d)
		o, ok := offsets[name]
		switch {
		case !ok:
			views[name].err = groupError("describe the offsets of", name, shardError(cmpErr(oerr)), "")
		case o.Err != nil:
			views[name].err = groupError("describe the offsets of", name, o.Err, "")
		default:
			views[name].ShareOffsets = shareRows(views[name].Members, o.Offsets)
		}
		for _, r := range views[name].ShareOffsets {
			topics.Add(r.Topic, r.Partition)
		}
	}
	var ends kadm.ListedOffsets
	if len(topics) > 0 {
		ends, _ = adm.ListEndOffsets(ctx, topics.Topics()...) // a missing end shows as "-"
	}
	for _, name := range names {
		if g := views[name]; g.exists && g.err == nil {
			g.TotalLag = addShareEnds(g.ShareOffsets, ends)
		}
	}
}

func cmpErr(err error) error {
	if err == nil {
		return errors.New("missing from the response")
	}
	return err
}

func setShareView(g *groupDescription, d kadm.DescribedShareGroup) {
	g.Type, g.State, g.Protocol, g.exists = shareGroupType, d.GroupState, d.Assignor, true
	g.Coordinator = groupCoordinator{ID: d.Coordinator.NodeID, Host: d.Coordinator.Host, Port: d.Coordinator.Port}
	for _, m := range d.Members {
		g.Members = append(g.Members, groupMember{MemberID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost,
			Assignment: sortedTopics(m.Assignment)})
	}
	sortMembers(g.Members)
}

// shareRows lines up, per partition with state or assigned, its start offset and the
// members assigned it, sorted by topic and partition.
func shareRows(members []groupMember, offsets kadm.ShareOffsets) []shareOffset {
	type key struct {
		topic     string
		partition int32
	}
	rows := map[key]*shareOffset{}
	row := func(topic string, p int32) *shareOffset {
		k := key{topic, p}
		if rows[k] == nil {
			rows[k] = &shareOffset{Topic: topic, Partition: p, LeaderEpoch: -1, LogEndOffset: -1, Members: []string{}}
		}
		return rows[k]
	}
	for _, m := range members {
		for _, t := range m.Assignment {
			for _, p := range t.Partitions {
				r := row(t.Topic, p)
				r.Members = append(r.Members, m.MemberID)
			}
		}
	}
	offsets.Each(func(o kadm.ShareOffset) {
		r := row(o.Topic, o.Partition)
		switch {
		case o.Err != nil:
			r.Error = o.Err.Error()
		case o.StartOffset >= 0:
			start := o.StartOffset
			r.StartOffset, r.LeaderEpoch = &start, o.LeaderEpoch
			if o.Lag >= 0 {
				lag := o.Lag
				r.Lag = &lag
			}
		}
	})
	out := make([]shareOffset, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b shareOffset) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	})
	return out
}

// addShareEnds sets each row's log end offset, and its lag where the broker gave
// none, and returns the total of the known lags.
func addShareEnds(rows []shareOffset, ends kadm.ListedOffsets) int64 {
	var total int64
	for i := range rows {
		r := &rows[i]
		if end, ok := ends.Lookup(r.Topic, r.Partition); ok && end.Err == nil {
			r.LogEndOffset = end.Offset
		}
		if r.Lag == nil && r.StartOffset != nil && r.LogEndOffset >= 0 {
			lag := max(r.LogEndOffset-*r.StartOffset, 0)
			r.Lag = &lag
		}
		if r.Lag != nil {
			total += *r.Lag
		}
	}
	return total
}

// countString prints a count, or "-" when no broker reported it.
func countString(n *int) string {
	if n == nil {
		return "-"
	}
	return fmt.Sprint(*n)
}

// printShareOffsetTable prints a share group's partitions, one a line.
func printShareOffsetTable(out io.Writer, g groupDescription) error {
	tw := newTable(out)
	inFlight := slices.ContainsFunc(g.ShareOffsets, func(o shareOffset) bool { return o.InFlight != nil })
	header := "TOPIC\tPARTITION\tSTART-OFFSET\tLOG-END-OFFSET\tLAG"
	if inFlight {
		header += "\tIN-FLIGHT\tACQUIRED"
	}
	fmt.Fprintln(tw, header+"\tMEMBERS\tERROR")
	for _, o := range g.ShareOffsets {
		members := "-"
		if len(o.Members) > 0 {
			members = strings.Join(o.Members, ",")
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s", o.Topic, o.Partition, offsetString(o.StartOffset),
			offsetString(nonNegative(o.LogEndOffset)), offsetString(o.Lag))
		if inFlight {
			fmt.Fprintf(tw, "\t%s\t%s", countString(o.InFlight), countString(o.Acquired))
		}
		fmt.Fprintf(tw, "\t%s\t%s\n", members, orDash(o.Error))
	}
	return tw.Flush()
}
