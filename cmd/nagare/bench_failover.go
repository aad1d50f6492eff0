package main

// `nagare bench failover` (issue 12): how long producers wait when a partition's leader
// dies. The bench starts a three-broker cluster in this process, produces one small
// record every --interval with acks=all to a topic of one partition (RF 3,
// min.insync.replicas=2), then --kills times stops the partition's leader (Halt, as kill
// -9 does, or a controlled shutdown), measures how long records waited after the stop,
// restarts the broker on its data dir and ports and waits until it is back in the ISR.
// At the end it reads the partition back and checks every acknowledged record is there
// exactly once. The report is in bench_failover_report.go.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/broker"
)

// Modes of bench failover: how the leader is stopped.
const (
	failoverCrash      = "crash"      // Broker.Halt: no controlled shutdown, like kill -9
	failoverControlled = "controlled" // Broker.Shutdown: leaderships move first
)

// failoverNodes is the size of the bench's cluster.
const failoverNodes = 3

type failoverOptions struct {
	kills     int
	mode      string
	session   time.Duration // broker.session.timeout.ms
	interval  time.Duration // between the producer's records
	settle    time.Duration // acks observed after a failover, and after a rejoin, before moving on
	topic     string
	timeout   time.Duration
	logOutput io.Writer
}

func newBenchFailoverCommand(bf *benchFlags) *cobra.Command {
	o := failoverOptions{kills: 20, mode: failoverCrash, session: 2 * time.Second, interval: 5 * time.Millisecond, settle: 500 * time.Millisecond}
	cmd := &cobra.Command{
		Use:   "failover",
		Short: "Measure how long producers wait when a partition's leader is killed",
		Long: `Measure leader failover as producers see it (issue 12). The command starts a cluster
of three brokers in this process (loopback ports, temporary data dirs,
broker.session.timeout.ms from --session-timeout and a heartbeat a quarter of it);
--bootstrap is not used. A producer (acks=all, idempotent, no linger, bootstrapped from
all three) sends one small record every --interval to a topic of one partition with
replication factor 3 and min.insync.replicas=2. Then --kills times:

  stop     the partition's leader: --mode crash halts it without a controlled shutdown
           (as kill -9 does: its leaderships stay until its session lapses), --mode
           controlled shuts it down gracefully (leaderships move first)
  measure  failover: the longest a record waited for its acknowledgment after the stop
           (from the stop, or from its send if later); first ack: from the stop until
           the first record sent after the stop was acknowledged
  restart  the broker on the same data dir and ports, and wait until it is back in
           the ISR; the longest wait of a record meanwhile is the rejoin stall

Finally the partition is read back: every acknowledged record must be there exactly once,
at the offset it was acknowledged at. The report gives p50, p90 and max of failover and
first ack, the lost and duplicated records, and issue 12's targets on the failover max:
under broker.session.timeout.ms + 1 s after a crash, under 2 s with controlled shutdown.
The producer refreshes metadata at most every 100 ms and retries every 50 ms, so that the
figures are the cluster's rather than the client's backoff.`,
		Example: `  nagare bench failover
  nagare bench failover --kills 20 --mode controlled -o json`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("bootstrap") {
				return usagef(cmd, "failover starts its own cluster; --bootstrap is not used")
			}
			switch {
			case o.kills <= 0:
				return usagef(cmd, "--kills must be positive")
			case o.mode != failoverCrash && o.mode != failoverControlled:
				return usagef(cmd, "--mode takes crash or controlled, got %q", o.mode)
			case o.session < 4*time.Millisecond || o.session%time.Millisecond != 0:
				return usagef(cmd, "--session-timeout must be a whole number of milliseconds, at least 4ms")
			case o.interval <= 0 || o.settle < 0:
				return usagef(cmd, "--interval must be positive and --settle not negative")
			}
			o.topic, o.timeout, o.logOutput = bf.topic, bf.client.timeout, cmd.ErrOrStderr()
			report, err := runFailover(cmd.Context(), &o)
			if err != nil {
				return err
			}
			return bf.print(cmd.OutOrStdout(), report)
		},
	}
	fs := cmd.Flags()
	fs.IntVar(&o.kills, "kills", o.kills, "leaders to stop, one after the other")
	fs.StringVar(&o.mode, "mode", o.mode, "how the leader stops: crash (no controlled shutdown, like kill -9) or controlled")
	fs.DurationVar(&o.session, "session-timeout", o.session, "broker.session.timeout.ms of the cluster")
	fs.DurationVar(&o.interval, "interval", o.interval, "time between the producer's records")
	fs.DurationVar(&o.settle, "settle", o.settle, "how long acknowledgments must flow after a failover and after a rejoin before the bench moves on")
	return cmd
}

