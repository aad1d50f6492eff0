package main

// `nagare group reset-offsets` and `nagare group delete-offsets`: change a
// group's committed offsets with OffsetCommit and OffsetDelete, choosing
// partitions as kafka-consumer-groups.sh does (--topic T, --topic T:0,1,
// --all-topics).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// resetKind is how reset-offsets picks each partition's new offset.
type resetKind int

const (
	toEarliest resetKind = iota + 1 // the log start offset
	toLatest                        // the log end offset (high watermark)
	toOffset                        // value
	shiftBy                         // the committed offset plus value
	toDatetime                      // the first offset at or after value milliseconds
)

// resetStrategy is the parsed --to-* or --shift-by flag.
type resetStrategy struct {
	kind  resetKind
	value int64
}

// resetOptions is a parsed reset-offsets command line.
type resetOptions struct {
	group     string
	topics    []topicSelection // empty with allTopics
	allTopics bool
	strategy  resetStrategy
	execute   bool
	output    string
}

// topicSelection is one --topic: a topic and some partitions, or all of
// them when partitions is empty.
type topicSelection struct {
	topic      string
	partitions []int32
}

// newGroupResetOffsetsCommand returns `nagare group reset-offsets`.
func newGroupResetOffsetsCommand(cf *clientFlags) *cobra.Command {
	output := newChoice(outputTable, outputTable, outputJSON)
	var (
		topics                      []string
		allTopics, earliest, latest bool
		offset, shift               int64
		datetime                    string
		dryRun, execute             bool
	)
	cmd := &cobra.Command{
		Use:   "reset-offsets GROUP (--topic T[:P,...]... | --all-topics) STRATEGY [--execute]",
		Short: "Move a group's committed offsets (a dry run unless --execute)",
		Long: `Compute new committed offsets for a group and, with --execute, commit them.
Without --execute this is a dry run that only prints the plan.

Partitions: --topic T (all of T's partitions) or --topic T:0,2 (some),
repeatable; or --all-topics, every partition the group has committed to.

Strategy, exactly one of:
  --to-earliest          the log start offset
  --to-latest            the log end offset (high watermark)
  --to-offset N          offset N
  --shift-by N           the committed offset plus N (N may be negative)
  --to-datetime TIME     the first record at or after TIME: RFC 3339
                         (2025-01-01T00:00:00Z) or @milliseconds since the epoch

As Kafka does, targets outside [log start, log end] are clamped to that
range, and --execute is refused unless the group is inactive (Empty, or
unknown to the cluster, which then starts with these offsets).`,
		Example: `  nagare group reset-offsets orders-app --topic orders --to-earliest
  nagare group reset-offsets orders-app --topic orders:0,1 --shift-by -100 --execute
  nagare group reset-offsets orders-app --all-topics --to-datetime 2025-01-01T00:00:00Z --execute`,
		Args: exactArgs("GROUP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cf.validate(cmd); err != nil {
				return err
			}
			opts := resetOptions{group: args[0], allTopics: allTopics, execute: execute, output: output.value}
			if dryRun && execute {
				return usagef(cmd, "--dry-run and --execute exclude each other")
			}
			if len(topics) > 0 == allTopics {
				return usagef(cmd, "name the partitions to reset: --topic T[:P,...] (repeatable) or --all-topics")
			}
			for _, s := range topics {
				sel, err := parseTopicSelection(s)
				if err != nil {
					return usageError{cmd: cmd, err: err}
				}
				opts.topics = append(opts.topics, sel)
			}
			var chosen []string
			fs := cmd.Flags()
			for _, c := range []struct {
				flag     string
				strategy resetStrategy
			}{
				{"to-earliest", resetStrategy{kind: toEarliest}},
				{"to-latest", resetStrategy{kind: toLatest}},
				{"to-offset", resetStrategy{kind: toOffset, value: offset}},
				{"shift-by", resetStrategy{kind: shiftBy, value: shift}},
				{"to-datetime", resetStrategy{kind: toDatetime}},
			} {
				if fs.Changed(c.flag) {
					chosen = append(chosen, "--"+c.flag)
					opts.strategy = c.strategy
				}
			}
			if len(chosen) == 0 {
				return usagef(cmd, "choose where to move the offsets: one of --to-earliest, --to-latest, --to-offset, --shift-by, --to-datetime")
			}
			if len(chosen) > 1 {
				return usagef(cmd, "give only one of %s", strings.Join(chosen, ", "))
			}
			switch {
			case opts.strategy.kind == toOffset && offset < 0:
				return usagef(cmd, "--to-offset must not be negative, got %d", offset)
			case opts.strategy.kind == toDatetime:
				ms, err := parseDatetime(datetime)
				if err != nil {
					return usageError{cmd: cmd, err: err}
				}
				opts.strategy.value = ms
			}
			return cf.explain(resetOffsets(cmd.Context(), cf, cmd.OutOrStdout(), cmd.ErrOrStderr(), opts))
		},
	}
	fs := cmd.Flags()
	fs.StringArrayVar(&topics, "topic", nil, "reset `T` or T:P,P... (some partitions); repeat for more")
	fs.BoolVar(&allTopics, "all-topics", false, "reset every partition the group has committed offsets for")
	fs.BoolVar(&earliest, "to-earliest", false, "reset to the log start offset")
	fs.BoolVar(&latest, "to-latest", false, "reset to the log end offset")
	fs.Int64Var(&offset, "to-offset", 0, "reset to offset `N`")
	fs.Int64Var(&shift, "shift-by", 0, "move the committed offsets by `N` (negative: back)")
	fs.StringVar(&datetime, "to-datetime", "", "reset to the first record at or after `TIME` (RFC 3339 or @ms)")
	fs.BoolVar(&dryRun, "dry-run", false, "only print the new offsets (the default)")
	fs.BoolVar(&execute, "execute", false, "commit the new offsets")
	fs.VarP(output, "output", "o", "output format")
	return cmd
}

