package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The replication throttle configs kafka-reassign-partitions sets and --verify removes.
const (
	leaderThrottleRate        = "leader.replication.throttled.rate"
	followerThrottleRate      = "follower.replication.throttled.rate"
	leaderThrottledReplicas   = "leader.replication.throttled.replicas"
	followerThrottledReplicas = "follower.replication.throttled.replicas"
)

// reassignFlags are the flags of `nagare partition reassign`.
type reassignFlags struct {
	topic     string
	partition int32
	replicas  []int32
	throttle  int64
	cancel    bool
	verify    bool
}

// newPartitionReassignCommand returns `nagare partition reassign`: one
// AlterPartitionReassignments request (API 45), with the throttles
// kafka-reassign-partitions sets, or --verify, which removes them once nothing moves.
func newPartitionReassignCommand(cf *clientFlags) *cobra.Command {
	var f reassignFlags
	cmd := &cobra.Command{
		Use:   "reassign",
		Short: "Move a partition's replicas to other brokers, cancel a move, or verify moves are done",
		Long: `Start a reassignment with AlterPartitionReassignments: the new replicas copy the
partition from its leader, and once all of them are in sync the controller drops the
replicas left out (their logs are deleted) and moves the leadership if the leader was one.
--throttle sets leader.replication.throttled.rate and follower.replication.throttled.rate
on the brokers involved and marks the partition's moving replicas throttled (the topic's
*.replication.throttled.replicas), as kafka-reassign-partitions --throttle does.
--cancel reverts a reassignment in progress to the original replicas. --verify lists the
reassignments in progress and, when there are none, removes those throttles.`,
		Example: `  nagare partition reassign --topic orders --partition 0 --replicas 2,3
  nagare partition reassign --topic orders --partition 0 --replicas 2,3 --throttle 10485760
  nagare partition reassign --topic orders --partition 0 --cancel
  nagare partition reassign --verify`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cf.validate(cmd); err != nil {
				return err
			}
			if err := f.check(cmd); err != nil {
				return err
			}
			return cf.explain(runReassign(cmd.Context(), cf, cmd.OutOrStdout(), f))
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.topic, "topic", "", "the topic of the partition to move")
	fs.Int32Var(&f.partition, "partition", -1, "the partition to move")
	fs.Int32SliceVar(&f.replicas, "replicas", nil, "the target replicas, preferred leader first (1,2,3)")
	fs.Int64Var(&f.throttle, "throttle", 0, "replication bytes per second while the new replicas catch up")
	fs.BoolVar(&f.cancel, "cancel", false, "cancel the partition's reassignment")
	fs.BoolVar(&f.verify, "verify", false, "list reassignments in progress; remove the throttles when none is")
	return cmd
}

// check enforces the flag combinations.
func (f reassignFlags) check(cmd *cobra.Command) error {
	modes := 0
	for _, on := range []bool{len(f.replicas) > 0, f.cancel, f.verify} {
		if on {
			modes++
		}
	}
	switch {
	case modes != 1:
		return usagef(cmd, "give exactly one of --replicas, --cancel and --verify")
	case !f.verify && (f.topic == "" || f.partition < 0):
		return usagef(cmd, "--replicas and --cancel need --topic and --partition")
	case f.throttle < 0 || (f.throttle > 0 && len(f.replicas) == 0):
		return usagef(cmd, "--throttle takes a positive rate, with --replicas")
	}
	return nil
}

func runReassign(ctx context.Context, cf *clientFlags, out io.Writer, f reassignFlags) error {
	cl, err := cf.newClient()
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := cf.adminFor(cl)
	ctx, cancel := cf.withTimeout(ctx)
	defer cancel()
	switch {
	case f.verify:
		return verifyReassignments(ctx, cl, adm, out)
	case f.cancel:
		return alterAssignment(ctx, adm, out, f.topic, f.partition, nil)
	}
	if f.throttle > 0 {
		if err := setThrottles(ctx, adm, f); err != nil {
			return err
		}
	}
	return alterAssignment(ctx, adm, out, f.topic, f.partition, f.replicas)
}

