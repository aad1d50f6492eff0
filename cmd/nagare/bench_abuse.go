package main

// `nagare bench abuse` (issue 6): a well-behaved producer's latency alone, then while an
// abusive client hammers the broker with tiny unbatched requests, without and with the
// default request quota. The bench starts its own broker in this process, a fresh one
// per phase; the abuser runs in a child process of this binary (`bench abuse-clients`),
// so its CPU is not the probe's Go runtime. The report is in bench_abuse_report.go.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/broker"
)

// Phases of bench abuse, in the order they run.
const (
	phaseAlone   = "alone"    // the probe producer alone; quotas as shipped
	phaseNoQuota = "no-quota" // with the abuser, request quota off
	phaseQuota   = "quota"    // with the abuser, the default request quota on
)

// abuserClientID is the client.id of every abusive connection: one client
// as the broker's quotas see it.
const abuserClientID = "nagare-bench-abuser"

type abuseOptions struct {
	duration    time.Duration // probe measurement per phase
	warmup      time.Duration // abuser running before the probe is measured
	rate        float64
	probeSize   int
	connections int
	repeat      int
	quota       float64 // request percentage of the quota phase; 0: the broker's default
	inProcess   bool    // abusers in this process (tests)
	// probeInProcess runs the probe in this process, sharing the broker's Go runtime.
	probeInProcess bool
	probePlace     childPlacement // where the probe's process runs
	abuser         childPlacement // where the abusers' process runs
	topic          string
	timeout        time.Duration
	logOutput      io.Writer
	brokerSets     []string // --broker-set: more broker configs, under the phase's own
}

func newBenchAbuseCommand(bf *benchFlags) *cobra.Command {
	o := abuseOptions{duration: 10 * time.Second, warmup: 2 * time.Second, rate: 2000, probeSize: 100, connections: 32, repeat: 1}
	cmd := &cobra.Command{
		Use:   "abuse",
		Short: "Measure a producer's latency while an abusive client hammers the broker, with and without quotas",
		Long: `Measure what a runaway client does to a well-behaved one, and what the request quota
(issue 6) saves. The command starts its own broker in this process (loopback port,
temporary data dir, a fresh broker per phase); --bootstrap is not used. Phases:

  alone     a probe producer sends --probe-size-byte records at --rate records/s, acks=1,
            no linger, to its own topic for --duration; its latencies are the baseline
  no-quota  the same while --connections abusive clients (one client.id, in a child
            process) loop over ApiVersions, Metadata and a one-record Produce (to their
            own topic, --topic with -abuser appended) as fast as they can, with nagare.quota.default.request.percentage=0 (no request quota)
  quota     the same with the default request quota on (--quota overrides its value)

The report gives the probe's p50, p99 and p99.9 and their ratios to alone, the abuser's
request rate, the throttle time its responses carried, and its broker time as the
broker's quota accounting measured it. Targets (issue 6), in the quota phase: probe p99
within 1.5x of alone, abuser's broker time within its quota (+15%).`,
		Example: `  nagare bench abuse
  nagare bench abuse --duration 10s --repeat 3 -o json`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("bootstrap") {
				return usagef(cmd, "abuse starts its own broker; --bootstrap is not used")
			}
			switch {
			case o.duration <= 0 || o.warmup < 0:
				return usagef(cmd, "--duration must be positive and --warmup not negative")
			case o.rate <= 0 || o.probeSize < 0:
				return usagef(cmd, "--rate must be positive and --probe-size not negative")
			case o.connections <= 0 || o.repeat <= 0:
				return usagef(cmd, "--connections and --repeat must be positive")
			case o.quota < 0:
				return usagef(cmd, "--quota must not be negative")
			}
			o.topic, o.timeout, o.logOutput = bf.topic, bf.client.timeout, &lockedWriter{w: cmd.ErrOrStderr()}
			report, err := runAbuse(cmd.Context(), &o)
			if err != nil {
				return err
			}
			return bf.print(cmd.OutOrStdout(), report)
		},
	}
	fs := cmd.Flags()
	fs.StringArrayVar(&o.brokerSets, "broker-set", nil, "more config key=value for the bench's brokers (repeatable); the phase's request quota wins")
	fs.DurationVar(&o.duration, "duration", o.duration, "probe measurement per phase")
	fs.DurationVar(&o.warmup, "warmup", o.warmup, "how long the abuser runs before the probe is measured")
	fs.Float64Var(&o.rate, "rate", o.rate, "probe producer records per second")
	fs.IntVar(&o.probeSize, "probe-size", o.probeSize, "probe producer record value bytes")
	fs.IntVar(&o.connections, "connections", o.connections, "abusive clients, each with its own connections")
	fs.IntVar(&o.repeat, "repeat", o.repeat, "rounds of the three phases; the verdict uses medians")
	fs.Float64Var(&o.quota, "quota", 0, "request_percentage of the quota phase (0: the broker's shipped default)")
	fs.StringVar(&o.abuser.cpus, "abuser-cpus", "",
		"pin the abusers' process to these CPUs (taskset list, e.g. 1), so that with the bench itself pinned "+
			"elsewhere (taskset -c 0 nagare bench abuse ...) their own CPU does not compete with the broker's, "+
			"as an abuser on another machine would not")
	fs.IntVar(&o.abuser.nice, "abuser-nice", 0,
		"niceness of the abusers' process (0-19): at 19 it runs on the CPU time the broker and the probe leave over, "+
			"as an abuser on another machine would")
	fs.IntVar(&o.probePlace.nice, "probe-nice", 0, probeNiceUsage)
	fs.BoolVar(&o.probeInProcess, "probe-in-process", false,
		"run the probe producer in this process, sharing the broker's Go runtime, not in a child")
	fs.BoolVar(&o.inProcess, "abusers-in-process", false,
		"run the abusers in this process, not a child (for tests: their CPU then competes with the probe's)")
	return cmd
}