// failoverNode is one broker of the bench's cluster; b is nil while it is stopped.
type failoverNode struct {
	id    int32
	dir   string
	addr  string // PLAINTEXT listener, the same across restarts
	props map[string]string
	b     *broker.Broker
}

type failoverCluster struct {
	o      *failoverOptions
	nodes  []*failoverNode
	logger *slog.Logger
	admin  *kgo.Client // metadata requests to each node in turn
}

// runFailover starts the cluster and the producer, stops --kills leaders and verifies the
// partition at the end.
func runFailover(ctx context.Context, o *failoverOptions) (*failoverReport, error) {
	root, err := os.MkdirTemp("", "nagare-bench-failover-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(root)
	c, err := startFailoverCluster(ctx, o, root)
	if err != nil {
		return nil, err
	}
	defer c.stop()
	if err := c.createTopic(ctx); err != nil {
		return nil, err
	}
	p, err := startFailoverProducer(o, c.bootstrap())
	if err != nil {
		return nil, err
	}
	defer p.close()
	report := &failoverReport{Settings: o.settings()}
	if _, err := p.waitAck(ctx, p.next(), o.timeout); err != nil {
		return nil, fmt.Errorf("bench failover: the producer's first record: %w", err)
	}
	for i := range o.kills {
		k, err := c.killOnce(ctx, p, i+1)
		if err != nil {
			return nil, fmt.Errorf("bench failover, kill %d: %w", i+1, err)
		}
		report.Kills = append(report.Kills, *k)
	}
	if err := p.finish(ctx, o.timeout); err != nil {
		o.logf("producer flush: %v", err)
	}
	if report.Records, err = c.verify(ctx, p); err != nil {
		return nil, fmt.Errorf("bench failover, reading the partition back: %w", err)
	}
	report.finish()
	return report, nil
}

// startFailoverCluster picks six free loopback ports (a PLAINTEXT and a CONTROLLER
// listener per node) and starts the three brokers concurrently, as each waits for the
// quorum.
func startFailoverCluster(ctx context.Context, o *failoverOptions, root string) (*failoverCluster, error) {
	ports := make([]int, 2*failoverNodes)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ports[i] = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
	}
	var voters []string
	for i := range failoverNodes {
		voters = append(voters, fmt.Sprintf("%d@127.0.0.1:%d", i+1, ports[failoverNodes+i]))
	}
	heartbeat := max(o.session/4, time.Millisecond)
	c := &failoverCluster{o: o, logger: slog.New(quietRaft{slog.NewTextHandler(o.logOutput, &slog.HandlerOptions{Level: slog.LevelWarn})})}
	for i := range failoverNodes {
		n := &failoverNode{id: int32(i + 1), dir: filepath.Join(root, fmt.Sprintf("node-%d", i+1)),
			addr: fmt.Sprintf("127.0.0.1:%d", ports[i])}
		n.props = map[string]string{
			"node.id":                      strconv.Itoa(i + 1),
			"process.roles":                "broker,controller",
			"listeners":                    fmt.Sprintf("PLAINTEXT://%s,CONTROLLER://127.0.0.1:%d", n.addr, ports[failoverNodes+i]),
			"controller.listener.names":    "CONTROLLER",
			"controller.quorum.voters":     strings.Join(voters, ","),
			"broker.session.timeout.ms":    strconv.FormatInt(o.session.Milliseconds(), 10),
			"broker.heartbeat.interval.ms": strconv.FormatInt(heartbeat.Milliseconds(), 10),
		}
		if err := os.MkdirAll(n.dir, 0o755); err != nil {
			return nil, err
		}
		c.nodes = append(c.nodes, n)
	}
	errs := make([]error, failoverNodes)
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Go(func() { errs[i] = c.start(ctx, n) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		c.stop()
		return nil, err
	}
	o.logf("cluster of %d brokers at %s, session timeout %s, heartbeat %s", failoverNodes, c.bootstrap(), o.session, heartbeat)
	var err error
	cf := &clientFlags{bootstrap: c.bootstrap(), clientID: "nagare-bench-failover-admin", timeout: o.timeout}
	if c.admin, err = cf.newClient(kgo.MetadataMinAge(50 * time.Millisecond)); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

// start starts n on its data dir and ports.
func (c *failoverCluster) start(ctx context.Context, n *failoverNode) error {
	ctx, cancel := context.WithTimeout(ctx, c.o.timeout)
	defer cancel()
	b, err := broker.Start(ctx, broker.Config{Properties: n.props, DataDir: n.dir, Logger: c.logger.With("node_id", n.id)})
	if err != nil {
		return fmt.Errorf("start broker %d: %w", n.id, err)
	}
	n.b = b
	return nil
}

// stop halts every running broker and closes the admin client: nothing is measured any
// more, and a controlled shutdown of the whole cluster at once only waits for answers.
func (c *failoverCluster) stop() {
	if c.admin != nil {
		c.admin.Close()
	}
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		if n.b == nil {
			continue
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), c.o.timeout)
			defer cancel()
			n.b.Halt(ctx)
			n.b = nil
		})
	}
	wg.Wait()
}

