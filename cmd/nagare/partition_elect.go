package main

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
)

// newPartitionElectCommand returns `nagare partition elect-leaders`: one ElectLeaders
// request (API 43), as Kafka's kafka-leader-election.sh sends it.
func newPartitionElectCommand(cf *clientFlags) *cobra.Command {
	output := newChoice(outputTable, outputTable, outputJSON)
	election := newChoice("preferred", "preferred", "unclean")
	var (
		topic      string
		partitions []int32
	)
	cmd := &cobra.Command{
		Use:   "elect-leaders",
		Short: "Move leadership back to preferred replicas, or give leaderless partitions a leader",
		Long: `Run a leader election with ElectLeaders on the active controller.
--type preferred (the default) makes each partition's first replica its leader again,
when it is in sync and running. --type unclean gives a partition without a leader any
running replica, even one out of sync: records it lacks are lost.
Without --topic every partition of the cluster is elected, and only the partitions
whose leader changed or could not change are listed.`,
		Example: `  nagare partition elect-leaders
  nagare partition elect-leaders --topic orders --partition 0 --partition 3
  nagare partition elect-leaders --type unclean --topic orders --partition 2`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cf.validate(cmd); err != nil {
				return err
			}
			if len(partitions) > 0 && topic == "" {
				return usagef(cmd, "--partition needs --topic")
			}
			how := kadm.ElectPreferredReplica
			if election.value == "unclean" {
				how = kadm.ElectLiveReplica
			}
			return cf.explain(electLeaders(cmd.Context(), cf, cmd.OutOrStdout(), how, topic, partitions, output.value))
		},
	}
	fs := cmd.Flags()
	fs.Var(election, "type", "election type")
	fs.StringVar(&topic, "topic", "", "elect only this topic's partitions")
	fs.Int32SliceVar(&partitions, "partition", nil, "elect only this partition of --topic (repeatable)")
	fs.VarP(output, "output", "o", "output format")
	return cmd
}

// electResult is one partition in `partition elect-leaders --output json`.
type electResult struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Result    string `json:"result"` // "elected", "not needed", or the error
}

func electLeaders(ctx context.Context, cf *clientFlags, out io.Writer, how kadm.ElectLeadersHow,
	topic string, partitions []int32, format string,
) error {
	adm, ctx, done, err := cf.openAdmin(ctx)
	if err != nil {
		return err
	}
	defer done()
	set, err := electionSet(ctx, adm, topic, partitions)
	if err != nil {
		return err
	}
	results, err := adm.ElectLeaders(ctx, how, set)
	if err != nil {
		return fmt.Errorf("elect leaders: %w", err)
	}
	rows, failed := electRows(results)
	if format == outputJSON {
		err = writeJSON(out, rows)
	} else {
		err = printElectRows(out, rows)
	}
	if err == nil && failed > 0 {
		err = fmt.Errorf("the election failed for %s", plural(failed, "partition"))
	}
	return err
}

// electionSet is the partitions to elect: nil (all) without a topic, the topic's
// partitions (looked up) without --partition.
func electionSet(ctx context.Context, adm *kadm.Client, topic string, partitions []int32) (kadm.TopicsSet, error) {
	if topic == "" {
		return nil, nil
	}
	set := make(kadm.TopicsSet)
	if len(partitions) > 0 {
		set.Add(topic, partitions...)
		return set, nil
	}
	topics, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("look up topic %q: %w", topic, err)
	}
	td, ok := topics[topic]
	if !ok || td.Err != nil {
		return nil, topicError("elect leaders of", topic, kerr.UnknownTopicOrPartition, "")
	}
	set.Add(topic, td.Partitions.Numbers()...)
	return set, nil
}

// electRows sorts the results by topic and partition, and counts the failures
// (ELECTION_NOT_NEEDED is not one: the preferred replica leads already).
func electRows(results kadm.ElectLeadersResults) ([]electResult, int) {
	var rows []electResult
	failed := 0
	for _, parts := range results {
		for _, r := range parts {
			row := electResult{Topic: r.Topic, Partition: r.Partition, Result: "elected"}
			switch {
			case errors.Is(r.Err, kerr.ElectionNotNeeded):
				row.Result = "not needed"
			case r.Err != nil:
				row.Result = r.Err.Error()
				failed++
			}
			rows = append(rows, row)
		}
	}
	slices.SortFunc(rows, func(a, b electResult) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	})
	return rows, failed
}

func printElectRows(out io.Writer, rows []electResult) error {
	if len(rows) == 0 {
		_, err := fmt.Fprintln(out, "No partition needed an election.")
		return err
	}
	tw := newTable(out)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tRESULT")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%s\n", r.Topic, r.Partition, r.Result)
	}
	return tw.Flush()
}