// alterAssignment sends one partition's target (nil cancels).
func alterAssignment(ctx context.Context, adm *kadm.Client, out io.Writer, topic string, partition int32, replicas []int32) error {
	var req kadm.AlterPartitionAssignmentsReq
	req.Assign(topic, partition, replicas)
	resps, err := adm.AlterPartitionAssignments(ctx, req)
	if err != nil {
		return fmt.Errorf("reassign %s-%d: %w", topic, partition, err)
	}
	for _, r := range resps.Sorted() {
		if r.Err != nil {
			return fmt.Errorf("reassign %s-%d: %w %s", r.Topic, r.Partition, r.Err, r.ErrMessage)
		}
	}
	if replicas == nil {
		_, err = fmt.Fprintf(out, "cancelled the reassignment of %s-%d\n", topic, partition)
	} else {
		_, err = fmt.Fprintf(out, "reassigning %s-%d to replicas %s\n", topic, partition, joinInt32s(replicas))
	}
	return err
}

// setThrottles does what kafka-reassign-partitions --throttle does for one partition: the
// rate on every broker involved, the current replicas throttled as leaders (they send),
// the new replicas as followers (they fetch).
func setThrottles(ctx context.Context, adm *kadm.Client, f reassignFlags) error {
	topics, err := adm.ListTopics(ctx, f.topic)
	if err != nil {
		return fmt.Errorf("look up topic %q: %w", f.topic, err)
	}
	td, ok := topics[f.topic]
	if !ok || td.Err != nil {
		return topicError("reassign", f.topic, kerr.UnknownTopicOrPartition, "")
	}
	pd, ok := td.Partitions[f.partition]
	if !ok {
		return fmt.Errorf("reassign %s-%d: %w", f.topic, f.partition, kerr.UnknownTopicOrPartition)
	}
	rate := strconv.FormatInt(f.throttle, 10)
	brokers := slices.Clone(pd.Replicas)
	for _, id := range f.replicas {
		if !slices.Contains(brokers, id) {
			brokers = append(brokers, id)
		}
	}
	rates := []kadm.AlterConfig{{Name: leaderThrottleRate, Value: &rate}, {Name: followerThrottleRate, Value: &rate}}
	resps, err := adm.AlterBrokerConfigs(ctx, rates, brokers...)
	if err = alterError(resps, err); err != nil {
		return fmt.Errorf("set the replication throttle rate: %w", err)
	}
	leaders := replicaEntries(f.partition, pd.Replicas)
	followers := replicaEntries(f.partition, without(f.replicas, pd.Replicas))
	var topicCfgs []kadm.AlterConfig
	if leaders != "" {
		topicCfgs = append(topicCfgs, kadm.AlterConfig{Op: kadm.AppendConfig, Name: leaderThrottledReplicas, Value: &leaders})
	}
	if followers != "" {
		topicCfgs = append(topicCfgs, kadm.AlterConfig{Op: kadm.AppendConfig, Name: followerThrottledReplicas, Value: &followers})
	}
	resps, err = adm.AlterTopicConfigs(ctx, topicCfgs, f.topic)
	if err = alterError(resps, err); err != nil {
		return fmt.Errorf("mark the throttled replicas of %s: %w", f.topic, err)
	}
	return nil
}

// replicaEntries formats "partition:broker" entries for a throttled-replicas list.
func replicaEntries(partition int32, brokers []int32) string {
	s := ""
	for i, b := range brokers {
		if i > 0 {
			s += ","
		}
		s += fmt.Sprintf("%d:%d", partition, b)
	}
	return s
}

// without returns the members of s not in drop.
func without(s, drop []int32) []int32 {
	return slices.DeleteFunc(slices.Clone(s), func(id int32) bool { return slices.Contains(drop, id) })
}

// alterError is the first failure of an alter configs request.
func alterError(resps kadm.AlterConfigsResponses, err error) error {
	if err != nil {
		return err
	}
	for _, r := range resps {
		if r.Err != nil {
			return fmt.Errorf("%s: %w %s", r.Name, r.Err, r.ErrMessage)
		}
	}
	return nil
}