func (c *failoverCluster) bootstrap() string {
	addrs := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		addrs[i] = n.addr
	}
	return strings.Join(addrs, ",")
}

func (c *failoverCluster) node(id int32) *failoverNode {
	for _, n := range c.nodes {
		if n.id == id {
			return n
		}
	}
	return nil
}

// createTopic creates the topic with one partition, RF 3 and min.insync.replicas=2, and
// waits until every node sees all three replicas in sync.
func (c *failoverCluster) createTopic(ctx context.Context) error {
	cf := &clientFlags{bootstrap: c.bootstrap(), clientID: "nagare-bench-failover-admin", timeout: c.o.timeout}
	adm, err := cf.newAdmin()
	if err != nil {
		return err
	}
	defer adm.Close()
	tctx, cancel := cf.withTimeout(ctx)
	defer cancel()
	minISR := "2"
	resp, err := adm.CreateTopic(tctx, 1, failoverNodes, map[string]*string{"min.insync.replicas": &minISR}, c.o.topic)
	if err != nil {
		return topicError("create", c.o.topic, err, resp.ErrMessage)
	}
	_, err = c.waitView(ctx, "all replicas in sync", func(v failoverView) bool { return v.leader > 0 && len(v.isr) == failoverNodes })
	return err
}

// failoverView is the partition as every running node's Metadata answer agrees it is.
type failoverView struct {
	leader, epoch int32
	isr           []int32
	controller    int32
}

// view asks every running node for the partition's metadata and returns their common
// answer, or an error when they disagree or one does not answer.
func (c *failoverCluster) view(ctx context.Context) (failoverView, error) {
	var first *failoverView
	for _, n := range c.nodes {
		if n.b == nil {
			continue
		}
		req := kmsg.NewPtrMetadataRequest()
		t := kmsg.NewMetadataRequestTopic()
		t.Topic = kmsg.StringPtr(c.o.topic)
		req.Topics = append(req.Topics, t)
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		resp, err := req.RequestWith(rctx, c.admin.Broker(int(n.id)))
		cancel()
		if err != nil {
			return failoverView{}, fmt.Errorf("metadata from broker %d: %w", n.id, err)
		}
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			return failoverView{}, fmt.Errorf("broker %d does not know the partition yet", n.id)
		}
		pm := resp.Topics[0].Partitions[0]
		v := failoverView{leader: pm.Leader, epoch: pm.LeaderEpoch, isr: slices.Sorted(slices.Values(pm.ISR)), controller: resp.ControllerID}
		if first == nil {
			first = &v
		} else if first.leader != v.leader || first.epoch != v.epoch || !slices.Equal(first.isr, v.isr) {
			return failoverView{}, fmt.Errorf("brokers disagree: %+v, %+v", *first, v)
		}
	}
	if first == nil {
		return failoverView{}, errors.New("no broker running")
	}
	return *first, nil
}

