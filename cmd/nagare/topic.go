package main

// `nagare topic`: create, list, describe, alter the configs of, and delete
// topics, through the Kafka admin APIs (CreateTopics, Metadata,
// DescribeConfigs, ListOffsets, IncrementalAlterConfigs, DeleteTopics), so it
// works against any Kafka-compatible cluster.

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// newTopicCommand returns `nagare topic` and its subcommands.
func newTopicCommand() *cobra.Command {
	cf := new(clientFlags)
	cmd := &cobra.Command{
		Use:   "topic",
		Short: "Create, list, describe, alter and delete topics",
		Long: `Manage topics on any Kafka-compatible cluster through the Kafka admin APIs.
Topic configs use Kafka's names (retention.ms, cleanup.policy, segment.bytes, ...).`,
		Args: noSubcommand,
		RunE: showHelp,
	}
	cf.register(cmd.PersistentFlags(), "nagare-cli")
	cmd.AddCommand(
		newTopicCreateCommand(cf),
		newTopicListCommand(cf),
		newTopicDescribeCommand(cf),
		newTopicAlterConfigCommand(cf),
		newTopicDeleteCommand(cf),
	)
	return cmd
}

// newTopicCreateCommand returns `nagare topic create`, which issues one
// CreateTopics request.
func newTopicCreateCommand(cf *clientFlags) *cobra.Command {
	var (
		partitions        int32
		replicationFactor int16
		configs           []string
		ifNotExists       bool
	)
	cmd := &cobra.Command{
		Use:   "create TOPIC",
		Short: "Create a topic",
		Long: `Create a topic with CreateTopics. Without --partitions or --replication-factor
the broker's defaults apply (num.partitions, default.replication.factor).`,
		Example: `  nagare topic create orders --partitions 6 --replication-factor 3
  nagare topic create users --config cleanup.policy=compact --config min.insync.replicas=2`,
		Args: exactArgs("TOPIC"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cf.validate(cmd); err != nil {
				return err
			}
			values := make(map[string]*string, len(configs))
			for _, kv := range configs {
				k, v, err := parseKeyValue("--config", kv)
				if err != nil {
					return usageError{cmd: cmd, err: err}
				}
				values[k] = &v
			}
			return cf.explain(createTopic(cmd.Context(), cf, cmd.OutOrStdout(), args[0],
				partitions, replicationFactor, values, ifNotExists))
		},
	}
	fs := cmd.Flags()
	fs.Int32VarP(&partitions, "partitions", "p", -1, "number of partitions (-1: the broker's num.partitions)")
	fs.Int16VarP(&replicationFactor, "replication-factor", "r", -1,
		"copies of each partition (-1: the broker's default.replication.factor)")
	fs.StringArrayVarP(&configs, "config", "c", nil, "topic config `key=value`; repeat for more")
	fs.BoolVar(&ifNotExists, "if-not-exists", false, "succeed without change when the topic already exists")
	return cmd
}

func createTopic(ctx context.Context, cf *clientFlags, out io.Writer, topic string,
	partitions int32, replicationFactor int16, configs map[string]*string, ifNotExists bool,
) error {
	adm, ctx, done, err := cf.openAdmin(ctx)
	if err != nil {
		return err
	}
	defer done()

	resp, err := adm.CreateTopic(ctx, partitions, replicationFactor, configs, topic)
	if ifNotExists && errors.Is(err, kerr.TopicAlreadyExists) {
		fmt.Fprintf(out, "Topic %q already exists.\n", topic)
		return nil
	}
	if err != nil {
		return topicError("create", topic, err, resp.ErrMessage)
	}
	fmt.Fprintf(out, "Created topic %q: %d partitions, replication factor %d.\n",
		topic, resp.NumPartitions, resp.ReplicationFactor)
	return nil
}

// newTopicListCommand returns `nagare topic list`, built from one Metadata
// request.
func newTopicListCommand(cf *clientFlags) *cobra.Command {
	output := newChoice(outputTable, outputTable, outputJSON)
	var internal bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List topics with their partition counts and replication factors",
		Example: `  nagare topic list
  nagare topic list --internal --output json | jq -r '.[].name'`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cf.validate(cmd); err != nil {
				return err
			}
			return cf.explain(listTopics(cmd.Context(), cf, cmd.OutOrStdout(), cmd.ErrOrStderr(),
				internal, output.value))
		},
	}
	cmd.Flags().VarP(output, "output", "o", "output format")
	cmd.Flags().BoolVar(&internal, "internal", false, "include internal topics such as __consumer_offsets")
	return cmd
}

