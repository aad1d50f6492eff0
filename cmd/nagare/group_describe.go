package main

// `nagare group describe` and `nagare group lag`, and what they share with
// reset-offsets: a group's state and members from DescribeGroups (classic
// groups) or ConsumerGroupDescribe (KIP-848 groups), its committed offsets
// from OffsetFetch and each partition's log end offset from ListOffsets.
//
// Lag follows kafka-consumer-groups.sh: it is the log end offset (the high
// watermark) minus the committed offset, and unknown ("-", null in JSON)
// for a partition the group has committed nothing to. Totals add up the
// known, positive lags.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupDescription is one group in `group describe --output json`.
type groupDescription struct {
	Group        string            `json:"group"`
	Type         string            `json:"type"` // "classic", or "consumer" for KIP-848 groups
	State        string            `json:"state"`
	ProtocolType string            `json:"protocol_type"`
	Protocol     string            `json:"protocol"` // the assignment strategy (assignor)
	Coordinator  groupCoordinator  `json:"coordinator"`
	Members      []groupMember     `json:"members"`
	Offsets      []partitionOffset `json:"offsets"`
	TotalLag     int64             `json:"total_lag"`
	ShareOffsets []shareOffset     `json:"share_offsets,omitempty"` // share groups (group_share.go)

	exists bool  // false for a group the cluster does not know
	err    error // why the group could not be described or its offsets fetched
}

// groupCoordinator is the broker that coordinates a group.
type groupCoordinator struct {
	ID   int32  `json:"id"`
	Host string `json:"host"`
	Port int32  `json:"port"`
}

// groupMember is one member of a described group.
type groupMember struct {
	MemberID   string            `json:"member_id"`
	InstanceID *string           `json:"instance_id"` // group.instance.id of a static member (KIP-345)
	ClientID   string            `json:"client_id"`
	Host       string            `json:"host"`
	Assignment []topicPartitions `json:"assignment"`
}

// topicPartitions is a topic and some of its partitions, sorted.
type topicPartitions struct {
	Topic      string  `json:"topic"`
	Partitions []int32 `json:"partitions"`
}

// partitionOffset is where a group stands in one partition. A partition
// appears when a member is assigned it or the group has committed to it.
type partitionOffset struct {
	Topic         string `json:"topic"`
	Partition     int32  `json:"partition"`
	CurrentOffset *int64 `json:"current_offset"` // the committed offset; null if none
	LogEndOffset  int64  `json:"log_end_offset"` // the high watermark; -1 if it could not be listed
	Lag           *int64 `json:"lag"`            // null when either offset is unknown
	MemberID      string `json:"member_id,omitempty"`
	ClientID      string `json:"client_id,omitempty"`
	Host          string `json:"host,omitempty"`
	Error         string `json:"error,omitempty"`
}

// newGroupDescribeCommand returns `nagare group describe`.
func newGroupDescribeCommand(cf *clientFlags) *cobra.Command {
	output := newChoice(outputTable, outputTable, outputJSON)
	var httpAddrs []string
	cmd := &cobra.Command{
		Use:   "describe [GROUP...]",
		Short: "Show the state, members, committed offsets and lag of groups",
		Long: `Describe groups: state, protocol, assignment strategy and coordinator; each
member (member id, group.instance.id, client id, host and the partitions
assigned to it); and per partition the committed offset, the log end offset
(high watermark) and the lag between them. Without GROUP arguments, every
group is described.`,
		Example: `  nagare group describe orders-app
  nagare group describe orders-app billing --output json
  nagare group describe jobs --http 10.0.0.1:9644 --http 10.0.0.2:9644   # share group in-flight counts`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cf.validate(cmd); err != nil {
				return err
			}
			return cf.explain(describeGroups(cmd.Context(), cf, cmd.OutOrStdout(), uniqueStrings(args), output.value, httpAddrs))
		},
	}
	cmd.Flags().VarP(output, "output", "o", "output format")
	cmd.Flags().StringArrayVar(&httpAddrs, "http", nil,
		"a broker's HTTP address (nagare serve --http), repeatable: share groups' in-flight and acquired counts per partition come from the partitions' leaders")
	return cmd
}