// parseTopicSelection parses "T" or "T:0,1,3-5". Topic names cannot hold a
// colon, so the first one ends the name.
func parseTopicSelection(s string) (topicSelection, error) {
	topic, list, hasList := strings.Cut(strings.TrimSpace(s), ":")
	if topic == "" {
		return topicSelection{}, fmt.Errorf("--topic %q: want TOPIC or TOPIC:PARTITIONS (e.g. orders:0,2-4)", s)
	}
	sel := topicSelection{topic: topic}
	if !hasList {
		return sel, nil
	}
	for part := range strings.SplitSeq(list, ",") {
		first, last, isRange := strings.Cut(strings.TrimSpace(part), "-")
		lo, err1 := strconv.ParseInt(first, 10, 32)
		hi, err2 := lo, error(nil)
		if isRange {
			hi, err2 = strconv.ParseInt(last, 10, 32)
		}
		if err1 != nil || err2 != nil || lo < 0 || hi < lo {
			return topicSelection{}, fmt.Errorf("--topic %q: partitions are numbers or ranges such as 0,2,4-7", s)
		}
		for p := lo; p <= hi; p++ {
			if !slices.Contains(sel.partitions, int32(p)) {
				sel.partitions = append(sel.partitions, int32(p))
			}
		}
	}
	return sel, nil
}

// parseDatetime parses --to-datetime: RFC 3339, or @ and milliseconds since
// the epoch.
func parseDatetime(s string) (int64, error) {
	if ms, ok := strings.CutPrefix(s, "@"); ok {
		if n, err := strconv.ParseInt(ms, 10, 64); err == nil && n >= 0 {
			return n, nil
		}
	} else if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UnixMilli(), nil
	}
	return 0, fmt.Errorf("--to-datetime %q: want RFC 3339 (2025-01-01T00:00:00Z) or @milliseconds since the epoch", s)
}

// offsetReset is one partition's planned reset.
type offsetReset struct {
	Topic         string `json:"topic"`
	Partition     int32  `json:"partition"`
	CurrentOffset *int64 `json:"current_offset"` // null: nothing committed yet
	NewOffset     int64  `json:"new_offset"`
	Clamped       bool   `json:"clamped"` // the target was outside [log start, log end]
}