// topicSummary is one topic in `topic list --output json`.
type topicSummary struct {
	Name              string `json:"name"`
	ID                string `json:"id"`
	Partitions        int    `json:"partitions"`
	ReplicationFactor int    `json:"replication_factor"`
	Internal          bool   `json:"internal"`
}

func listTopics(ctx context.Context, cf *clientFlags, out, errOut io.Writer, internal bool, output string) error {
	adm, ctx, done, err := cf.openAdmin(ctx)
	if err != nil {
		return err
	}
	defer done()

	list := adm.ListTopics
	if internal {
		list = adm.ListTopicsWithInternal
	}
	details, err := list(ctx)
	if err != nil {
		return fmt.Errorf("list topics: %w", err)
	}
	topics := make([]topicSummary, 0, len(details))
	for _, td := range details.Sorted() {
		if td.Err != nil {
			fmt.Fprintf(errOut, "nagare: warning: topic %q: %v\n", td.Topic, td.Err)
		}
		topics = append(topics, topicSummary{
			Name:              td.Topic,
			ID:                topicIDString(td.ID),
			Partitions:        len(td.Partitions),
			ReplicationFactor: td.Partitions.NumReplicas(),
			Internal:          td.IsInternal,
		})
	}
	if output == outputJSON {
		return writeJSON(out, topics)
	}
	tw := newTable(out)
	header := "TOPIC\tPARTITIONS\tREPLICATION-FACTOR"
	if internal {
		header += "\tINTERNAL"
	}
	fmt.Fprintln(tw, header)
	for _, t := range topics {
		fmt.Fprintf(tw, "%s\t%d\t%d", t.Name, t.Partitions, t.ReplicationFactor)
		if internal {
			fmt.Fprintf(tw, "\t%t", t.Internal)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// newTopicDescribeCommand returns `nagare topic describe`: Metadata for
// leaders and replicas, ListOffsets for the log start and high watermark,
// DescribeConfigs for the configs that differ from the defaults.
func newTopicDescribeCommand(cf *clientFlags) *cobra.Command {
	output := newChoice(outputTable, outputTable, outputJSON)
	var allConfigs bool
	cmd := &cobra.Command{
		Use:   "describe [TOPIC...]",
		Short: "Show partitions, leaders, replicas, ISR, offsets and configs of topics",
		Long: `Describe topics: for each partition its leader, leader epoch, replicas, in-sync
replicas (ISR), log start offset and high watermark; and the topic's configs
that are not at their default, with where each is set (topic, broker,
cluster). Without TOPIC arguments, every topic is described.`,
		Example: `  nagare topic describe orders
  nagare topic describe orders users --output json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cf.validate(cmd); err != nil {
				return err
			}
			return cf.explain(describeTopics(cmd.Context(), cf, cmd.OutOrStdout(),
				uniqueStrings(args), allConfigs, output.value))
		},
	}
	cmd.Flags().VarP(output, "output", "o", "output format")
	cmd.Flags().BoolVar(&allConfigs, "all-configs", false, "show every config, defaults included")
	return cmd
}

// topicDescription is one topic in `topic describe --output json`.
type topicDescription struct {
	Name              string                 `json:"name"`
	ID                string                 `json:"id"`
	Internal          bool                   `json:"internal"`
	ReplicationFactor int                    `json:"replication_factor"`
	Partitions        []partitionDescription `json:"partitions"`
	Configs           []configEntry          `json:"configs"`
}

// partitionDescription is one partition of a described topic. Offsets are
// -1 when the leader could not list them.
type partitionDescription struct {
	Partition       int32   `json:"partition"`
	Leader          int32   `json:"leader"`
	LeaderEpoch     int32   `json:"leader_epoch"`
	Replicas        []int32 `json:"replicas"`
	ISR             []int32 `json:"isr"`
	OfflineReplicas []int32 `json:"offline_replicas"`
	LogStartOffset  int64   `json:"log_start_offset"`
	HighWatermark   int64   `json:"high_watermark"`
	Error           string  `json:"error,omitempty"`
}

// configEntry is one topic config. Value is null for sensitive configs.
type configEntry struct {
	Name      string  `json:"name"`
	Value     *string `json:"value"`
	Source    string  `json:"source"`
	Sensitive bool    `json:"sensitive"`
}

func describeTopics(ctx context.Context, cf *clientFlags, out io.Writer, names []string, allConfigs bool, output string) error {
	adm, ctx, done, err := cf.openAdmin(ctx)
	if err != nil {
		return err
	}
	defer done()

	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return fmt.Errorf("describe topics: %w", err)
	}
	if len(names) == 0 {
		names = details.Names()
	}
	var (
		found    []string
		problems []error
	)
	for _, name := range names {
		td, ok := details[name]
		switch {
		case !ok:
			problems = append(problems, fmt.Errorf("topic %q does not exist", name))
		case td.Err != nil:
			problems = append(problems, topicError("describe", name, td.Err, ""))
		default:
			found = append(found, name)
		}
	}
	var descriptions []topicDescription
	if len(found) > 0 {
		descriptions, err = describeFound(ctx, adm, details, found, allConfigs)
		if err != nil {
			return err
		}
	}
	if output == outputJSON {
		if descriptions == nil {
			descriptions = []topicDescription{}
		}
		err = writeJSON(out, descriptions)
	} else {
		for i, d := range descriptions {
			if i > 0 {
				fmt.Fprintln(out)
			}
			if err = printTopicDescription(out, d); err != nil {
				break
			}
		}
	}
	return errors.Join(append(problems, err)...)
}

// describeFound adds offsets and configs to the metadata of topics that exist.
func describeFound(ctx context.Context, adm *kadm.Client, details kadm.TopicDetails, topics []string, allConfigs bool) ([]topicDescription, error) {
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list log start offsets: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list high watermarks: %w", err)
	}
	configs, err := adm.DescribeTopicConfigs(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("describe topic configs: %w", err)
	}

	descriptions := make([]topicDescription, 0, len(topics))
	for _, name := range topics {
		td := details[name]
		d := topicDescription{
			Name:              name,
			ID:                topicIDString(td.ID),
			Internal:          td.IsInternal,
			ReplicationFactor: td.Partitions.NumReplicas(),
			Partitions:        []partitionDescription{},
			Configs:           []configEntry{},
		}
		for _, p := range td.Partitions.Sorted() {
			pd := partitionDescription{
				Partition:       p.Partition,
				Leader:          p.Leader,
				LeaderEpoch:     p.LeaderEpoch,
				Replicas:        nonNil(p.Replicas),
				ISR:             nonNil(p.ISR),
				OfflineReplicas: nonNil(p.OfflineReplicas),
				LogStartOffset:  listedOffset(starts, name, p.Partition),
				HighWatermark:   listedOffset(ends, name, p.Partition),
			}
			if p.Err != nil {
				pd.Error = p.Err.Error()
			}
			d.Partitions = append(d.Partitions, pd)
		}
		rc, err := configs.On(name, nil)
		if err == nil {
			err = rc.Err
		}
		if err != nil {
			return nil, topicError("describe configs of", name, err, rc.ErrMessage)
		}
		for _, c := range rc.Configs {
			if !allConfigs && (c.Source == kmsg.ConfigSourceDefaultConfig || c.Source == kmsg.ConfigSourceUnknown) {
				continue
			}
			d.Configs = append(d.Configs, configEntry{
				Name:      c.Key,
				Value:     c.Value,
				Source:    configSourceName(c.Source),
				Sensitive: c.Sensitive,
			})
		}
		sort.Slice(d.Configs, func(i, j int) bool { return d.Configs[i].Name < d.Configs[j].Name })
		descriptions = append(descriptions, d)
	}
	return descriptions, nil
}

func printTopicDescription(out io.Writer, d topicDescription) error {
	tw := newTable(out)
	fmt.Fprintf(tw, "Topic:\t%s\n", d.Name)
	fmt.Fprintf(tw, "ID:\t%s\n", d.ID)
	fmt.Fprintf(tw, "Partitions:\t%d\n", len(d.Partitions))
	fmt.Fprintf(tw, "Replication factor:\t%d\n", d.ReplicationFactor)
	if d.Internal {
		fmt.Fprintf(tw, "Internal:\tyes\n")
	}
	if len(d.Configs) == 0 {
		fmt.Fprintf(tw, "Configs:\tall default\n")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(d.Configs) > 0 {
		fmt.Fprintln(out, "Configs:")
		tw = newTable(out)
		for _, c := range d.Configs {
			value := "(sensitive)"
			if c.Value != nil {
				value = *c.Value
			} else if !c.Sensitive {
				value = "(null)"
			}
			fmt.Fprintf(tw, "  %s\t%s\t(%s)\n", c.Name, value, c.Source)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(out)

	tw = newTable(out)
	withErrors := slices.ContainsFunc(d.Partitions, func(p partitionDescription) bool { return p.Error != "" })
	header := "PARTITION\tLEADER\tEPOCH\tREPLICAS\tISR\tOFFLINE\tLOG-START\tHIGH-WATERMARK"
	if withErrors {
		header += "\tERROR"
	}
	fmt.Fprintln(tw, header)
	for _, p := range d.Partitions {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%s\t%s\t%d\t%d", p.Partition, p.Leader, p.LeaderEpoch,
			joinInt32s(p.Replicas), joinInt32s(p.ISR), joinInt32s(p.OfflineReplicas),
			p.LogStartOffset, p.HighWatermark)
		if withErrors {
			fmt.Fprintf(tw, "\t%s", p.Error)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// newTopicAlterConfigCommand returns `nagare topic alter-config`, which
// issues one IncrementalAlterConfigs request: only the named keys change.
func newTopicAlterConfigCommand(cf *clientFlags) *cobra.Command {
	var (
		sets, deletes []string
		dryRun        bool
	)
	cmd := &cobra.Command{
		Use:   "alter-config TOPIC... (--set key=value | --delete key)...",
		Short: "Set or reset topic configs (IncrementalAlterConfigs)",
		Long: `Change topic configs with IncrementalAlterConfigs: --set overrides a config on
the topic, --delete removes the override so the broker default applies again.
Configs not named are left as they are.`,
		Example: `  nagare topic alter-config orders --set retention.ms=3600000 --set cleanup.policy=compact
  nagare topic alter-config orders --delete retention.ms
  nagare topic alter-config orders --set segment.bytes=1048576 --dry-run`,
		Args: minArgs(1, "TOPIC"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cf.validate(cmd); err != nil {
				return err
			}
			if len(sets)+len(deletes) == 0 {
				return usagef(cmd, "nothing to change: give --set key=value or --delete key")
			}
			var alters []kadm.AlterConfig
			for _, kv := range sets {
				k, v, err := parseKeyValue("--set", kv)
				if err != nil {
					return usageError{cmd: cmd, err: err}
				}
				alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: &v})
			}
			for _, k := range deletes {
				if k == "" || strings.Contains(k, "=") {
					return usagef(cmd, "--delete wants a config name, got %q", k)
				}
				alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
			}
			return cf.explain(alterTopicConfigs(cmd.Context(), cf, cmd.OutOrStdout(),
				uniqueStrings(args), alters, dryRun))
		},
	}
	cmd.Flags().StringArrayVar(&sets, "set", nil, "set config `key=value` on the topic; repeat for more")
	cmd.Flags().StringArrayVar(&deletes, "delete", nil, "remove the topic's override of config `key`; repeat for more")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "ask the broker to validate the change without applying it")
	return cmd
}

func alterTopicConfigs(ctx context.Context, cf *clientFlags, out io.Writer, topics []string, alters []kadm.AlterConfig, dryRun bool) error {
	adm, ctx, done, err := cf.openAdmin(ctx)
	if err != nil {
		return err
	}
	defer done()

	alter := adm.AlterTopicConfigs
	verb := "Altered"
	if dryRun {
		alter = adm.ValidateAlterTopicConfigs
		verb = "Validated (not applied)"
	}
	resps, err := alter(ctx, alters, topics...)
	if err != nil {
		return fmt.Errorf("alter topic configs: %w", err)
	}
	var problems []error
	for _, topic := range topics {
		r, err := resps.On(topic, nil)
		if err == nil {
			err = r.Err
		}
		if err != nil {
			problems = append(problems, topicError("alter configs of", topic, err, r.ErrMessage))
			continue
		}
		fmt.Fprintf(out, "%s configs of topic %q: %s.\n", verb, topic, describeAlters(alters))
	}
	return errors.Join(problems...)
}

// describeAlters says what alters do: "set a=1, b=2; deleted c".
func describeAlters(alters []kadm.AlterConfig) string {
	var sets, deletes []string
	for _, a := range alters {
		if a.Op == kadm.DeleteConfig {
			deletes = append(deletes, a.Name)
		} else {
			sets = append(sets, a.Name+"="+*a.Value)
		}
	}
	var parts []string
	if len(sets) > 0 {
		parts = append(parts, "set "+strings.Join(sets, ", "))
	}
	if len(deletes) > 0 {
		parts = append(parts, "deleted "+strings.Join(deletes, ", "))
	}
	return strings.Join(parts, "; ")
}

// newTopicDeleteCommand returns `nagare topic delete`, which issues one
// DeleteTopics request.
func newTopicDeleteCommand(cf *clientFlags) *cobra.Command {
	var ifExists bool
	cmd := &cobra.Command{
		Use:     "delete TOPIC...",
		Aliases: []string{"rm"},
		Short:   "Delete topics and all their records",
		Example: `  nagare topic delete orders
  nagare topic delete scratch-1 scratch-2 --if-exists`,
		Args: minArgs(1, "TOPIC"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cf.validate(cmd); err != nil {
				return err
			}
			return cf.explain(deleteTopics(cmd.Context(), cf, cmd.OutOrStdout(), uniqueStrings(args), ifExists))
		},
	}
	cmd.Flags().BoolVar(&ifExists, "if-exists", false, "succeed for topics that do not exist")
	return cmd
}

func deleteTopics(ctx context.Context, cf *clientFlags, out io.Writer, topics []string, ifExists bool) error {
	adm, ctx, done, err := cf.openAdmin(ctx)
	if err != nil {
		return err
	}
	defer done()

	resps, err := adm.DeleteTopics(ctx, topics...)
	if err != nil {
		return fmt.Errorf("delete topics: %w", err)
	}
	var problems []error
	for _, topic := range topics {
		r, err := resps.On(topic, nil)
		if err == nil {
			err = r.Err
		}
		switch {
		case ifExists && errors.Is(err, kerr.UnknownTopicOrPartition):
			fmt.Fprintf(out, "Topic %q does not exist.\n", topic)
		case err != nil:
			problems = append(problems, topicError("delete", topic, err, r.ErrMessage))
		default:
			fmt.Fprintf(out, "Deleted topic %q.\n", topic)
		}
	}
	return errors.Join(problems...)
}

// topicIDString formats a topic ID the way Kafka's tools print it (URL-safe
// base64 without padding), or "-" when the broker has no topic IDs.
func topicIDString(id kadm.TopicID) string {
	if id == (kadm.TopicID{}) {
		return "-"
	}
	return base64.RawURLEncoding.EncodeToString(id[:])
}

// configSourceName says in a word or two where a config's value comes from.
func configSourceName(s kmsg.ConfigSource) string {
	switch s {
	case kmsg.ConfigSourceDynamicTopicConfig:
		return "topic"
	case kmsg.ConfigSourceDynamicBrokerConfig:
		return "broker"
	case kmsg.ConfigSourceDynamicDefaultBrokerConfig:
		return "cluster default"
	case kmsg.ConfigSourceStaticBrokerConfig:
		return "broker file"
	case kmsg.ConfigSourceDefaultConfig:
		return "default"
	default:
		return strings.ToLower(s.String())
	}
}

// listedOffset looks up one partition's offset, or -1 if it was not listed.
func listedOffset(l kadm.ListedOffsets, topic string, partition int32) int64 {
	o, ok := l.Lookup(topic, partition)
	if !ok || o.Err != nil {
		return -1
	}
	return o.Offset
}

// uniqueStrings drops repeats, keeping the first occurrence's order.
func uniqueStrings(s []string) []string {
	seen := make(map[string]bool, len(s))
	out := make([]string, 0, len(s))
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