func describeGroups(ctx context.Context, cf *clientFlags, out io.Writer, names []string, output string, httpAddrs []string) error {
	groups, problems, err := loadGroups(ctx, cf, names)
	if err != nil {
		return err
	}
	if len(httpAddrs) > 0 {
		problems = append(problems, addShareInFlight(ctx, httpAddrs, groups)...)
	}
	if output == outputJSON {
		err = writeJSON(out, groups)
	} else {
		for i, g := range groups {
			if i > 0 {
				fmt.Fprintln(out)
			}
			if err = printGroupDescription(out, g); err != nil {
				break
			}
		}
	}
	return errors.Join(append(problems, err)...)
}

// loadGroups describes the named groups, or every group if none is named,
// with their offsets and lag. Groups that do not exist or could not be
// described come back as problems; the rest are described in order.
func loadGroups(ctx context.Context, cf *clientFlags, names []string) ([]groupDescription, []error, error) {
	adm, err := newGroupAdmin(cf)
	if err != nil {
		return nil, nil, err
	}
	defer adm.Close()
	ctx, cancel := cf.withTimeout(ctx)
	defer cancel()

	if len(names) == 0 {
		listed, err := adm.ListGroups(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("list groups: %w", err)
		}
		names = listed.Groups()
	}
	views, err := describeGroupViews(ctx, adm, names)
	if err != nil {
		return nil, nil, err
	}
	if err := addOffsets(ctx, adm, views); err != nil {
		return nil, nil, err
	}
	groups := []groupDescription{}
	var problems []error
	for _, name := range names {
		switch g := views[name]; {
		case g.err != nil:
			problems = append(problems, g.err)
		case !g.exists:
			problems = append(problems, fmt.Errorf("group %q does not exist", name))
		default:
			groups = append(groups, *g)
		}
	}
	return groups, problems, nil
}

// describeGroupViews describes groups without their offsets. A group the
// cluster lists as a KIP-848 consumer group is described with
// ConsumerGroupDescribe, any other with DescribeGroups; a group that
// DescribeGroups does not know is tried as a KIP-848 group too, since Kafka
// 4 describes those as missing there. An error is returned only when
// nothing could be asked; per-group failures are in each group's err.
func describeGroupViews(ctx context.Context, adm groupAdmin, names []string) (map[string]*groupDescription, error) {
	views := make(map[string]*groupDescription, len(names))
	for _, name := range names {
		views[name] = &groupDescription{Group: name, Members: []groupMember{}, Offsets: []partitionOffset{}}
	}
	// Brokers before Kafka 3.8 ignore the type filter and report no types.
	var classic, modern, unknown, shares []string
	typed, _ := adm.ListGroupsByType(ctx, []string{"consumer", shareGroupType})
	for _, name := range names {
		if typed[name].GroupType == "consumer" {
			modern = append(modern, name)
		} else if typed[name].GroupType == shareGroupType {
			shares = append(shares, name)
		} else {
			classic = append(classic, name)
		}
	}

	if len(classic) > 0 {
		described, err := adm.DescribeGroups(ctx, classic...)
		if _, partial := errors.AsType[*kadm.ShardErrors](err); err != nil && !partial {
			return nil, fmt.Errorf("describe groups: %w", err)
		}
		for _, name := range classic {
			d, ok := described[name]
			switch {
			case !ok:
				views[name].err = groupError("describe", name, shardError(err), "")
			case errors.Is(d.Err, kerr.GroupIDNotFound), d.Err == nil && d.State == "Dead":
				unknown = append(unknown, name)
			case d.Err != nil:
				views[name].err = groupError("describe", name, d.Err, d.ErrMessage)
			default:
				setClassicView(views[name], d)
			}
		}
	}

	if len(modern)+len(unknown) > 0 {
		described, err := describeConsumerGroups(ctx, adm, append(modern, unknown...))
		for _, name := range modern {
			d, ok := described[name]
			switch {
			case !ok:
				views[name].err = groupError("describe", name, err, "")
			case d.err != nil && !errors.Is(d.err, kerr.GroupIDNotFound):
				views[name].err = groupError("describe", name, d.err, "")
			case d.err == nil:
				views[name] = d
			}
		}
		// For groups DescribeGroups did not know, any failure here (a
		// broker without KIP-848 groups refuses the request) means the
		// group does not exist.
		for _, name := range unknown {
			if d, ok := described[name]; ok && d.err == nil {
				views[name] = d
			}
		}
	}
	describeShareGroupViews(ctx, adm, shares, views)
	return views, nil
}

