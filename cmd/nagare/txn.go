package main

// `nagare txn`: list and describe transactions and the producers writing to a
// partition, as Kafka's kafka-transactions.sh does (list, describe,
// describe-producers), through the admin APIs only (ListTransactions,
// DescribeTransactions, DescribeProducers), so it works against any
// Kafka-compatible cluster (Kafka 3.0+). txn_describe.go has describe and
// producers.

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// newTxnCommand returns `nagare txn` and its subcommands.
func newTxnCommand() *cobra.Command {
	cf := new(clientFlags)
	cmd := &cobra.Command{
		Use:     "txn",
		Aliases: []string{"transactions"},
		Short:   "List and describe transactions and a partition's producers",
		Long: `Inspect transactions on any Kafka-compatible cluster through the Kafka admin
APIs, as Kafka's kafka-transactions.sh does: list transactional ids with their
state, describe them (producer id and epoch, timeout, start time, partitions),
and show the producers that have written to a partition, with the start offset
of their open transaction (what holds back a partition's last stable offset).`,
		Example: `  nagare txn list --state Ongoing
  nagare txn describe orders-pipeline-0
  nagare txn producers orders --partition 0`,
		Args: noSubcommand,
		RunE: showHelp,
	}
	cf.register(cmd.PersistentFlags(), "nagare-cli")
	cmd.AddCommand(newTxnListCommand(cf), newTxnDescribeCommand(cf), newTxnProducersCommand(cf))
	return cmd
}

// txnStates are the transaction states as Kafka spells them; --state matches them
// case-insensitively.
var txnStates = []string{"Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort", "Dead", "PrepareEpochFence"}

// newTxnListCommand returns `nagare txn list`, built from ListTransactions.
func newTxnListCommand(cf *clientFlags) *cobra.Command {
	output := newChoice(outputTable, outputTable, outputJSON)
	var states []string
	var producerIDs []int64
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List transactional ids with their coordinator, producer id and state",
		Long: `List the transactional ids of every broker's transaction coordinator with
ListTransactions, optionally only those in some states (--state, Kafka 3.0+)
or of some producer ids (--producer-id).`,
		Example: `  nagare txn list
  nagare txn list --state Ongoing,PrepareCommit --output json | jq -r '.[].transactional_id'`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cf.validate(cmd); err != nil {
				return err
			}
			filter, err := parseTxnStates(states)
			if err != nil {
				return usageError{cmd: cmd, err: err}
			}
			return cf.explain(listTxns(cmd.Context(), cf, cmd.OutOrStdout(), producerIDs, filter, output.value))
		},
	}
	cmd.Flags().VarP(output, "output", "o", "output format")
	cmd.Flags().StringSliceVar(&states, "state", nil, "only transactions in these states (comma-separated): "+strings.Join(txnStates, ", "))
	cmd.Flags().Int64SliceVar(&producerIDs, "producer-id", nil, "only transactions of these producer ids (comma-separated)")
	return cmd
}

// parseTxnStates checks --state values and spells them as Kafka does.
func parseTxnStates(values []string) ([]string, error) {
	var states []string
	for _, v := range values {
		v = strings.TrimSpace(v)
		i := slices.IndexFunc(txnStates, func(s string) bool { return strings.EqualFold(s, v) })
		if i < 0 {
			return nil, fmt.Errorf("--state %q: want one of %s", v, strings.Join(txnStates, ", "))
		}
		if !slices.Contains(states, txnStates[i]) {
			states = append(states, txnStates[i])
		}
	}
	return states, nil
}

// txnSummary is one transactional id in `txn list --output json`.
type txnSummary struct {
	TransactionalID string `json:"transactional_id"`
	Coordinator     int32  `json:"coordinator"`
	ProducerID      int64  `json:"producer_id"`
	State           string `json:"state"`
}

func listTxns(ctx context.Context, cf *clientFlags, out io.Writer, producerIDs []int64, states []string, output string) error {
	adm, ctx, done, err := openGroupAdmin(ctx, cf)
	if err != nil {
		return err
	}
	defer done()
	listed, err := adm.ListTransactions(ctx, producerIDs, states)
	if err != nil {
		return fmt.Errorf("list transactions: %w", err)
	}
	txns := []txnSummary{}
	for _, l := range listed.Sorted() {
		// Brokers before Kafka 3.0 ignore the state filter; apply both here too.
		if len(states) > 0 && !slices.Contains(states, l.State) || len(producerIDs) > 0 && !slices.Contains(producerIDs, l.ProducerID) {
			continue
		}
		txns = append(txns, txnSummary{TransactionalID: l.TxnID, Coordinator: l.Coordinator, ProducerID: l.ProducerID, State: l.State})
	}
	if output == outputJSON {
		return writeJSON(out, txns)
	}
	tw := newTable(out)
	fmt.Fprintln(tw, "TRANSACTIONAL-ID\tCOORDINATOR\tPRODUCER-ID\tSTATE")
	for _, t := range txns {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", t.TransactionalID, t.Coordinator, t.ProducerID, t.State)
	}
	return tw.Flush()
}