// resetPlan is `group reset-offsets --output json`.
type resetPlan struct {
	Group    string        `json:"group"`
	State    string        `json:"state"` // "" when the cluster does not know the group
	Executed bool          `json:"executed"`
	Offsets  []offsetReset `json:"offsets"`
}

// inactiveStates are the states in which Kafka lets offsets be reset: no
// member can overwrite them, or commit over them, meanwhile.
var inactiveStates = []string{"Empty", "Dead", ""}

func resetOffsets(ctx context.Context, cf *clientFlags, out, errOut io.Writer, opts resetOptions) error {
	adm, ctx, done, err := openGroupAdmin(ctx, cf)
	if err != nil {
		return err
	}
	defer done()

	views, err := describeGroupViews(ctx, adm, []string{opts.group})
	if err != nil {
		return err
	}
	g := views[opts.group]
	if g.err != nil {
		return g.err
	}
	if opts.execute && !slices.Contains(inactiveStates, g.State) {
		return fmt.Errorf("cannot reset the offsets of group %q: it is %s with %s, and offsets can only be reset while the group is inactive (Empty); stop its consumers first",
			opts.group, g.State, plural(len(g.Members), "member"))
	}
	committed, err := adm.FetchOffsets(ctx, opts.group)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return groupError("fetch the committed offsets of", opts.group, err, "")
	}
	partitions, err := selectPartitions(ctx, adm, opts, committed)
	if err != nil {
		return err
	}
	plan := resetPlan{Group: opts.group, State: g.State, Offsets: []offsetReset{}}
	if plan.Offsets, err = planResets(ctx, adm, partitions, committed, opts.strategy); err != nil {
		return err
	}
	for _, o := range plan.Offsets {
		if o.Clamped {
			fmt.Fprintf(errOut, "nagare: note: %s:%d: the target is outside the log; using %d\n", o.Topic, o.Partition, o.NewOffset)
		}
	}

	if opts.execute {
		if err := commitResets(ctx, adm, opts.group, plan.Offsets); err != nil {
			return err
		}
		plan.Executed = true
	}
	if err := printResetPlan(out, plan, opts.output); err != nil {
		return err
	}
	switch {
	case opts.execute:
		fmt.Fprintf(errOut, "Committed %s for group %q.\n", plural(len(plan.Offsets), "offset"), opts.group)
	case !slices.Contains(inactiveStates, g.State):
		fmt.Fprintf(errOut, "Dry run: nothing committed. Group %q is %s with %s; --execute is refused until its consumers stop.\n",
			opts.group, g.State, plural(len(g.Members), "member"))
	default:
		fmt.Fprintln(errOut, "Dry run: nothing committed. Add --execute to commit these offsets.")
	}
	return nil
}

// selectPartitions resolves --topic and --all-topics into partitions. Named
// topics must exist and have the named partitions; --all-topics is every
// partition the group has committed to.
func selectPartitions(ctx context.Context, adm groupAdmin, opts resetOptions, committed kadm.OffsetResponses) (kadm.TopicsSet, error) {
	selected := make(kadm.TopicsSet)
	if opts.allTopics {
		committed.Each(func(o kadm.OffsetResponse) {
			if o.Err == nil && o.At >= 0 {
				selected.Add(o.Topic, o.Partition)
			}
		})
		if len(selected) == 0 {
			return nil, fmt.Errorf("group %q has no committed offsets, so --all-topics selects nothing; name topics with --topic", opts.group)
		}
		return selected, nil
	}
	return resolveTopicSelections(ctx, adm, opts.topics)
}

// resolveTopicSelections checks --topic values against the cluster's
// metadata and fills in the partitions of topics named without any.
func resolveTopicSelections(ctx context.Context, adm groupAdmin, topics []topicSelection) (kadm.TopicsSet, error) {
	names := make([]string, 0, len(topics))
	for _, t := range topics {
		names = append(names, t.topic)
	}
	details, err := adm.ListTopics(ctx, uniqueStrings(names)...)
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	selected := make(kadm.TopicsSet)
	for _, t := range topics {
		td, ok := details[t.topic]
		if !ok {
			return nil, fmt.Errorf("topic %q does not exist", t.topic)
		}
		if td.Err != nil {
			return nil, topicError("look up", t.topic, td.Err, "")
		}
		if len(t.partitions) == 0 {
			selected.Add(t.topic, td.Partitions.Numbers()...)
			continue
		}
		for _, p := range t.partitions {
			if _, ok := td.Partitions[p]; !ok {
				return nil, fmt.Errorf("topic %q has no partition %d (it has %d)", t.topic, p, len(td.Partitions))
			}
		}
		selected.Add(t.topic, t.partitions...)
	}
	return selected, nil
}

