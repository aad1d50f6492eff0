package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
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

// newClusterUpCommand returns `nagare cluster up`: nodes of this binary as child
// processes, each `nagare serve` with its own data dir and ports, until SIGINT or
// SIGTERM, which stops them one by one (each with a controlled shutdown while the others
// still form a quorum). By default every node is combined (broker and controller); with
// --controllers the quorum runs on dedicated controller-only nodes, as production KRaft
// clusters do, so that layout can be tried locally too.
func newClusterUpCommand() *cobra.Command {
	var (
		layout  clusterLayout
		dataDir string
		host    string
		sets    []string
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start a local cluster of N brokers as child processes; Ctrl-C stops it",
		Long: `Start N brokers on this machine, each a 'nagare serve' child process with its own
data dir (<data-dir>/node-N), free ports, process.roles=broker,controller and
controller.quorum.voters listing all of them. With --controllers K, nodes 1..K are
controller-only (process.roles=controller, only a CONTROLLER listener) and the quorum's
voters, and the N brokers that follow are broker-only. Each node's log goes to
<data-dir>/node-N.log. Prints the bootstrap servers (brokers only) once every broker is
up; Ctrl-C (SIGINT or SIGTERM) stops the nodes cleanly, brokers first, one by one, and
waits for them.`,
		Example: `  nagare cluster up --nodes 3
  nagare cluster up --controllers 3 --nodes 2
  nagare cluster up --nodes 5 --data-dir /tmp/nagare --set broker.session.timeout.ms=3000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if layout.brokers < 1 {
				return usagef(cmd, "--nodes must be at least 1, got %d", layout.brokers)
			}
			if layout.controllers < 0 {
				return usagef(cmd, "--controllers must not be negative, got %d", layout.controllers)
			}
			return clusterUp(cmd.Context(), cmd.OutOrStdout(), layout, dataDir, host, sets)
		},
	}
	f := cmd.Flags()
	f.IntVar(&layout.brokers, "nodes", 3, "number of brokers (each also a voter of the metadata quorum unless --controllers)")
	f.IntVar(&layout.controllers, "controllers", 0, "number of controller-only nodes to run the quorum on (0: every broker is also a controller)")
	f.StringVar(&dataDir, "data-dir", "./data", "root of the nodes' data dirs (node-N under it)")
	f.StringVar(&host, "host", "127.0.0.1", "address the nodes listen on")
	f.StringArrayVar(&sets, "set", nil, "broker config key=value for every node (repeatable)")
	return cmd
}

// clusterNode is one child process of cluster up.
type clusterNode struct {
	clusterNodeSpec
	cmd       *exec.Cmd
	exited    chan struct{}
	exitError error // set before exited closes
}

func clusterUp(ctx context.Context, out io.Writer, layout clusterLayout, root, host string, sets []string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this binary to start the nodes: %w", err)
	}
	specs, err := layout.plan(host)
	if err != nil {
		return err
	}
	nodes := make([]*clusterNode, 0, len(specs))
	defer func() { stopClusterNodes(out, stopOrder(nodes)) }()
	env := sharedMachineEnv(os.Environ(), len(specs), runtime.GOMAXPROCS(0)) // the runtime's count honours cgroup limits
	for _, spec := range specs {
		node, err := startClusterNode(self, root, spec, sets, env)
		if err != nil {
			return err
		}
		nodes = append(nodes, node)
		fmt.Fprintf(out, "node %d: %s, pid %d, data %s, log %s\n", node.id, node.roles, node.cmd.Process.Pid, node.dir(root), node.logPath(root))
	}
	if err := waitClusterUp(ctx, nodes); err != nil {
		return err
	}
	fmt.Fprintf(out, "bootstrap servers: %s\n", strings.Join(bootstrapServers(nodes), ","))
	fmt.Fprintln(out, "press Ctrl-C to stop the cluster")
	select {
	case <-ctx.Done():
		return nil // the deferred stop does the rest
	case node := <-firstExit(ctx, nodes):
		return fmt.Errorf("node %d exited: %v (see its log)", node.id, node.exitError)
	}
}

// startClusterNode starts one node as `nagare serve`, its output going to its log file.
func startClusterNode(self, root string, spec clusterNodeSpec, sets []string, env []string) (*clusterNode, error) {
	node := &clusterNode{clusterNodeSpec: spec, exited: make(chan struct{})}
	if err := os.MkdirAll(node.dir(root), 0o755); err != nil {
		return nil, fmt.Errorf("node %d: %w", node.id, err)
	}
	logFile, err := os.OpenFile(node.logPath(root), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("node %d: %w", node.id, err)
	}
	node.cmd = exec.Command(self, append([]string{"serve", "--data-dir", node.dir(root), "--http", ""}, node.serveSets(sets)...)...)
	node.cmd.Stdout, node.cmd.Stderr, node.cmd.Env = logFile, logFile, env
	ownProcessGroup(node.cmd) // Ctrl-C reaches cluster up only, which stops the nodes in turn
	if err := node.cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start node %d: %w", node.id, err)
	}
	go func() {
		node.exitError = node.cmd.Wait()
		logFile.Close()
		close(node.exited)
	}()
	return node, nil
}

// sharedMachineEnv is the nodes' environment: env, plus GOMAXPROCS at each node's share
// of the machine's cpus (at least 2 where there are) unless env sets it. Each node would
// otherwise size its Go runtime for the whole machine and add a P per warm-up worker
// (internal/broker, readpath.go): three nodes on two cpus then ran 30 Ps, whose idle
// ones woke spinning threads at every network event, and acks=all p99 doubled
// (docs/BENCHMARKS.md, "Replication, fourth round").
func sharedMachineEnv(env []string, nodes, cpus int) []string {
	for _, kv := range env {
		if strings.HasPrefix(kv, "GOMAXPROCS=") {
			return env
		}
	}
	share := min(cpus, max(2, cpus/max(nodes, 1)))
	return append(slices.Clip(env), "GOMAXPROCS="+strconv.Itoa(share))
}

// firstExit reports the first of nodes to exit, until ctx ends.
func firstExit(ctx context.Context, nodes []*clusterNode) <-chan *clusterNode {
	exits := make(chan *clusterNode, len(nodes))
	for _, node := range nodes {
		go func() {
			select {
			case <-node.exited:
				exits <- node
			case <-ctx.Done():
			}
		}()
	}
	return exits
}

// waitClusterUp waits until every broker listens and lists every broker, or any node
// (a controller too: without the quorum no broker gets ready) exits. It dials first: a
// client started before anything listens backs off for longer than a node takes to start.
func waitClusterUp(ctx context.Context, nodes []*clusterNode) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	exits := firstExit(ctx, nodes)
	brokers := slices.DeleteFunc(slices.Clone(nodes), func(n *clusterNode) bool { return n.client == "" })
	for _, node := range brokers {
		if err := waitListening(ctx, node, exits); err != nil {
			return err
		}
	}
	// Then each broker must list every broker itself: a broker that applied the others'
	// registrations later would answer a client with part of the cluster.
	for _, node := range brokers {
		if err := waitNodeSees(ctx, node, len(brokers), exits); err != nil {
			return err
		}
	}
	return nil
}

// startFailed is the error of waiting for a cluster a node of which exited.
func startFailed(node *clusterNode) error {
	return fmt.Errorf("node %d exited while starting: %v (see its log)", node.id, node.exitError)
}

func waitListening(ctx context.Context, node *clusterNode, exits <-chan *clusterNode) error {
	for {
		c, err := net.DialTimeout("tcp", node.client, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case dead := <-exits:
			return startFailed(dead)
		case <-ctx.Done():
			return fmt.Errorf("waiting for node %d to listen on %s: %w", node.id, node.client, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func waitNodeSees(ctx context.Context, node *clusterNode, brokers int, exits <-chan *clusterNode) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(node.client))
	if err != nil {
		return fmt.Errorf("client for node %d: %w", node.id, err)
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
		case dead := <-exits:
			return startFailed(dead)
		case <-ctx.Done():
			return fmt.Errorf("waiting for node %d to see %d brokers: %w", node.id, brokers, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stopOrder puts the brokers before the controller-only nodes: a broker's controlled
// shutdown needs the quorum to move its leaderships, so the controllers go last.
func stopOrder(nodes []*clusterNode) []*clusterNode {
	ordered := slices.Clone(nodes)
	slices.SortStableFunc(ordered, func(a, b *clusterNode) int {
		return cmpBool(a.client == "", b.client == "")
	})
	return ordered
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	default:
		return -1
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
