package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// newClusterStatusCommand returns `nagare cluster status`: brokers, the controller, the
// metadata quorum, the partitions that are under-replicated (ISR smaller than the
// replicas) or offline (no leader), and the leader imbalance: partitions led by another
// replica than their preferred (first) one, which auto.leader.rebalance.enable and `partition
// elect-leaders` move back, as kafka-leader-election and Cruise Control users check.
func newClusterStatusCommand() *cobra.Command {
	cf := new(clientFlags)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show brokers, the controller, the metadata quorum, under-replicated and offline partitions, and leader imbalance",
		Long: `Show the brokers Metadata lists and the controller it names (with dedicated
controller-only nodes, the broker that forwards admin requests to the quorum: they
have no client listener); the metadata quorum (DescribeQuorum: its leader, epoch and
high watermark, each voter's and observer's log end, lag and last heartbeat; only the
quorum leader knows the others' progress, and controller-only nodes send no
heartbeats); the under-replicated and offline partitions, and the online
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
	cl, err := cf.newClient()
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := cf.adminFor(cl)
	ctx, cancel := cf.withTimeout(ctx)
	defer cancel()
	md, err := adm.Metadata(ctx)
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	preferred, imbalanced := leaderImbalance(md.Topics)
	fmt.Fprintf(out, "cluster %s, controller %d\n", md.Cluster, md.Controller)
	printQuorum(ctx, cl, out, time.Now())
	printBrokers(out, md, preferred)
	under, offline := unhealthyPartitions(md.Topics)
	printSection(out, "under-replicated partitions", under)
	printSection(out, "offline partitions", offline)
	printSection(out, "partitions not led by their preferred replica", imbalanced)
	return nil
}

// printQuorum shows the metadata quorum as DescribeQuorum reports it (Kafka's
// kafka-metadata-quorum describe --status and --replication in one): the leader, its
// epoch and high watermark, and each voter and observer with its log end offset, its lag
// behind the high watermark and how long ago the leader last heard from it. A cluster
// that cannot answer (no DESCRIBE on the cluster, an older version) leaves the rest of
// the status to print.
func printQuorum(ctx context.Context, cl *kgo.Client, out io.Writer, now time.Time) {
	p, err := describeQuorum(ctx, cl)
	if err != nil {
		fmt.Fprintf(out, "metadata quorum: unknown (%v)\n", err)
		return
	}
	fmt.Fprintf(out, "metadata quorum: leader %d, epoch %d, high watermark %d\n", p.LeaderID, p.LeaderEpoch, p.HighWatermark)
	for _, v := range sortedReplicas(p.CurrentVoters) {
		fmt.Fprintln(out, quorumReplicaLine("voter", v, p, now))
	}
	for _, o := range sortedReplicas(p.Observers) {
		fmt.Fprintln(out, quorumReplicaLine("observer", o, p, now))
	}
}

// describeQuorum asks for the quorum partition, __cluster_metadata-0. franz-go sends
// the request to the controller Metadata names, which in Nagare is the quorum leader
// unless the cluster has controller-only nodes.
func describeQuorum(ctx context.Context, cl *kgo.Client) (kmsg.DescribeQuorumResponseTopicPartition, error) {
	req := kmsg.NewPtrDescribeQuorumRequest()
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = "__cluster_metadata"
	rt.Partitions = []kmsg.DescribeQuorumRequestTopicPartition{kmsg.NewDescribeQuorumRequestTopicPartition()}
	req.Topics = []kmsg.DescribeQuorumRequestTopic{rt}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return kmsg.DescribeQuorumResponseTopicPartition{}, fmt.Errorf("describe quorum: %w", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return kmsg.DescribeQuorumResponseTopicPartition{}, fmt.Errorf("describe quorum: %w", err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return kmsg.DescribeQuorumResponseTopicPartition{}, errors.New("describe quorum: no quorum partition in the answer")
	}
	p := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		return kmsg.DescribeQuorumResponseTopicPartition{}, fmt.Errorf("describe quorum: %w", err)
	}
	return p, nil
}

func sortedReplicas(rs []kmsg.DescribeQuorumResponseTopicPartitionReplicaState) []kmsg.DescribeQuorumResponseTopicPartitionReplicaState {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b kmsg.DescribeQuorumResponseTopicPartitionReplicaState) int {
		return int(a.ReplicaID - b.ReplicaID)
	})
	return rs
}

// quorumReplicaLine is one replica of the quorum: its log end offset and lag (Kafka's
// high watermark minus log end offset), and the age of the leader's last contact and of
// the last time it was caught up. Unknown values (-1: a node that sends no heartbeats,
// or an answer from a node that does not lead) say so.
func quorumReplicaLine(role string, r kmsg.DescribeQuorumResponseTopicPartitionReplicaState, p kmsg.DescribeQuorumResponseTopicPartition, now time.Time) string {
	line := fmt.Sprintf("  %s %d", role, r.ReplicaID)
	if r.ReplicaID == p.LeaderID {
		line += " (leader)"
	}
	if r.LogEndOffset < 0 {
		return line + ": log end unknown"
	}
	line += fmt.Sprintf(": log end %d, lag %d", r.LogEndOffset, max(p.HighWatermark-r.LogEndOffset, 0))
	if r.ReplicaID == p.LeaderID {
		return line
	}
	return line + fmt.Sprintf(", last heartbeat %s, caught up %s", ago(r.LastFetchTimestamp, now), ago(r.LastCaughtUpTimestamp, now))
}

// ago is how long before now a Unix millisecond timestamp was, or "unknown" for -1.
func ago(ms int64, now time.Time) string {
	if ms < 0 {
		return "unknown"
	}
	return max(now.Sub(time.UnixMilli(ms)), 0).Round(time.Millisecond).String() + " ago"
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
