package main

// `nagare txn describe` (DescribeTransactions) and `nagare txn producers`
// (DescribeProducers), kafka-transactions.sh's describe and describe-producers.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
)

// newTxnDescribeCommand returns `nagare txn describe`.
func newTxnDescribeCommand(cf *clientFlags) *cobra.Command {
	output := newChoice(outputTable, outputTable, outputJSON)
	cmd := &cobra.Command{
		Use:   "describe TRANSACTIONAL-ID...",
		Short: "Describe transactional ids: producer id and epoch, state, timeout, partitions",
		Long: `Describe transactional ids with DescribeTransactions, asked of each id's
coordinator: its producer id and epoch, state, transaction timeout, when the
current transaction started and how long it has been open, and the partitions
in it (while it commits or aborts: those still waiting for their marker).
Exits non-zero when an id could not be described (for example, it is unknown).`,
		Example: `  nagare txn describe orders-pipeline-0
  nagare txn describe a b --output json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, ids []string) error {
			if err := cf.validate(cmd); err != nil {
				return err
			}
			return cf.explain(describeTxns(cmd.Context(), cf, cmd.OutOrStdout(), ids, output.value))
		},
	}
	cmd.Flags().VarP(output, "output", "o", "output format")
	return cmd
}

// txnDescription is one transactional id in `txn describe --output json`.
type txnDescription struct {
	TransactionalID string            `json:"transactional_id"`
	Coordinator     int32             `json:"coordinator"`
	ProducerID      int64             `json:"producer_id"`
	ProducerEpoch   int16             `json:"producer_epoch"`
	State           string            `json:"state"`
	TimeoutMs       int32             `json:"timeout_ms"`
	StartTimeMs     int64             `json:"start_time_ms"` // -1 outside a transaction
	DurationMs      *int64            `json:"duration_ms"`   // null outside a transaction
	Partitions      []topicPartitions `json:"partitions"`    // sorted
	Error           string            `json:"error,omitempty"`
}

func describeTxns(ctx context.Context, cf *clientFlags, out io.Writer, ids []string, output string) error {
	adm, ctx, done, err := openGroupAdmin(ctx, cf)
	if err != nil {
		return err
	}
	defer done()
	described, err := adm.DescribeTransactions(ctx, ids...)
	var shardErrs *kadm.ShardErrors
	if err != nil && !errors.As(err, &shardErrs) {
		return fmt.Errorf("describe transactions: %w", err)
	}
	now := time.Now().UnixMilli()
	descs := make([]txnDescription, 0, len(ids))
	failed := 0
	for _, id := range ids {
		d, ok := described[id]
		switch {
		case !ok && err != nil:
			d.Err = err
		case !ok:
			d.Err = errors.New("not in the response")
		}
		desc := describedTxn(id, d, now)
		if desc.Error != "" {
			failed++
		}
		descs = append(descs, desc)
	}
	if output == outputJSON {
		err = writeJSON(out, descs)
	} else {
		err = printTxnDescriptions(out, descs)
	}
	if err == nil && failed > 0 {
		err = fmt.Errorf("%s could not be described", plural(failed, "transactional id"))
	}
	return err
}

func describedTxn(id string, d kadm.DescribedTransaction, now int64) txnDescription {
	desc := txnDescription{TransactionalID: id, Coordinator: d.Coordinator, ProducerID: d.ProducerID, ProducerEpoch: d.ProducerEpoch,
		State: d.State, TimeoutMs: d.TimeoutMillis, StartTimeMs: d.StartTimestamp, Partitions: []topicPartitions{}}
	if d.Err != nil {
		desc.Error = d.Err.Error()
		return desc
	}
	// Kafka keeps the start time once the transaction completed; a duration only
	// means something while it is open.
	if open := d.State == "Ongoing" || d.State == "PrepareCommit" || d.State == "PrepareAbort"; open && d.StartTimestamp >= 0 {
		ms := max(now-d.StartTimestamp, 0)
		desc.DurationMs = &ms
	}
	for _, t := range d.Topics.Sorted() {
		desc.Partitions = append(desc.Partitions, topicPartitions{Topic: t.Topic, Partitions: t.Partitions})
	}
	return desc
}

func printTxnDescriptions(out io.Writer, descs []txnDescription) error {
	tw := newTable(out)
	fmt.Fprintln(tw, "TRANSACTIONAL-ID\tCOORDINATOR\tPRODUCER-ID\tEPOCH\tSTATE\tTIMEOUT-MS\tSTART-TIME-MS\tDURATION-MS\tPARTITIONS")
	for _, d := range descs {
		if d.Error != "" {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t-\t-\terror: %s\n", d.TransactionalID, d.Error)
			continue
		}
		start, dur := "-", "-"
		if d.DurationMs != nil {
			start, dur = fmt.Sprint(d.StartTimeMs), fmt.Sprint(*d.DurationMs)
		}
		var parts []string
		for _, t := range d.Partitions {
			for _, p := range t.Partitions {
				parts = append(parts, fmt.Sprintf("%s-%d", t.Topic, p))
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%d\t%s\t%s\t%s\n", d.TransactionalID, d.Coordinator, d.ProducerID, d.ProducerEpoch,
			d.State, d.TimeoutMs, start, dur, orDash(strings.Join(parts, ",")))
	}
	return tw.Flush()
}

// newTxnProducersCommand returns `nagare txn producers`.
func newTxnProducersCommand(cf *clientFlags) *cobra.Command {
	output := newChoice(outputTable, outputTable, outputJSON)
	var partitions []int32
	cmd := &cobra.Command{
		Use:   "producers TOPIC",
		Short: "Show the producers that have written to a topic's partitions",
		Long: `Show, with DescribeProducers asked of each partition's leader, the producers
whose state the partition keeps (idempotent and transactional): producer id
and epoch, last sequence and timestamp, the coordinator epoch of its last
marker, and the first offset of its open transaction (-1: none), which is what
holds back the partition's last stable offset. Every partition of the topic
unless --partition.`,
		Example: `  nagare txn producers orders --partition 0
  nagare txn producers orders --output json`,
		Args: exactArgs("topic"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cf.validate(cmd); err != nil {
				return err
			}
			return cf.explain(describeProducers(cmd.Context(), cf, cmd.OutOrStdout(), args[0], partitions, output.value))
		},
	}
	cmd.Flags().VarP(output, "output", "o", "output format")
	cmd.Flags().Int32SliceVarP(&partitions, "partition", "p", nil, "only these partitions (comma-separated)")
	return cmd
}

// producerState is one producer of one partition in `txn producers --output json`.
type producerState struct {
	Topic                 string `json:"topic"`
	Partition             int32  `json:"partition"`
	Leader                int32  `json:"leader"`
	ProducerID            int64  `json:"producer_id"`
	ProducerEpoch         int16  `json:"producer_epoch"`
	LastSequence          int32  `json:"last_sequence"`
	LastTimestamp         int64  `json:"last_timestamp"`
	CoordinatorEpoch      int32  `json:"coordinator_epoch"`
	CurrentTxnStartOffset int64  `json:"current_txn_start_offset"`
}

func describeProducers(ctx context.Context, cf *clientFlags, out io.Writer, topic string, partitions []int32, output string) error {
	adm, ctx, done, err := openGroupAdmin(ctx, cf)
	if err != nil {
		return err
	}
	defer done()
	set := kadm.TopicsSet{}
	set.Add(topic, partitions...)
	described, err := adm.DescribeProducers(ctx, set)
	if err != nil {
		return fmt.Errorf("describe producers of %s: %w", topic, err)
	}
	states := []producerState{}
	var errs []error
	for _, p := range described.SortedPartitions() {
		if p.Err != nil {
			errs = append(errs, fmt.Errorf("%s-%d: %w", p.Topic, p.Partition, p.Err))
			continue
		}
		for _, d := range p.ActiveProducers.Sorted() {
			states = append(states, producerState{Topic: p.Topic, Partition: p.Partition, Leader: p.Leader, ProducerID: d.ProducerID,
				ProducerEpoch: d.ProducerEpoch, LastSequence: d.LastSequence, LastTimestamp: d.LastTimestamp,
				CoordinatorEpoch: d.CoordinatorEpoch, CurrentTxnStartOffset: d.CurrentTxnStartOffset})
		}
	}
	if output == outputJSON {
		err = writeJSON(out, states)
	} else {
		err = printProducers(out, states)
	}
	return errors.Join(err, errors.Join(errs...))
}

func printProducers(out io.Writer, states []producerState) error {
	tw := newTable(out)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tPRODUCER-ID\tEPOCH\tLAST-SEQUENCE\tLAST-TIMESTAMP\tCOORDINATOR-EPOCH\tTXN-START-OFFSET")
	for _, s := range states {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", s.Topic, s.Partition, s.ProducerID, s.ProducerEpoch,
			s.LastSequence, s.LastTimestamp, s.CoordinatorEpoch, s.CurrentTxnStartOffset)
	}
	return tw.Flush()
}