// shardError is the first error of a *kadm.ShardErrors, or err itself: the
// reason a group is missing from a sharded response.
func shardError(err error) error {
	if se, ok := errors.AsType[*kadm.ShardErrors](err); ok && len(se.Errs) > 0 {
		return se.Errs[0].Err
	}
	if err == nil {
		return errors.New("missing from the response")
	}
	return err
}

// setClassicView fills g from DescribeGroups. Assignments are readable only
// for the "consumer" protocol type, and only while the group is Stable.
func setClassicView(g *groupDescription, d kadm.DescribedGroup) {
	g.exists = true
	g.Type = "classic"
	g.State, g.ProtocolType, g.Protocol = d.State, d.ProtocolType, d.Protocol
	g.Coordinator = groupCoordinator{ID: d.Coordinator.NodeID, Host: d.Coordinator.Host, Port: d.Coordinator.Port}
	for _, m := range d.Members {
		assigned := make(kadm.TopicsSet)
		if c, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range c.Topics {
				assigned.Add(t.Topic, t.Partitions...)
			}
		}
		g.Members = append(g.Members, groupMember{
			MemberID: m.MemberID, InstanceID: m.InstanceID, ClientID: m.ClientID, Host: m.ClientHost,
			Assignment: sortedTopics(assigned),
		})
	}
	sortMembers(g.Members)
}

// describeConsumerGroups describes KIP-848 groups with
// ConsumerGroupDescribe. It asks directly rather than through kadm, which
// keeps only the topic names of assignments: a broker may send only topic
// IDs, which are named here through Metadata. A group missing from the
// result could not be asked about, for the reason returned.
func describeConsumerGroups(ctx context.Context, adm groupAdmin, names []string) (map[string]*groupDescription, error) {
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Groups = names
	type answer struct {
		group       kmsg.ConsumerGroupDescribeResponseGroup
		coordinator kgo.BrokerMetadata
	}
	var (
		answers  []answer
		shardErr error
		unnamed  bool // some assignment has a topic ID without its name
	)
	for _, shard := range adm.raw.RequestSharded(ctx, req) {
		if shard.Err != nil {
			shardErr = cmp.Or(shardErr, shard.Err)
			continue
		}
		for _, rg := range shard.Resp.(*kmsg.ConsumerGroupDescribeResponse).Groups {
			answers = append(answers, answer{rg, shard.Meta})
			for _, m := range rg.Members {
				unnamed = unnamed || slices.ContainsFunc(m.Assignment.TopicPartitions,
					func(tp kmsg.AssignmentTopicPartition) bool { return tp.Topic == "" })
			}
		}
	}
	topicNames := make(map[kadm.TopicID]string)
	if unnamed {
		// Without names, assignments show the topic IDs instead.
		topics, _ := adm.ListTopics(ctx)
		for _, td := range topics {
			topicNames[td.ID] = td.Topic
		}
	}

	described := make(map[string]*groupDescription, len(answers))
	for _, a := range answers {
		rg := a.group
		g := &groupDescription{
			Group: rg.Group, Type: "consumer", State: rg.State, ProtocolType: "consumer", Protocol: rg.AssignorName,
			Coordinator: groupCoordinator{ID: a.coordinator.NodeID, Host: a.coordinator.Host, Port: a.coordinator.Port},
			Members:     []groupMember{}, Offsets: []partitionOffset{}, exists: true,
		}
		if g.err = kerr.ErrorForCode(rg.ErrorCode); g.err != nil && rg.ErrorMessage != nil {
			g.err = fmt.Errorf("%w (broker says: %s)", g.err, *rg.ErrorMessage)
		}
		for _, m := range rg.Members {
			assigned := make(kadm.TopicsSet)
			for _, tp := range m.Assignment.TopicPartitions {
				topic := cmp.Or(tp.Topic, topicNames[kadm.TopicID(tp.TopicID)], topicIDString(tp.TopicID))
				assigned.Add(topic, tp.Partitions...)
			}
			g.Members = append(g.Members, groupMember{
				MemberID: m.MemberID, InstanceID: m.InstanceID, ClientID: m.ClientID, Host: m.ClientHost,
				Assignment: sortedTopics(assigned),
			})
		}
		sortMembers(g.Members)
		described[rg.Group] = g
	}
	return described, cmp.Or(shardErr, errors.New("missing from the response"))
}