// runAbuse runs the phases --repeat times.
func runAbuse(ctx context.Context, o *abuseOptions) (*abuseReport, error) {
	report := &abuseReport{Settings: o.settings()}
	for round := range o.repeat {
		for _, phase := range []string{phaseAlone, phaseNoQuota, phaseQuota} {
			run, err := o.runPhase(ctx, phase)
			if err != nil {
				return nil, fmt.Errorf("bench abuse, %s: %w", phase, err)
			}
			run.Repeat = round + 1
			report.Runs = append(report.Runs, *run)
		}
	}
	report.finish()
	return report, nil
}

// runPhase starts a broker for phase and measures the probe, with the abuser unless
// the phase is alone.
func (o *abuseOptions) runPhase(ctx context.Context, phase string) (*abuseRun, error) {
	props := map[string]string{}
	if err := applySets(props, o.brokerSets, "--broker-set"); err != nil {
		return nil, err
	}
	switch {
	case phase == phaseNoQuota:
		props["nagare.quota.default.request.percentage"] = "0"
	case phase == phaseQuota && o.quota > 0:
		props["nagare.quota.default.request.percentage"] = strconv.FormatFloat(o.quota, 'f', -1, 64)
	}
	dir, err := os.MkdirTemp("", "nagare-bench-abuse-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	logger := slog.New(slog.NewTextHandler(o.logOutput, &slog.HandlerOptions{Level: slog.LevelWarn}))
	b, err := broker.Start(ctx, broker.Config{Properties: props, DataDir: dir, Listen: "127.0.0.1:0", Logger: logger, TuneRuntime: true})
	if err != nil {
		return nil, err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), o.timeout)
		defer cancel()
		b.Shutdown(stopCtx)
	}()
	cf := &clientFlags{bootstrap: b.Addr(), clientID: "nagare-bench-abuse", timeout: o.timeout}
	// Each tenant has its own topic, as on a shared cluster: the abuser's produces do not
	// queue on the probe's partition.
	for _, topic := range []string{o.topic, o.abuserTopic()} {
		if _, err := ensureTopic(ctx, cf, topic, 1, -1, io.Discard); err != nil {
			return nil, err
		}
	}
	probeOpts := &coldReadOptions{topic: o.topic, probeSize: o.probeSize, rate: o.rate, timeout: o.timeout, logOutput: o.logOutput}
	probe, err := startProbe(ctx, cf, probeOpts, o.probeInProcess, o.probePlace)
	if err != nil {
		return nil, err
	}
	defer probe.close()

	run := &abuseRun{Phase: phase}
	var abusers *abuserHandle
	if phase != phaseAlone {
		o.logf("%s: broker at %s, %d abusive clients", phase, b.Addr(), o.connections)
		if abusers, err = o.startAbusers(ctx, cf); err != nil {
			return nil, err
		}
		defer abusers.stop()
		time.Sleep(o.warmup)
	} else {
		o.logf("%s: broker at %s, probe alone for %s at %g records/s", phase, b.Addr(), o.duration, o.rate)
	}
	before := abuserUsage(b)
	cpu := startCPU(selfMeter())
	start := time.Now()
	h := probe.runFor(ctx, o.duration)
	elapsed := time.Since(start)
	after := abuserUsage(b)
	if used := cpu.stop(); used != nil {
		pct := 100 * *used / elapsed.Seconds()
		run.BrokerCPUPercent = &pct
	}
	run.LoadAverage = loadAverage()
	if err := probe.err(); err != nil {
		return nil, err
	}
	run.Probe, run.ProbeRecords = summarizeLatency(h), h.count()
	run.RequestQuota = after.RequestQuota
	if phase != phaseAlone {
		stats, err := abusers.stop()
		if err != nil {
			return nil, err
		}
		run.Abuser = &stats
		run.Abuser.BrokerTimePercent = 100 * (after.TimeUsed - before.TimeUsed).Seconds() / elapsed.Seconds()
		run.Abuser.BrokerThrottledSeconds = (after.Throttled - before.Throttled).Seconds()
		run.Abuser.BrokerThrottleCount = after.ThrottleCount - before.ThrottleCount
	}
	return run, nil
}