// waitView polls the view every 20ms until ok holds, for up to --timeout.
func (c *failoverCluster) waitView(ctx context.Context, what string, ok func(failoverView) bool) (failoverView, error) {
	deadline := time.Now().Add(c.o.timeout)
	var last failoverView
	var lastErr error
	for {
		// The admin client learns the brokers' addresses from its first metadata answer.
		if v, err := c.view(ctx); err == nil {
			if ok(v) {
				return v, nil
			}
			last, lastErr = v, nil
		} else {
			lastErr = err
			_, _ = c.admin.RequestCachedMetadata(ctx, kmsg.NewPtrMetadataRequest(), 0)
		}
		if time.Now().After(deadline) {
			return last, fmt.Errorf("no %s within %s (last view %+v, last error %v)", what, c.o.timeout, last, lastErr)
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// killOnce stops the partition's leader, measures the failover, restarts the broker and
// waits until it is back in the ISR.
func (c *failoverCluster) killOnce(ctx context.Context, p *failoverProducer, kill int) (*failoverKill, error) {
	before, err := c.waitView(ctx, "leader with a full ISR", func(v failoverView) bool { return v.leader > 0 && len(v.isr) == failoverNodes })
	if err != nil {
		return nil, err
	}
	victim := c.node(before.leader)
	if victim == nil || victim.b == nil {
		return nil, fmt.Errorf("leader %d is not a running node", before.leader)
	}
	if _, err := p.waitAck(ctx, p.next(), c.o.timeout); err != nil {
		return nil, fmt.Errorf("producer not acknowledged before the stop: %w", err)
	}
	k := &failoverKill{Kill: kill, Node: victim.id, WasController: before.controller == victim.id, LeaderEpoch: before.epoch}

	var survivors []int32
	for _, n := range c.nodes {
		if n != victim {
			survivors = append(survivors, n.id)
		}
	}
	stopSeq := p.next()
	stopAt := time.Now()
	elected := make(chan time.Time, 1)
	ectx, cancelElected := context.WithCancel(ctx)
	defer cancelElected()
	go func() { elected <- c.waitNewLeader(ectx, survivors, victim.id) }()
	sctx, cancel := context.WithTimeout(ctx, c.o.timeout)
	if c.o.mode == failoverCrash {
		err = victim.b.Halt(sctx)
	} else {
		err = victim.b.Shutdown(sctx)
	}
	cancel()
	victim.b = nil
	k.StopCallMs = ms(time.Since(stopAt))
	if err != nil {
		c.o.logf("kill %d: stopping broker %d: %v", kill, victim.id, err)
	}
	firstAck, err := p.waitAck(ctx, stopSeq, c.o.timeout)
	if err != nil {
		v, verr := c.view(ctx)
		return nil, fmt.Errorf("no record sent after stopping broker %d acknowledged within %s (view %+v, %v): %w", victim.id, c.o.timeout, v, verr, err)
	}
	k.FirstAckMs = ms(firstAck.Sub(stopAt))
	if at := <-elected; !at.IsZero() {
		k.ElectedMs = ms(at.Sub(stopAt))
	}
	time.Sleep(c.o.settle)
	after, err := c.waitView(ctx, "new leader", func(v failoverView) bool { return v.leader > 0 && v.leader != victim.id })
	if err != nil {
		return nil, err
	}
	k.NewLeader, k.NewLeaderEpoch, k.ISRAfter = after.leader, after.epoch, after.isr
	end := p.next()
	if err := p.waitAll(ctx, end, c.o.timeout); err != nil {
		return nil, err
	}
	w := p.window(stopAt, end)
	k.FailoverMs, k.Failed = ms(w.maxWait), w.failed

	restartAt := time.Now()
	if err := c.start(ctx, victim); err != nil {
		return nil, err
	}
	k.RestartMs = ms(time.Since(restartAt))
	if _, err := c.waitView(ctx, fmt.Sprintf("broker %d back in the ISR", victim.id), func(v failoverView) bool {
		return v.leader > 0 && len(v.isr) == failoverNodes
	}); err != nil {
		return nil, err
	}
	k.RejoinMs = ms(time.Since(restartAt))
	time.Sleep(c.o.settle)
	end = p.next()
	if err := p.waitAll(ctx, end, c.o.timeout); err != nil {
		return nil, err
	}
	w = p.window(restartAt, end)
	k.RejoinStallMs, k.Failed = ms(w.maxWait), k.Failed+w.failed
	c.o.logf("kill %d: broker %d (%s, controller %t): failover %.0f ms, first ack %.0f ms, new leader %d; back in the ISR after %.0f ms",
		kill, victim.id, c.o.mode, k.WasController, k.FailoverMs, k.FirstAckMs, k.NewLeader, k.RejoinMs)
	return k, nil
}

// waitNewLeader asks the survivors in turn for the partition's leader until one names
// another than victim, and returns when; zero if ctx ends first.
func (c *failoverCluster) waitNewLeader(ctx context.Context, survivors []int32, victim int32) time.Time {
	for ctx.Err() == nil {
		for _, id := range survivors {
			req := kmsg.NewPtrMetadataRequest()
			t := kmsg.NewMetadataRequestTopic()
			t.Topic = kmsg.StringPtr(c.o.topic)
			req.Topics = append(req.Topics, t)
			rctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			resp, err := req.RequestWith(rctx, c.admin.Broker(int(id)))
			cancel()
			if err == nil && len(resp.Topics) == 1 && len(resp.Topics[0].Partitions) == 1 {
				if l := resp.Topics[0].Partitions[0].Leader; l >= 0 && l != victim {
					return time.Now()
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Millisecond):
		}
	}
	return time.Time{}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// failoverRecord is one produced record: sequence number = index.
type failoverRecord struct {
	sent, acked time.Time
	offset      int64
	err         error
	done        bool
}

// failoverProducer sends a record every --interval and keeps the fate of each.
type failoverProducer struct {
	cl     *kgo.Client
	cancel context.CancelFunc
	stopCh chan struct{}
	done   chan struct{}

	mu      sync.Mutex
	recs    []failoverRecord
	changed chan struct{} // closed and replaced when an ack arrives
}

func startFailoverProducer(o *failoverOptions, bootstrap string) (*failoverProducer, error) {
	cf := &clientFlags{bootstrap: bootstrap, clientID: "nagare-bench-failover", timeout: o.timeout}
	cl, err := cf.newClient(kgo.DefaultProduceTopic(o.topic), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0), kgo.RecordDeliveryTimeout(o.timeout),
		kgo.MetadataMinAge(100*time.Millisecond), kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &failoverProducer{cl: cl, cancel: cancel, stopCh: make(chan struct{}), done: make(chan struct{}), changed: make(chan struct{})}
	go p.run(ctx, o.interval)
	return p, nil
}

func (p *failoverProducer) run(ctx context.Context, interval time.Duration) {
	defer close(p.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-p.stopCh:
			return
		case <-tick.C:
		}
		p.mu.Lock()
		seq := len(p.recs)
		p.recs = append(p.recs, failoverRecord{sent: time.Now()})
		p.mu.Unlock()
		r := &kgo.Record{Partition: 0, Value: []byte(fmt.Sprintf("%016d", seq))}
		p.cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			now := time.Now()
			p.mu.Lock()
			rec := &p.recs[seq]
			rec.acked, rec.offset, rec.err, rec.done = now, r.Offset, err, true
			close(p.changed)
			p.changed = make(chan struct{})
			p.mu.Unlock()
		})
	}
}

// next is the sequence number of the next record to be sent.
func (p *failoverProducer) next() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.recs)
}