// sortMembers orders members as kadm does: static members by instance id
// first, then the rest by member id.
func sortMembers(members []groupMember) {
	slices.SortStableFunc(members, func(a, b groupMember) int {
		switch {
		case a.InstanceID != nil && b.InstanceID != nil:
			return strings.Compare(*a.InstanceID, *b.InstanceID)
		case a.InstanceID != nil:
			return -1
		case b.InstanceID != nil:
			return 1
		}
		return strings.Compare(a.MemberID, b.MemberID)
	})
}

func sortedTopics(s kadm.TopicsSet) []topicPartitions {
	out := []topicPartitions{}
	for _, t := range s.Sorted() {
		if len(t.Partitions) > 0 {
			out = append(out, topicPartitions{Topic: t.Topic, Partitions: t.Partitions})
		}
	}
	return out
}

// addOffsets fetches the committed offsets of the groups that exist and the
// log end offsets of every partition they are assigned or committed to, and
// fills in each group's Offsets and TotalLag.
func addOffsets(ctx context.Context, adm groupAdmin, views map[string]*groupDescription) error {
	var names []string
	for name, g := range views {
		if g.exists && g.err == nil && g.Type != shareGroupType {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	slices.Sort(names)
	fetched := adm.FetchManyOffsets(ctx, names...)
	topics := make(kadm.TopicsSet)
	for _, name := range names {
		g := views[name]
		r, err := fetched.On(name, nil)
		if err == nil {
			err = r.Err
		}
		if err != nil {
			g.err = groupError("fetch the committed offsets of", name, err, "")
			continue
		}
		for _, m := range g.Members {
			for _, t := range m.Assignment {
				topics.Add(t.Topic, t.Partitions...)
			}
		}
		topics.Merge(r.Fetched.Partitions())
	}
	var ends kadm.ListedOffsets
	if len(topics) > 0 {
		var err error
		ends, err = adm.ListEndOffsets(ctx, topics.Topics()...)
		if _, partial := errors.AsType[*kadm.ShardErrors](err); err != nil && !partial {
			return fmt.Errorf("list log end offsets: %w", err)
		}
	}
	for _, name := range names {
		if g := views[name]; g.err == nil {
			g.Offsets = partitionOffsets(g.Members, fetched[name].Fetched, ends)
			g.TotalLag = totalLag(g.Offsets)
		}
	}
	return nil
}

// partitionOffsets lines up, per partition, the member assigned it, the
// group's committed offset and the log end offset, sorted by topic and
// partition.
func partitionOffsets(members []groupMember, committed kadm.OffsetResponses, ends kadm.ListedOffsets) []partitionOffset {
	type key struct {
		topic     string
		partition int32
	}
	rows := make(map[key]*partitionOffset)
	row := func(topic string, partition int32) *partitionOffset {
		k := key{topic, partition}
		if rows[k] == nil {
			rows[k] = &partitionOffset{Topic: topic, Partition: partition, LogEndOffset: -1}
		}
		return rows[k]
	}
	for _, m := range members {
		for _, t := range m.Assignment {
			for _, p := range t.Partitions {
				r := row(t.Topic, p)
				r.MemberID, r.ClientID, r.Host = m.MemberID, m.ClientID, m.Host
			}
		}
	}
	committed.Each(func(o kadm.OffsetResponse) {
		r := row(o.Topic, o.Partition)
		if o.Err != nil {
			r.Error = o.Err.Error()
		} else if o.At >= 0 {
			r.CurrentOffset = &o.At
		}
	})
	out := make([]partitionOffset, 0, len(rows))
	for _, r := range rows {
		end, ok := ends.Lookup(r.Topic, r.Partition)
		if topicErr, failed := ends.Lookup(r.Topic, -1); !ok && failed {
			end = topicErr
		}
		switch {
		case end.Err != nil && errors.Is(end.Err, kerr.UnknownTopicOrPartition):
			r.Error = "topic or partition does not exist"
		case end.Err != nil:
			r.Error = "list log end offset: " + end.Err.Error()
		case !ok:
			r.Error = "log end offset not listed"
		default:
			r.LogEndOffset = end.Offset
		}
		if r.CurrentOffset != nil && r.LogEndOffset >= 0 {
			lag := r.LogEndOffset - *r.CurrentOffset
			r.Lag = &lag
		}
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b partitionOffset) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	})
	return out
}

