package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// clusterStopTimeout bounds each node's stop: a controlled shutdown is bounded by
// broker.session.timeout.ms, and flushing logs takes a moment more.
const clusterStopTimeout = 30 * time.Second

func newClusterCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Run a local development cluster, or show a cluster's health",
		Args:  noSubcommand,
		RunE:  showHelp,
	}
	cmd.AddCommand(newClusterUpCommand(), newClusterStatusCommand())
	return cmd
}

// newClusterUpCommand returns `nagare cluster up`: N nodes of this binary as child
// processes, each `nagare serve` with process.roles=broker,controller and its own data
// dir and ports, until SIGINT or SIGTERM, which stops them one by one (each with a
// controlled shutdown while the others still form a quorum).
func newClusterUpCommand() *cobra.Command {
	var (
		nodes   int
		dataDir string
		host    string
		sets    []string
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start a local cluster of N brokers as child processes; Ctrl-C stops it",
		Long: `Start N brokers on this machine, each a 'nagare serve' child process with its own
data dir (<data-dir>/node-N), free ports, process.roles=broker,controller and
controller.quorum.voters listing all of them. Each node's log goes to
<data-dir>/node-N.log. Prints the bootstrap servers once every broker is up; Ctrl-C
(SIGINT or SIGTERM) stops the nodes cleanly, one by one, and waits for them.`,
		Example: `  nagare cluster up --nodes 3
  nagare cluster up --nodes 5 --data-dir /tmp/nagare --set broker.session.timeout.ms=3000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if nodes < 1 {
				return usagef(cmd, "--nodes must be at least 1, got %d", nodes)
			}
			return clusterUp(cmd.Context(), cmd.OutOrStdout(), nodes, dataDir, host, sets)
		},
	}
	f := cmd.Flags()
	f.IntVar(&nodes, "nodes", 3, "number of brokers (each also a voter of the metadata quorum)")
	f.StringVar(&dataDir, "data-dir", "./data", "root of the nodes' data dirs (node-N under it)")
	f.StringVar(&host, "host", "127.0.0.1", "address the nodes listen on")
	f.StringArrayVar(&sets, "set", nil, "broker config key=value for every node (repeatable)")
	return cmd
}

// clusterNode is one child process of cluster up.
type clusterNode struct {
	id        int
	client    string // host:port of the PLAINTEXT listener
	cmd       *exec.Cmd
	exited    chan struct{}
	exitError error // set before exited closes
}

func clusterUp(ctx context.Context, out io.Writer, n int, root, host string, sets []string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this binary to start the nodes: %w", err)
	}
	ports, err := freePorts(host, 2*n)
	if err != nil {
		return err
	}
	var voters []string
	for i := range n {
		voters = append(voters, fmt.Sprintf("%d@%s", i+1, net.JoinHostPort(host, strconv.Itoa(ports[n+i]))))
	}
	nodes := make([]*clusterNode, 0, n)
	defer func() { stopClusterNodes(out, nodes) }()
	for i := range n {
		node := &clusterNode{id: i + 1, client: net.JoinHostPort(host, strconv.Itoa(ports[i])), exited: make(chan struct{})}
		dir := filepath.Join(root, fmt.Sprintf("node-%d", node.id))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("node %d: %w", node.id, err)
		}
		logFile, err := os.OpenFile(filepath.Join(root, fmt.Sprintf("node-%d.log", node.id)), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("node %d: %w", node.id, err)
		}
		args := []string{"serve", "--data-dir", dir, "--http", "",
			"--set", fmt.Sprintf("node.id=%d", node.id),
			"--set", "process.roles=broker,controller",
			"--set", fmt.Sprintf("listeners=PLAINTEXT://%s,CONTROLLER://%s", node.client, net.JoinHostPort(host, strconv.Itoa(ports[n+i]))),
			"--set", "controller.listener.names=CONTROLLER",
			"--set", "controller.quorum.voters=" + strings.Join(voters, ","),
		}
		for _, s := range sets {
			args = append(args, "--set", s)
		}
		node.cmd = exec.Command(self, args...)
		node.cmd.Stdout, node.cmd.Stderr = logFile, logFile
		ownProcessGroup(node.cmd) // Ctrl-C reaches cluster up only, which stops the nodes in turn
		if err := node.cmd.Start(); err != nil {
			logFile.Close()
			return fmt.Errorf("start node %d: %w", node.id, err)
		}
		go func() {
			node.exitError = node.cmd.Wait()
			logFile.Close()
			close(node.exited)
		}()
		nodes = append(nodes, node)
		fmt.Fprintf(out, "node %d: pid %d, data %s, log %s\n", node.id, node.cmd.Process.Pid, dir, logFile.Name())
	}
	var bootstrap []string
	for _, node := range nodes {
		bootstrap = append(bootstrap, node.client)
	}
	if err := waitClusterUp(ctx, nodes); err != nil {
		return err
	}
	fmt.Fprintf(out, "bootstrap servers: %s\n", strings.Join(bootstrap, ","))
	fmt.Fprintln(out, "press Ctrl-C to stop the cluster")
	for _, node := range nodes {
		select {
		case <-ctx.Done():
			return nil // the deferred stop does the rest
		case <-node.exited:
			return fmt.Errorf("node %d exited: %v (see its log)", node.id, node.exitError)
		}
	}
	return nil
}

// waitClusterUp waits until every node listens and lists every broker, or a node exits.
// It dials first: a client started before anything listens backs off for longer than a
// node takes to start.
func waitClusterUp(ctx context.Context, nodes []*clusterNode) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for _, node := range nodes {
		for {
			c, err := net.DialTimeout("tcp", node.client, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-node.exited:
				return fmt.Errorf("node %d exited while starting: %v (see its log)", node.id, node.exitError)
			case <-ctx.Done():
				return fmt.Errorf("waiting for node %d to listen on %s: %w", node.id, node.client, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	// Then each node must list every broker itself: a node that applied the others'
	// registrations later would answer a client with part of the cluster.
	for _, node := range nodes {
		if err := waitNodeSees(ctx, node, len(nodes)); err != nil {
			return err
		}
	}
	return nil
}

func waitNodeSees(ctx context.Context, node *clusterNode, brokers int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(node.client))
	if err != nil {
		return err
	}
	defer cl.Close()
	seed := cl.SeedBrokers()[0]
	for {
		reqCtx, reqCancel := context.WithTimeout(ctx, time.Second)
		resp, err := kmsg.NewPtrMetadataRequest().RequestWith(reqCtx, seed)
		reqCancel()
		if err == nil && len(resp.Brokers) == brokers {
			return nil
		}
		select {
		case <-node.exited:
			return fmt.Errorf("node %d exited while starting: %v (see its log)", node.id, node.exitError)
		case <-ctx.Done():
			return fmt.Errorf("waiting for node %d to see %d brokers: %w", node.id, brokers, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stopClusterNodes stops the nodes one at a time with SIGTERM, so that each has a quorum
// to move its leaderships through, and kills a node that does not stop in time.
func stopClusterNodes(out io.Writer, nodes []*clusterNode) {
	for _, node := range nodes {
		select {
		case <-node.exited:
			continue
		default:
		}
		if err := node.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			_ = node.cmd.Process.Kill()
		}
		select {
		case <-node.exited:
			fmt.Fprintf(out, "node %d stopped\n", node.id)
		case <-time.After(clusterStopTimeout):
			_ = node.cmd.Process.Kill()
			<-node.exited
			fmt.Fprintf(out, "node %d killed: it did not stop within %v\n", node.id, clusterStopTimeout)
		}
	}
}

// freePorts picks n distinct free ports on host. A port may be taken again before a node
// binds it; the node then fails to start and cluster up says so.
func freePorts(host string, n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, ln := range listeners {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, fmt.Errorf("pick a free port: %w", err)
		}
		listeners = append(listeners, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// newClusterStatusCommand returns `nagare cluster status`: brokers, the active
// controller, and the partitions that are under-replicated (ISR smaller than the
// replicas) or offline (no leader).
func newClusterStatusCommand() *cobra.Command {
	cf := new(clientFlags)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show brokers, the controller, and under-replicated and offline partitions",
		Args:  cobra.NoArgs,
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
		return err
	}
	fmt.Fprintf(out, "cluster %s, controller %d\n", md.Cluster, md.Controller)
	fmt.Fprintln(out, "brokers:")
	brokers := slices.Clone(md.Brokers)
	slices.SortFunc(brokers, func(a, b kadm.BrokerDetail) int { return int(a.NodeID - b.NodeID) })
	for _, b := range brokers {
		role := ""
		if b.NodeID == md.Controller {
			role = " (controller)"
		}
		fmt.Fprintf(out, "  %d %s%s\n", b.NodeID, net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port))), role)
	}
	var under, offline []string
	for _, name := range md.Topics.Names() {
		td := md.Topics[name]
		for _, p := range td.Partitions.Sorted() {
			desc := fmt.Sprintf("  %s-%d leader %d replicas %v isr %v", name, p.Partition, p.Leader, p.Replicas, p.ISR)
			switch {
			case p.Leader < 0 || errors.Is(p.Err, kerr.LeaderNotAvailable):
				offline = append(offline, desc)
			case len(p.ISR) < len(p.Replicas):
				under = append(under, desc)
			}
		}
	}
	fmt.Fprintf(out, "under-replicated partitions: %d\n", len(under))
	for _, s := range under {
		fmt.Fprintln(out, s)
	}
	fmt.Fprintf(out, "offline partitions: %d\n", len(offline))
	for _, s := range offline {
		fmt.Fprintln(out, s)
	}
	return nil
}