// planResets computes the new offset of every selected partition, clamped
// to [log start, log end] as Kafka clamps it.
func planResets(ctx context.Context, adm groupAdmin, partitions kadm.TopicsSet, committed kadm.OffsetResponses, strategy resetStrategy) ([]offsetReset, error) {
	topics := partitions.Topics()
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list log start offsets: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list log end offsets: %w", err)
	}
	var atTime kadm.ListedOffsets
	if strategy.kind == toDatetime {
		if atTime, err = adm.ListOffsetsAfterMilli(ctx, strategy.value, topics...); err != nil {
			return nil, fmt.Errorf("list offsets at %d ms: %w", strategy.value, err)
		}
	}

	var plan []offsetReset
	var noCommit []string
	for _, t := range partitions.Sorted() {
		for _, p := range t.Partitions {
			start, err := listedAt(starts, "log start offset", t.Topic, p)
			if err != nil {
				return nil, err
			}
			end, err := listedAt(ends, "log end offset", t.Topic, p)
			if err != nil {
				return nil, err
			}
			r := offsetReset{Topic: t.Topic, Partition: p}
			if c, ok := committed.Lookup(t.Topic, p); ok && c.Err == nil && c.At >= 0 {
				r.CurrentOffset = &c.At
			}
			var target int64
			switch strategy.kind {
			case toEarliest:
				target = start
			case toLatest:
				target = end
			case toOffset:
				target = strategy.value
			case shiftBy:
				if r.CurrentOffset == nil {
					noCommit = append(noCommit, fmt.Sprintf("%s:%d", t.Topic, p))
					continue
				}
				target = *r.CurrentOffset + strategy.value
			case toDatetime:
				// Past the last record, the listing falls back to the end.
				if target, err = listedAt(atTime, "offset for the time", t.Topic, p); err != nil {
					return nil, err
				}
				if target < 0 {
					target = end
				}
			}
			r.NewOffset = min(max(target, start), end)
			r.Clamped = r.NewOffset != target
			plan = append(plan, r)
		}
	}
	if len(noCommit) > 0 {
		return nil, fmt.Errorf("--shift-by needs a committed offset to shift from, and the group has none for %s", strings.Join(noCommit, ", "))
	}
	return plan, nil
}

// listedAt looks up one listed offset, or says why it is missing.
func listedAt(l kadm.ListedOffsets, what, topic string, partition int32) (int64, error) {
	o, ok := l.Lookup(topic, partition)
	if !ok {
		if o, failed := l.Lookup(topic, -1); failed && o.Err != nil {
			return 0, topicError("list offsets of", topic, o.Err, "")
		}
		return 0, fmt.Errorf("%s of %s:%d was not listed", what, topic, partition)
	}
	if o.Err != nil {
		return 0, fmt.Errorf("list %s of %s:%d: %w", what, topic, partition, o.Err)
	}
	return o.Offset, nil
}

// commitResets commits the plan with OffsetCommit as an admin (generation
// -1, no member), which brokers accept only while the group has no members.
func commitResets(ctx context.Context, adm groupAdmin, group string, plan []offsetReset) error {
	offsets := make(kadm.Offsets)
	for _, r := range plan {
		offsets.Add(kadm.Offset{Topic: r.Topic, Partition: r.Partition, At: r.NewOffset, LeaderEpoch: -1})
	}
	resps, err := adm.CommitOffsets(ctx, group, offsets)
	if err == nil {
		err = resps.Error()
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.IllegalGeneration), errors.Is(err, kerr.RebalanceInProgress):
		return fmt.Errorf("commit offsets to group %q: consumers joined the group meanwhile (%w); stop them and retry", group, err)
	default:
		return groupError("commit offsets to", group, err, "")
	}
}