// usageSnapshot is the broker's accounting of the abuser's client-id.
type usageSnapshot struct {
	TimeUsed, Throttled time.Duration
	ThrottleCount       int64
	RequestQuota        float64
}

func abuserUsage(b *broker.Broker) usageSnapshot {
	var s usageSnapshot
	for _, u := range b.Quotas().Usage() {
		if u.ClientID == abuserClientID {
			s.TimeUsed += u.TimeUsed
			s.Throttled += u.Throttled
			s.ThrottleCount += u.ThrottleCount
			s.RequestQuota = u.RequestQuota
		}
	}
	return s
}

// abuserTopic is the abusive tenant's own topic.
func (o *abuseOptions) abuserTopic() string { return o.topic + "-abuser" }

func (o *abuseOptions) logf(format string, args ...any) {
	fmt.Fprintf(o.logOutput, "bench abuse: "+format+"\n", args...)
}

// abuserHandle is a running set of abusers: a child process, or goroutines.
type abuserHandle struct {
	once   sync.Once
	result abuserStats
	err    error
	halt   func() (abuserStats, error)
}

// stop stops the abusers (once) and returns what they did.
func (h *abuserHandle) stop() (abuserStats, error) {
	h.once.Do(func() { h.result, h.err = h.halt() })
	return h.result, h.err
}

// startAbusers starts the abusers and returns once every client has sent its first
// requests.
func (o *abuseOptions) startAbusers(ctx context.Context, cf *clientFlags) (*abuserHandle, error) {
	if o.inProcess {
		stop := make(chan struct{})
		ready := make(chan struct{})
		done := make(chan struct{})
		var stats abuserStats
		var err error
		go func() {
			defer close(done)
			stats, err = abuse(ctx, cf.bootstrap, o.abuserTopic(), o.connections, o.timeout, ready, stop)
		}()
		select {
		case <-ready:
		case <-done:
			return nil, err
		}
		return &abuserHandle{halt: func() (abuserStats, error) { close(stop); <-done; return stats, err }}, nil
	}
	child, err := benchChild(ctx, o.abuser, "bench", abuseClientsName, "--bootstrap", cf.bootstrap,
		"--topic", o.abuserTopic(), "--timeout", o.timeout.String(), "--connections", strconv.Itoa(o.connections))
	if err != nil {
		return nil, err
	}
	stdin, out, err := startPiped(child, o.logOutput)
	if err != nil {
		return nil, fmt.Errorf("abusers: %w", err)
	}
	halt := func() (abuserStats, error) {
		stdin.Close()
		var stats abuserStats
		rest, _ := io.ReadAll(out)
		werr := child.Wait()
		if err := json.Unmarshal(rest, &stats); err != nil {
			return stats, errors.Join(fmt.Errorf("abusers' report %q: %w", rest, err), werr)
		}
		return stats, werr
	}
	if line, err := out.ReadString('\n'); err != nil || strings.TrimSpace(line) != "ready" {
		_, herr := halt()
		return nil, errors.Join(fmt.Errorf("abusers did not start (printed %q)", line), err, herr)
	}
	return &abuserHandle{halt: halt}, nil
}

// abuseClientsName is the hidden subcommand that runs the abusers.
const abuseClientsName = "abuse-clients"

// newBenchAbuseClientsCommand returns `nagare bench abuse-clients`: run --connections
// abusive clients against --bootstrap, print "ready" once each has sent its first
// requests, and when stdin closes print what they did as JSON.
func newBenchAbuseClientsCommand(bf *benchFlags) *cobra.Command {
	connections := 32
	cmd := &cobra.Command{
		Use:    abuseClientsName,
		Short:  "Run the abusive clients of bench abuse",
		Hidden: true,
		Args:   exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			stop := make(chan struct{})
			ready := make(chan struct{})
			go func() {
				_, _ = io.Copy(io.Discard, cmd.InOrStdin())
				close(stop)
			}()
			go func() {
				select {
				case <-ready:
					fmt.Fprintln(cmd.OutOrStdout(), "ready")
				case <-stop:
				}
			}()
			stats, err := abuse(cmd.Context(), bf.client.bootstrap, bf.topic, connections, bf.client.timeout, ready, stop)
			if err != nil {
				return err
			}
			return writeJSON(cmd.OutOrStdout(), stats)
		},
	}
	cmd.Flags().IntVar(&connections, "connections", connections, "abusive clients")
	return cmd
}