// totalLag adds up the known, positive lags of offsets.
func totalLag(offsets []partitionOffset) int64 {
	var total int64
	for _, o := range offsets {
		if o.Lag != nil && *o.Lag > 0 {
			total += *o.Lag
		}
	}
	return total
}

func printGroupDescription(out io.Writer, g groupDescription) error {
	tw := newTable(out)
	fmt.Fprintf(tw, "Group:\t%s\n", g.Group)
	fmt.Fprintf(tw, "State:\t%s\n", g.State)
	fmt.Fprintf(tw, "Type:\t%s\n", g.Type)
	fmt.Fprintf(tw, "Protocol type:\t%s\n", orDash(g.ProtocolType))
	fmt.Fprintf(tw, "Assignment strategy:\t%s\n", orDash(g.Protocol))
	fmt.Fprintf(tw, "Coordinator:\t%d (%s:%d)\n", g.Coordinator.ID, g.Coordinator.Host, g.Coordinator.Port)
	fmt.Fprintf(tw, "Members:\t%d\n", len(g.Members))
	fmt.Fprintf(tw, "Total lag:\t%d\n", g.TotalLag)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(g.Members) > 0 {
		fmt.Fprintln(out)
		tw = newTable(out)
		fmt.Fprintln(tw, "MEMBER-ID\tINSTANCE-ID\tCLIENT-ID\tHOST\tASSIGNMENT")
		for _, m := range g.Members {
			instance := "-"
			if m.InstanceID != nil {
				instance = *m.InstanceID
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.MemberID, instance, orDash(m.ClientID), orDash(m.Host),
				assignmentString(m.Assignment))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(g.ShareOffsets) > 0 {
		fmt.Fprintln(out)
		return printShareOffsetTable(out, g)
	}
	if len(g.Offsets) > 0 {
		fmt.Fprintln(out)
		return printOffsetTable(out, []groupDescription{g}, false)
	}
	return nil
}

// printOffsetTable prints the offsets of groups, one partition a line; the
// GROUP column only when asked (lag prints several groups in one table).
func printOffsetTable(out io.Writer, groups []groupDescription, groupColumn bool) error {
	withErrors := slices.ContainsFunc(groups, func(g groupDescription) bool {
		return slices.ContainsFunc(g.Offsets, func(o partitionOffset) bool { return o.Error != "" })
	})
	tw := newTable(out)
	header := "TOPIC\tPARTITION\tCURRENT-OFFSET\tLOG-END-OFFSET\tLAG\tMEMBER-ID"
	if groupColumn {
		header = "GROUP\t" + header
	}
	if withErrors {
		header += "\tERROR"
	}
	fmt.Fprintln(tw, header)
	for _, g := range groups {
		for _, o := range g.Offsets {
			if groupColumn {
				fmt.Fprintf(tw, "%s\t", g.Group)
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s", o.Topic, o.Partition, offsetString(o.CurrentOffset),
				offsetString(nonNegative(o.LogEndOffset)), offsetString(o.Lag), orDash(o.MemberID))
			if withErrors {
				fmt.Fprintf(tw, "\t%s", o.Error)
			}
			fmt.Fprintln(tw)
		}
	}
	return tw.Flush()
}

// assignmentString formats an assignment as "orders:0-2 users:1".
func assignmentString(topics []topicPartitions) string {
	if len(topics) == 0 {
		return "-"
	}
	parts := make([]string, len(topics))
	for i, t := range topics {
		parts[i] = t.Topic + ":" + partitionList(t.Partitions)
	}
	return strings.Join(parts, " ")
}

// offsetString formats an optional offset or lag, "-" when unknown.
func offsetString(o *int64) string {
	if o == nil {
		return "-"
	}
	return fmt.Sprint(*o)
}

func nonNegative(o int64) *int64 {
	if o < 0 {
		return nil
	}
	return &o
}

// newGroupLagCommand returns `nagare group lag`.
func newGroupLagCommand(cf *clientFlags) *cobra.Command {
	output := newChoice(outputTable, outputTable, outputJSON)
	cmd := &cobra.Command{
		Use:   "lag GROUP...",
		Short: "Show how far groups are behind, per partition and in total",
		Long: `Show the lag of groups: per partition the committed offset, the log end offset
(high watermark) and the difference, then the total per topic and per group.
A partition the group has committed nothing to shows "-" and adds nothing
to the totals.`,
		Example: `  nagare group lag orders-app
  nagare group lag orders-app --output json | jq .[0].total_lag`,
		Args: minArgs(1, "GROUP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cf.validate(cmd); err != nil {
				return err
			}
			return cf.explain(showGroupLag(cmd.Context(), cf, cmd.OutOrStdout(), uniqueStrings(args), output.value))
		},
	}
	cmd.Flags().VarP(output, "output", "o", "output format")
	return cmd
}

// groupLag is one group in `group lag --output json`.
type groupLag struct {
	Group    string            `json:"group"`
	State    string            `json:"state"`
	Offsets  []partitionOffset `json:"offsets"`
	Topics   []topicLag        `json:"topics"`
	TotalLag int64             `json:"total_lag"`
}

// topicLag is the total lag of a group on one topic.
type topicLag struct {
	Topic string `json:"topic"`
	Lag   int64  `json:"lag"`
}

func showGroupLag(ctx context.Context, cf *clientFlags, out io.Writer, names []string, output string) error {
	groups, problems, err := loadGroups(ctx, cf, names)
	if err != nil {
		return err
	}
	lags := make([]groupLag, 0, len(groups))
	for _, g := range groups {
		l := groupLag{Group: g.Group, State: g.State, Offsets: g.Offsets, Topics: []topicLag{}, TotalLag: g.TotalLag}
		for _, o := range g.Offsets {
			if len(l.Topics) == 0 || l.Topics[len(l.Topics)-1].Topic != o.Topic {
				l.Topics = append(l.Topics, topicLag{Topic: o.Topic})
			}
			if o.Lag != nil && *o.Lag > 0 {
				l.Topics[len(l.Topics)-1].Lag += *o.Lag
			}
		}
		lags = append(lags, l)
	}
	if output == outputJSON {
		err = writeJSON(out, lags)
	} else if len(groups) > 0 {
		err = printGroupLag(out, groups, lags)
	}
	return errors.Join(append(problems, err)...)
}

func printGroupLag(out io.Writer, groups []groupDescription, lags []groupLag) error {
	if err := printOffsetTable(out, groups, true); err != nil {
		return err
	}
	fmt.Fprintln(out)
	tw := newTable(out)
	fmt.Fprintln(tw, "GROUP\tSTATE\tTOPIC\tLAG")
	for _, l := range lags {
		for _, t := range l.Topics {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", l.Group, l.State, t.Topic, t.Lag)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", l.Group, l.State, "(all)", l.TotalLag)
	}
	return tw.Flush()
}