// waitAck waits until some record numbered from or later is acknowledged and returns the
// earliest such acknowledgment's time.
func (p *failoverProducer) waitAck(ctx context.Context, from int, timeout time.Duration) (time.Time, error) {
	return p.wait(ctx, timeout, func() (time.Time, bool) {
		var first time.Time
		for i := from; i < len(p.recs); i++ {
			if r := p.recs[i]; r.done && r.err == nil && (first.IsZero() || r.acked.Before(first)) {
				first = r.acked
			}
		}
		return first, !first.IsZero()
	})
}

// waitAll waits until every record numbered below end has its answer.
func (p *failoverProducer) waitAll(ctx context.Context, end int, timeout time.Duration) error {
	_, err := p.wait(ctx, timeout, func() (time.Time, bool) {
		for i := end - 1; i >= 0 && i < len(p.recs); i-- {
			if !p.recs[i].done {
				return time.Time{}, false
			}
		}
		return time.Time{}, true
	})
	return err
}

func (p *failoverProducer) wait(ctx context.Context, timeout time.Duration, cond func() (time.Time, bool)) (time.Time, error) {
	deadline := time.After(timeout)
	for {
		p.mu.Lock()
		t, ok := cond()
		changed := p.changed
		p.mu.Unlock()
		if ok {
			return t, nil
		}
		select {
		case <-changed:
		case <-deadline:
			return time.Time{}, fmt.Errorf("records not acknowledged within %s", timeout)
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
}

// failoverWindow is what records below end waited after from.
type failoverWindow struct {
	maxWait time.Duration // longest wait, counted from from or the record's send if later
	failed  int           // records that failed
}

// window measures the records below end answered after from; every one must be answered.
func (p *failoverProducer) window(from time.Time, end int) failoverWindow {
	p.mu.Lock()
	defer p.mu.Unlock()
	var w failoverWindow
	for i := end - 1; i >= 0; i-- {
		r := p.recs[i]
		if r.acked.Before(from) {
			if r.sent.Before(from.Add(-time.Minute)) {
				break // long answered before the window
			}
			continue
		}
		if r.err != nil {
			w.failed++
			continue
		}
		start := r.sent
		if start.Before(from) {
			start = from
		}
		w.maxWait = max(w.maxWait, r.acked.Sub(start))
	}
	return w
}

// finish stops sending and waits for every record's answer.
func (p *failoverProducer) finish(ctx context.Context, timeout time.Duration) error {
	close(p.stopCh)
	<-p.done
	fctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return p.cl.Flush(fctx)
}

func (p *failoverProducer) close() {
	select {
	case <-p.stopCh:
	default:
		close(p.stopCh)
	}
	<-p.done
	p.cancel()
	p.cl.Close()
}

// verify reads the partition from its start to its high watermark and checks each
// acknowledged record is there once, at its acknowledged offset, and that the three
// replicas' logs end at the same offset.
func (c *failoverCluster) verify(ctx context.Context, p *failoverProducer) (failoverRecords, error) {
	cf := &clientFlags{bootstrap: c.bootstrap(), clientID: "nagare-bench-failover-verify", timeout: c.o.timeout}
	ends, err := endOffsets(ctx, cf, c.o.topic)
	if err != nil {
		return failoverRecords{}, err
	}
	hwm := ends[0]
	cl, err := cf.newClient(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{c.o.topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		return failoverRecords{}, err
	}
	defer cl.Close()
	found := map[int][]int64{} // sequence number -> offsets
	var r failoverRecords
	rctx, cancel := context.WithTimeout(ctx, c.o.timeout)
	defer cancel()
	for next := int64(0); next < hwm; {
		fetches := cl.PollFetches(rctx)
		if err := rctx.Err(); err != nil {
			return r, fmt.Errorf("read %d of %d offsets: %w", next, hwm, err)
		}
		for _, fe := range fetches.Errors() {
			return r, fmt.Errorf("fetch: %w", fe.Err)
		}
		fetches.EachRecord(func(rec *kgo.Record) {
			next = rec.Offset + 1
			r.Consumed++
			seq, err := strconv.Atoi(string(rec.Value))
			if err != nil {
				r.Foreign++
				return
			}
			found[seq] = append(found[seq], rec.Offset)
		})
	}
	r.HighWatermark = hwm

	p.mu.Lock()
	defer p.mu.Unlock()
	r.Sent = len(p.recs)
	for seq, rec := range p.recs {
		offsets := found[seq]
		switch {
		case !rec.done:
			r.Unanswered++
		case rec.err != nil:
			r.Failed++
			if len(offsets) > 0 {
				r.FailedButWritten++
			}
		default:
			r.Acked++
			switch {
			case len(offsets) == 0:
				r.Lost++
				if len(r.LostSeqs) < 20 {
					r.LostSeqs = append(r.LostSeqs, seq)
				}
			case !slices.Contains(offsets, rec.offset):
				r.OffsetMoved++
			}
		}
		if len(offsets) > 1 {
			r.Duplicated++
			if len(r.Duplicates) < 20 {
				r.Duplicates = append(r.Duplicates, failoverDuplicate{Seq: seq, Offsets: offsets, AckedOffset: rec.offset, Acked: rec.done && rec.err == nil})
			}
		}
	}
	for _, n := range c.nodes {
		if n.b == nil {
			continue
		}
		if part, ok := n.b.Partitions().Get(c.o.topic, 0); ok {
			r.ReplicaLogEnds = append(r.ReplicaLogEnds, part.Log().LogEndOffset())
		}
	}
	return r, nil
}

func (o *failoverOptions) logf(format string, args ...any) {
	fmt.Fprintf(o.logOutput, "bench failover: "+format+"\n", args...)
}

// quietRaft drops the raft library's logs (logger=raft...): with a voter stopped on
// purpose it logs every failed dial, which would bury the controller's warnings.
type quietRaft struct{ slog.Handler }

func (h quietRaft) Handle(ctx context.Context, r slog.Record) error {
	raft := false
	r.Attrs(func(a slog.Attr) bool {
		raft = a.Key == "logger" && strings.HasPrefix(a.Value.String(), "raft")
		return !raft
	})
	if raft {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h quietRaft) WithAttrs(attrs []slog.Attr) slog.Handler {
	return quietRaft{h.Handler.WithAttrs(attrs)}
}

func (h quietRaft) WithGroup(name string) slog.Handler { return quietRaft{h.Handler.WithGroup(name)} }