// verifyReassignments lists what is still moving; with nothing moving it removes the
// throttle rates from every broker and the throttled-replicas lists from every topic, as
// kafka-reassign-partitions --verify removes the throttles of a finished reassignment.
func verifyReassignments(ctx context.Context, cl *kgo.Client, adm *kadm.Client, out io.Writer) error {
	moving, err := listReassignments(ctx, cl)
	if err != nil {
		return err
	}
	if len(moving) > 0 {
		if err := printReassignments(out, moving); err != nil {
			return err
		}
		return fmt.Errorf("%s still moving; throttles kept", plural(len(moving), "partition"))
	}
	if err := clearThrottles(ctx, adm); err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, "no reassignment in progress; replication throttles removed")
	return err
}

// clearThrottles deletes the throttle configs wherever they are set.
func clearThrottles(ctx context.Context, adm *kadm.Client) error {
	brokers, err := adm.ListBrokers(ctx)
	if err != nil {
		return fmt.Errorf("list brokers: %w", err)
	}
	rates := []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: leaderThrottleRate}, {Op: kadm.DeleteConfig, Name: followerThrottleRate}}
	resps, err := adm.AlterBrokerConfigs(ctx, rates, brokers.NodeIDs()...)
	if err = alterError(resps, err); err != nil {
		return fmt.Errorf("remove the replication throttle rates: %w", err)
	}
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		return fmt.Errorf("list topics: %w", err)
	}
	lists := []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: leaderThrottledReplicas}, {Op: kadm.DeleteConfig, Name: followerThrottledReplicas}}
	resps, err = adm.AlterTopicConfigs(ctx, lists, topics.Names()...)
	if err = alterError(resps, err); err != nil {
		return fmt.Errorf("remove the throttled replicas lists: %w", err)
	}
	return nil
}

// newPartitionReassignmentsCommand returns `nagare partition reassignments`: the
// reassignments in progress (ListPartitionReassignments, API 46).
func newPartitionReassignmentsCommand(cf *clientFlags) *cobra.Command {
	output := newChoice(outputTable, outputTable, outputJSON)
	cmd := &cobra.Command{
		Use:     "reassignments",
		Short:   "List the partition reassignments in progress",
		Example: `  nagare partition reassignments`,
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cf.validate(cmd); err != nil {
				return err
			}
			return cf.explain(runListReassignments(cmd.Context(), cf, cmd.OutOrStdout(), output.value))
		},
	}
	cmd.Flags().VarP(output, "output", "o", "output format")
	return cmd
}

func runListReassignments(ctx context.Context, cf *clientFlags, out io.Writer, format string) error {
	cl, err := cf.newClient()
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := cf.withTimeout(ctx)
	defer cancel()
	moving, err := listReassignments(ctx, cl)
	if err != nil {
		return err
	}
	if format == outputJSON {
		return writeJSON(out, moving)
	}
	return printReassignments(out, moving)
}

// reassignment is one partition in `partition reassignments --output json`.
type reassignment struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Replicas  []int32 `json:"replicas"`
	Adding    []int32 `json:"adding_replicas"`
	Removing  []int32 `json:"removing_replicas"`
}

// listReassignments asks for every reassignment in progress (a null topic list, which
// kadm's ListPartitionReassignments cannot send), sorted by topic and partition.
func listReassignments(ctx context.Context, cl *kgo.Client) ([]reassignment, error) {
	req := kmsg.NewPtrListPartitionReassignmentsRequest()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("list reassignments: %w", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, fmt.Errorf("list reassignments: %w", err)
	}
	var out []reassignment
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			out = append(out, reassignment{Topic: t.Topic, Partition: p.Partition, Replicas: p.Replicas,
				Adding: p.AddingReplicas, Removing: p.RemovingReplicas})
		}
	}
	slices.SortFunc(out, func(a, b reassignment) int {
		if a.Topic != b.Topic {
			if a.Topic < b.Topic {
				return -1
			}
			return 1
		}
		return int(a.Partition - b.Partition)
	})
	return out, nil
}

func printReassignments(out io.Writer, rows []reassignment) error {
	if len(rows) == 0 {
		_, err := fmt.Fprintln(out, "no reassignment in progress")
		return err
	}
	tw := newTable(out)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tREPLICAS\tADDING\tREMOVING")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", r.Topic, r.Partition, joinInt32s(r.Replicas), joinInt32s(r.Adding), joinInt32s(r.Removing))
	}
	return tw.Flush()
}