func printResetPlan(out io.Writer, plan resetPlan, output string) error {
	if output == outputJSON {
		return writeJSON(out, plan)
	}
	tw := newTable(out)
	fmt.Fprintln(tw, "GROUP\tTOPIC\tPARTITION\tCURRENT-OFFSET\tNEW-OFFSET")
	for _, o := range plan.Offsets {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\n", plan.Group, o.Topic, o.Partition, offsetString(o.CurrentOffset), o.NewOffset)
	}
	return tw.Flush()
}

// newGroupDeleteOffsetsCommand returns `nagare group delete-offsets`, which
// issues one OffsetDelete request.
func newGroupDeleteOffsetsCommand(cf *clientFlags) *cobra.Command {
	output := newChoice(outputTable, outputTable, outputJSON)
	var topics []string
	cmd := &cobra.Command{
		Use:   "delete-offsets GROUP --topic T[:P,...]...",
		Short: "Delete a group's committed offsets for some topics",
		Long: `Delete committed offsets of a group with OffsetDelete (Kafka 2.4+), for
example for a topic the group no longer reads, whose offsets would otherwise
show up as growing lag. The cluster refuses for topics that members of the
group still subscribe to.`,
		Example: `  nagare group delete-offsets orders-app --topic old-orders
  nagare group delete-offsets orders-app --topic orders:3,4`,
		Args: exactArgs("GROUP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cf.validate(cmd); err != nil {
				return err
			}
			if len(topics) == 0 {
				return usagef(cmd, "name the topics whose offsets to delete with --topic T[:P,...]")
			}
			var sels []topicSelection
			for _, s := range topics {
				sel, err := parseTopicSelection(s)
				if err != nil {
					return usageError{cmd: cmd, err: err}
				}
				sels = append(sels, sel)
			}
			return cf.explain(deleteOffsets(cmd.Context(), cf, cmd.OutOrStdout(), args[0], sels, output.value))
		},
	}
	cmd.Flags().StringArrayVar(&topics, "topic", nil, "delete offsets of `T` or T:P,P... (some partitions); repeat for more")
	cmd.Flags().VarP(output, "output", "o", "output format")
	return cmd
}

// offsetDeletion is one partition in `group delete-offsets --output json`.
type offsetDeletion struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Deleted   bool   `json:"deleted"`
	Error     string `json:"error,omitempty"`
}

func deleteOffsets(ctx context.Context, cf *clientFlags, out io.Writer, group string, topics []topicSelection, output string) error {
	adm, ctx, done, err := openGroupAdmin(ctx, cf)
	if err != nil {
		return err
	}
	defer done()

	partitions, err := resolveTopicSelections(ctx, adm, topics)
	if err != nil {
		return err
	}
	resps, err := adm.DeleteOffsets(ctx, group, partitions)
	if err != nil {
		return groupError("delete offsets of", group, err, "")
	}
	results := []offsetDeletion{}
	var failed []string
	for _, t := range partitions.Sorted() {
		for _, p := range t.Partitions {
			r := offsetDeletion{Topic: t.Topic, Partition: p, Deleted: true}
			perr, ok := resps.Lookup(t.Topic, p)
			if !ok {
				perr = errors.New("missing from the response")
			}
			if perr != nil {
				r.Deleted = false
				r.Error = perr.Error()
				if errors.Is(perr, kerr.GroupSubscribedToTopic) {
					r.Error = "a member of the group subscribes to the topic"
				}
				failed = append(failed, fmt.Sprintf("%s:%d (%s)", t.Topic, p, r.Error))
			}
			results = append(results, r)
		}
	}
	if output == outputJSON {
		err = writeJSON(out, results)
	} else {
		tw := newTable(out)
		fmt.Fprintln(tw, "TOPIC\tPARTITION\tSTATUS")
		for _, r := range results {
			status := "deleted"
			if !r.Deleted {
				status = "error: " + r.Error
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\n", r.Topic, r.Partition, status)
		}
		err = tw.Flush()
	}
	if len(failed) > 0 {
		err = errors.Join(err, fmt.Errorf("group %q kept its offsets for %s", group, strings.Join(failed, ", ")))
	}
	return err
}
