package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// newClusterStatusCommand returns `nagare cluster status`: brokers, the controller, the
// partitions that are under-replicated (ISR smaller than the replicas) or offline (no
// leader), and the leader imbalance: partitions led by another replica than their
// preferred (first) one, which auto.leader.rebalance.enable and `partition
// elect-leaders` move back, as kafka-leader-election and Cruise Control users check.
func newClusterStatusCommand() *cobra.Command {
	cf := new(clientFlags)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show brokers, the controller, under-replicated and offline partitions, and leader imbalance",
		Long: `Show the brokers Metadata lists and the controller it names (with dedicated
controller-only nodes, the broker that forwards admin requests to the quorum: they
have no client listener), the under-replicated and offline partitions, and the online
partitions not led by their preferred (first) replica. Each broker line shows how many
of the partitions it is the preferred leader of it leads.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cf.validate(cmd); err != nil {
				return err
			}
			return cf.explain(clusterStatus(cmd.Context(), cf, cmd.OutOrStdout()))
		},
	}
	cf.register(cmd.Flags(), "nagare-cli")
	return cmd
}

func clusterStatus(ctx context.Context, cf *clientFlags, out io.Writer) error {
	adm, ctx, done, err := cf.openAdmin(ctx)
	if err != nil {
		return err
	}
	defer done()
	md, err := adm.Metadata(ctx)
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	preferred, imbalanced := leaderImbalance(md.Topics)
	fmt.Fprintf(out, "cluster %s, controller %d\n", md.Cluster, md.Controller)
	printBrokers(out, md, preferred)
	under, offline := unhealthyPartitions(md.Topics)
	printSection(out, "under-replicated partitions", under)
	printSection(out, "offline partitions", offline)
	printSection(out, "partitions not led by their preferred replica", imbalanced)
	return nil
}

func printSection(out io.Writer, title string, lines []string) {
	fmt.Fprintf(out, "%s: %d\n", title, len(lines))
	for _, s := range lines {
		fmt.Fprintln(out, s)
	}
}

// printBrokers lists the brokers by id, each with its share of preferred leaderships.
func printBrokers(out io.Writer, md kadm.Metadata, preferred map[int32]preferredLeads) {
	fmt.Fprintln(out, "brokers:")
	brokers := slices.Clone(md.Brokers)
	slices.SortFunc(brokers, func(a, b kadm.BrokerDetail) int { return int(a.NodeID - b.NodeID) })
	for _, b := range brokers {
		line := fmt.Sprintf("  %d %s", b.NodeID, net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port))))
		if b.NodeID == md.Controller {
			line += " (controller)"
		}
		if p := preferred[b.NodeID]; p.preferred > 0 {
			line += fmt.Sprintf(", leads %d of its %d preferred partitions", p.leading, p.preferred)
		}
		fmt.Fprintln(out, line)
	}
}

func partitionLine(topic string, p kadm.PartitionDetail) string {
	return fmt.Sprintf("  %s-%d leader %d replicas %v isr %v", topic, p.Partition, p.Leader, p.Replicas, p.ISR)
}

func isOffline(p kadm.PartitionDetail) bool {
	return p.Leader < 0 || errors.Is(p.Err, kerr.LeaderNotAvailable)
}

// unhealthyPartitions are the under-replicated and the offline partitions.
func unhealthyPartitions(topics kadm.TopicDetails) (under, offline []string) {
	for _, name := range topics.Names() {
		for _, p := range topics[name].Partitions.Sorted() {
			switch {
			case isOffline(p):
				offline = append(offline, partitionLine(name, p))
			case len(p.ISR) < len(p.Replicas):
				under = append(under, partitionLine(name, p))
			}
		}
	}
	return under, offline
}

// preferredLeads counts the partitions a broker is the preferred (first) replica of and
// how many of those it leads: Kafka's per-broker leader imbalance is the rest over the
// preferred count, which leader.imbalance.per.broker.percentage bounds.
type preferredLeads struct {
	preferred, leading int
}

// leaderImbalance counts each broker's preferred leaderships and lists the online
// partitions whose leader is not their preferred replica. Offline partitions count as
// not led but are not listed here: they are listed as offline, and no election of the
// preferred leader helps while it is down.
func leaderImbalance(topics kadm.TopicDetails) (map[int32]preferredLeads, []string) {
	counts := map[int32]preferredLeads{}
	var imbalanced []string
	for _, name := range topics.Names() {
		for _, p := range topics[name].Partitions.Sorted() {
			if len(p.Replicas) == 0 {
				continue
			}
			first := p.Replicas[0]
			c := counts[first]
			c.preferred++
			switch {
			case p.Leader == first && !isOffline(p):
				c.leading++
			case !isOffline(p):
				imbalanced = append(imbalanced, partitionLine(name, p))
			}
			counts[first] = c
		}
	}
	return counts, imbalanced
}
