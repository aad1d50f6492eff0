package main

// `nagare group`: list, describe, show the lag of, reset the offsets of and
// delete consumer groups, as Kafka's kafka-consumer-groups.sh does, through
// the Kafka admin APIs only (ListGroups, DescribeGroups,
// ConsumerGroupDescribe, OffsetFetch, ListOffsets, OffsetCommit,
// DeleteGroups, OffsetDelete), so it works against any Kafka-compatible
// cluster. group_describe.go gathers a group's members, committed offsets and
// lag; group_offsets.go resets and deletes committed offsets.

import (
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
)

// newGroupCommand returns `nagare group` and its subcommands.
func newGroupCommand() *cobra.Command {
	cf := new(clientFlags)
	cmd := &cobra.Command{
		Use:     "group",
		Aliases: []string{"groups"},
		Short:   "List, describe, show the lag of, reset and delete consumer groups",
		Long: `Manage consumer groups on any Kafka-compatible cluster through the Kafka admin
APIs, as Kafka's kafka-consumer-groups.sh does. Classic groups, KIP-848
consumer groups and KIP-932 share groups (list, describe, delete) are understood.`,
		Example: `  nagare group list --state Stable
  nagare group describe orders-app
  nagare group lag orders-app --output json
  nagare group reset-offsets orders-app --topic orders --to-earliest --execute`,
		Args: noSubcommand,
		RunE: showHelp,
	}
	cf.register(cmd.PersistentFlags(), "nagare-cli")
	cmd.AddCommand(
		newGroupListCommand(cf),
		newGroupDescribeCommand(cf),
		newGroupLagCommand(cf),
		newGroupResetOffsetsCommand(cf),
		newGroupDeleteCommand(cf),
		newGroupDeleteOffsetsCommand(cf),
	)
	return cmd
}

// groupStates are the states of classic and KIP-848 groups, as Kafka spells
// them; --state matches them case-insensitively.
var groupStates = []string{
	"Stable", "Empty", "PreparingRebalance", "CompletingRebalance", "Dead", // classic
	"Assigning", "Reconciling", // KIP-848 consumer groups
}

// newGroupListCommand returns `nagare group list`, built from ListGroups.
func newGroupListCommand(cf *clientFlags) *cobra.Command {
	output := newChoice(outputTable, outputTable, outputJSON)
	var states []string
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List groups with their state, protocol type and group type",
		Long: `List the groups of every broker with ListGroups: each group's state (Kafka
2.6+), protocol type ("consumer" for consumers, "connect" for Kafka Connect)
and group type (Kafka 3.8+: "classic", or "consumer" for KIP-848 groups).`,
		Example: `  nagare group list
  nagare group list --state Empty,Dead --output json | jq -r '.[].group'`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cf.validate(cmd); err != nil {
				return err
			}
			filter, err := parseGroupStates(states)
			if err != nil {
				return usageError{cmd: cmd, err: err}
			}
			return cf.explain(listGroups(cmd.Context(), cf, cmd.OutOrStdout(), filter, output.value))
		},
	}
	cmd.Flags().VarP(output, "output", "o", "output format")
	cmd.Flags().StringSliceVar(&states, "state", nil,
		"only groups in these states (comma-separated): "+strings.Join(groupStates, ", "))
	return cmd
}

// parseGroupStates checks --state values and spells them as Kafka does, so
// that brokers which match them case-sensitively still find them.
func parseGroupStates(values []string) ([]string, error) {
	var states []string
	for _, v := range values {
		v = strings.TrimSpace(v)
		i := slices.IndexFunc(groupStates, func(s string) bool { return strings.EqualFold(s, v) })
		if i < 0 {
			return nil, fmt.Errorf("--state %q: want one of %s", v, strings.Join(groupStates, ", "))
		}
		if !slices.Contains(states, groupStates[i]) {
			states = append(states, groupStates[i])
		}
	}
	return states, nil
}

// groupSummary is one group in `group list --output json`. Type is empty
// when the broker does not report group types (before Kafka 3.8).
type groupSummary struct {
	Group        string `json:"group"`
	State        string `json:"state"`
	ProtocolType string `json:"protocol_type"`
	Type         string `json:"type"`
	Coordinator  int32  `json:"coordinator"`
}

func listGroups(ctx context.Context, cf *clientFlags, out io.Writer, states []string, output string) error {
	adm, ctx, done, err := openGroupAdmin(ctx, cf)
	if err != nil {
		return err
	}
	defer done()

	listed, err := adm.ListGroups(ctx, states...)
	if err != nil {
		return fmt.Errorf("list groups: %w", err)
	}
	groups := []groupSummary{}
	for _, g := range listed.Sorted() {
		// Brokers before Kafka 2.6 ignore the filter; apply it here too.
		if len(states) > 0 && !slices.ContainsFunc(states, func(s string) bool { return strings.EqualFold(s, g.State) }) {
			continue
		}
		groups = append(groups, groupSummary{
			Group:        g.Group,
			State:        g.State,
			ProtocolType: g.ProtocolType,
			Type:         g.GroupType,
			Coordinator:  g.Coordinator,
		})
	}
	if output == outputJSON {
		return writeJSON(out, groups)
	}
	tw := newTable(out)
	fmt.Fprintln(tw, "GROUP\tSTATE\tPROTOCOL-TYPE\tTYPE\tCOORDINATOR")
	for _, g := range groups {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", g.Group, orDash(g.State), orDash(g.ProtocolType), orDash(g.Type), g.Coordinator)
	}
	return tw.Flush()
}