// abuserStats is what the abusers did, as they saw it, and the broker's accounting of
// them during the probe's measurement (filled in by the bench).
type abuserStats struct {
	Requests          int64   `json:"requests"`
	Seconds           float64 `json:"seconds"`
	RequestsPerSec    float64 `json:"requests_per_sec"`
	ThrottledResps    int64   `json:"throttled_responses"`
	ThrottleSeconds   float64 `json:"throttle_seconds"` // sum of throttle_time_ms received
	MaxThrottleMs     float64 `json:"max_throttle_ms"`
	MeanThrottleMs    float64 `json:"mean_throttle_ms"` // over throttled responses
	ThrottledFraction float64 `json:"throttled_fraction"`
	// From the broker's quota accounting over the probe's measurement.
	BrokerTimePercent      float64 `json:"broker_time_percent"` // of one thread, as request_percentage
	BrokerThrottledSeconds float64 `json:"broker_throttled_seconds"`
	BrokerThrottleCount    int64   `json:"broker_throttle_count"`
}

// throttleHook sums the throttles that responses carried.
type throttleHook struct {
	count atomic.Int64
	sumNs atomic.Int64
	maxNs atomic.Int64
}

func (h *throttleHook) OnBrokerThrottle(_ kgo.BrokerMetadata, d time.Duration, _ bool) {
	h.count.Add(1)
	h.sumNs.Add(int64(d))
	for m := h.maxNs.Load(); int64(d) > m && !h.maxNs.CompareAndSwap(m, int64(d)); m = h.maxNs.Load() {
	}
}

// abuse runs n clients, each looping over ApiVersions, Metadata and a one-record
// Produce, until stop closes; ready closes once every client completed one loop.
func abuse(ctx context.Context, bootstrap, topic string, n int, timeout time.Duration, ready, stop chan struct{}) (abuserStats, error) {
	hook := new(throttleHook)
	cf := &clientFlags{bootstrap: bootstrap, clientID: abuserClientID, timeout: timeout}
	clients := make([]*kgo.Client, n)
	for i := range clients {
		cl, err := cf.newClient(kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0), kgo.RequiredAcks(kgo.LeaderAck()),
			kgo.DisableIdempotentWrite(), kgo.ProducerBatchCompression(kgo.NoCompression()),
			kgo.RecordDeliveryTimeout(timeout), kgo.WithHooks(hook))
		if err != nil {
			return abuserStats{}, err
		}
		defer cl.Close()
		clients[i] = cl
	}
	var requests atomic.Int64
	var firstErr atomic.Pointer[error]
	var started, wg sync.WaitGroup
	started.Add(n)
	begin := time.Now()
	for _, cl := range clients {
		wg.Go(func() {
			once := sync.OnceFunc(started.Done)
			defer once()
			value := []byte("x")
			for {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				reqCtx, cancel := context.WithTimeout(ctx, timeout)
				_, err := cl.Request(reqCtx, kmsg.NewPtrApiVersionsRequest())
				if err == nil {
					meta := kmsg.NewPtrMetadataRequest()
					mt := kmsg.NewMetadataRequestTopic()
					mt.Topic = kmsg.StringPtr(topic)
					meta.Topics = append(meta.Topics, mt)
					_, err = cl.Request(reqCtx, meta)
				}
				if err == nil {
					err = cl.ProduceSync(reqCtx, &kgo.Record{Value: value}).FirstErr()
				}
				cancel()
				if err != nil {
					if ctx.Err() == nil && !isStopped(stop) {
						firstErr.CompareAndSwap(nil, &err)
					}
					return
				}
				requests.Add(3)
				once()
			}
		})
	}
	go func() { started.Wait(); close(ready) }()
	wg.Wait()
	elapsed := time.Since(begin).Seconds()
	if p := firstErr.Load(); p != nil {
		return abuserStats{}, fmt.Errorf("abuser: %w", *p)
	}
	s := abuserStats{Requests: requests.Load(), Seconds: elapsed, ThrottledResps: hook.count.Load(),
		ThrottleSeconds: time.Duration(hook.sumNs.Load()).Seconds(), MaxThrottleMs: float64(hook.maxNs.Load()) / 1e6}
	s.RequestsPerSec = divide(float64(s.Requests), s.Seconds)
	s.MeanThrottleMs = divide(s.ThrottleSeconds*1000, float64(s.ThrottledResps))
	s.ThrottledFraction = divide(float64(s.ThrottledResps), float64(s.Requests))
	return s, nil
}

func isStopped(stop chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}