// newGroupDeleteCommand returns `nagare group delete`, which issues one
// DeleteGroups request.
func newGroupDeleteCommand(cf *clientFlags) *cobra.Command {
	output := newChoice(outputTable, outputTable, outputJSON)
	cmd := &cobra.Command{
		Use:     "delete GROUP...",
		Aliases: []string{"rm"},
		Short:   "Delete groups with no members, and their committed offsets",
		Long: `Delete groups with DeleteGroups. The cluster deletes only groups without
members (state Empty); a group whose consumers are still running is refused
as not empty.`,
		Example: `  nagare group delete orders-app
  nagare group delete old-1 old-2 --output json`,
		Args: minArgs(1, "GROUP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cf.validate(cmd); err != nil {
				return err
			}
			return cf.explain(deleteGroups(cmd.Context(), cf, cmd.OutOrStdout(), uniqueStrings(args), output.value))
		},
	}
	cmd.Flags().VarP(output, "output", "o", "output format")
	return cmd
}

// groupDeletion is one group in `group delete --output json`.
type groupDeletion struct {
	Group   string `json:"group"`
	Deleted bool   `json:"deleted"`
	Error   string `json:"error,omitempty"`
}

func deleteGroups(ctx context.Context, cf *clientFlags, out io.Writer, groups []string, output string) error {
	adm, ctx, done, err := openGroupAdmin(ctx, cf)
	if err != nil {
		return err
	}
	defer done()

	resps, err := adm.DeleteGroups(ctx, groups...)
	if err != nil && len(resps) == 0 {
		return fmt.Errorf("delete groups: %w", err)
	}
	var (
		results  []groupDeletion
		problems []error
	)
	for _, g := range groups {
		r, rerr := resps.On(g, nil)
		if rerr == nil {
			rerr = r.Err
		} else if err != nil {
			rerr = err // the coordinator of this group did not answer
		}
		if rerr != nil {
			if errors.Is(rerr, kerr.NonEmptyGroup) {
				rerr = nonEmptyGroupError(ctx, adm, g)
			} else {
				rerr = groupError("delete", g, rerr, r.ErrMessage)
			}
			problems = append(problems, rerr)
			results = append(results, groupDeletion{Group: g, Error: rerr.Error()})
			continue
		}
		results = append(results, groupDeletion{Group: g, Deleted: true})
	}
	if output == outputJSON {
		err = writeJSON(out, results)
	} else {
		for _, r := range results {
			if r.Deleted {
				fmt.Fprintf(out, "Deleted group %q.\n", r.Group)
			}
		}
	}
	return errors.Join(append(problems, err)...)
}

// nonEmptyGroupError says why the cluster refused to delete group: it has
// members. It describes the group to say how many, in which state.
func nonEmptyGroupError(ctx context.Context, adm groupAdmin, group string) error {
	views, _ := describeGroupViews(ctx, adm, []string{group})
	if v, ok := views[group]; ok && v.err == nil && len(v.Members) > 0 {
		return fmt.Errorf("group %q is not empty: it is %s with %s; stop its consumers first",
			group, v.State, plural(len(v.Members), "member"))
	}
	return fmt.Errorf("group %q is not empty: it still has members; stop its consumers first", group)
}

// groupError names the group and the action in err, and turns the Kafka
// codes an operator meets most into plain words.
func groupError(action, group string, err error, brokerMessage string) error {
	switch {
	case errors.Is(err, kerr.GroupIDNotFound):
		return fmt.Errorf("group %q does not exist", group)
	case errors.Is(err, kerr.InvalidGroupID):
		return fmt.Errorf("%q is not a valid group id", group)
	case errors.Is(err, kerr.NonEmptyGroup):
		return fmt.Errorf("group %q is not empty: it still has members; stop its consumers first", group)
	}
	var kafkaErr *kerr.Error
	if brokerMessage != "" && errors.As(err, &kafkaErr) && !strings.Contains(kafkaErr.Description, brokerMessage) {
		return fmt.Errorf("%s group %q: %w (broker says: %s)", action, group, err, brokerMessage)
	}
	return fmt.Errorf("%s group %q: %w", action, group, err)
}

// groupAdmin is an admin client that can also send requests whose kadm
// wrapper drops what the group commands show (ConsumerGroupDescribe).
// Closing it closes raw.
type groupAdmin struct {
	*kadm.Client
	raw *kgo.Client
}

// newGroupAdmin is clientFlags.newAdmin, keeping the franz-go client.
func newGroupAdmin(cf *clientFlags) (groupAdmin, error) {
	cl, err := cf.newClient()
	if err != nil {
		return groupAdmin{}, err
	}
	return groupAdmin{Client: cf.adminFor(cl), raw: cl}, nil
}

// openGroupAdmin is openAdmin for the group commands.
func openGroupAdmin(ctx context.Context, cf *clientFlags) (groupAdmin, context.Context, func(), error) {
	adm, err := newGroupAdmin(cf)
	if err != nil {
		return groupAdmin{}, nil, nil, err
	}
	ctx, cancel := cf.withTimeout(ctx)
	return adm, ctx, func() { cancel(); adm.Close() }, nil
}

// orDash returns s, or "-" when it is empty, for table cells.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
