package main

// `nagare bench coldread`: the seed's incident as a benchmark. A producer's latency is
// measured alone, then while consumers read a topic that is not in the page cache, with
// the read path's warm-up on and off. It runs its own broker in this process, because it
// must evict the broker's segment files and restart the broker to switch warm-up; the
// report is in bench_coldread_report.go.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nagare-dev/nagare/internal/broker"
	"github.com/nagare-dev/nagare/internal/readpath"
)

// coldReadOptions are coldread's own flags; --topic, --timeout and --output come from
// `bench`.
type coldReadOptions struct {
	dataDir    string
	keepData   bool
	fillBytes  int64
	fillRecord int
	consumers  int
	rounds     int
	partBytes  int32
	rate       float64
	probeSize  int
	alone      time.Duration
	modes      []string
	threads    int
	topic      string
	timeout    time.Duration
	inProcess  bool // consumers in this process rather than a child
	// probeInProcess runs the probe producer in this process, sharing the broker's Go
	// runtime (bench_probe.go), rather than in a child.
	probeInProcess bool
	// probePlace says where the probe's process runs.
	probePlace childPlacement
	// consumers says where the consumers' process runs.
	consumerPlace childPlacement
	logOutput     io.Writer
	brokerSets    []string // --broker-set: more broker configs, under the mode's own
}

func newBenchColdReadCommand(bf *benchFlags) *cobra.Command {
	o := coldReadOptions{
		fillBytes: 4 << 30, fillRecord: 16 << 10, consumers: 4, rounds: 1, partBytes: 1 << 20,
		rate: 2000, probeSize: 100, alone: 15 * time.Second, modes: []string{"on", "off"},
	}
	cmd := &cobra.Command{
		Use:   "coldread",
		Short: "Measure produce latency while consumers read a topic that is not in the page cache",
		Long: `Reproduce the seed's incident and measure the read path's fix. The command starts its
own broker in this process (on a loopback port, data in --data-dir) because it must
evict the broker's segment files and restart it to switch warm-up; --bootstrap is not
used. Then, once:

  fill    the topic (--topic, one partition per consumer) to --fill-bytes, unless it
          already holds that much (reuse a --data-dir to skip this next time)

and for each of --modes (on, off: nagare.readpath.warmup.enable):

  alone   a separate producer sends --probe-size-byte records at --rate records/s with
          acks=1 and no linger to its own topic for --alone; its latencies are the baseline
  disk    the topic's segment files are evicted (fsync, posix_fadvise DONTNEED; no root
          needed) and read back with pread, one stream per partition in parallel and one
          alone, for the disk's cold sequential read throughput in this run; evict again
  loaded  the producer runs again while --consumers consumers each read their
          partitions of the cold topic from the beginning to the end, --rounds times
          (evicting between rounds)

The report gives the producer's p50, p99 and p99.9 loaded over alone, the consumers' MiB/s
against the disk's, and the read path's histograms (sendfile, warm-up, queue wait,
residency check) in log2 microsecond buckets. Targets (issue 8), with warm-up on: p99
within 1.5x, p99.9 within 2x, consumers at 80% or more of the disk.`,
		Example: `  nagare bench coldread --data-dir /var/tmp/coldread --keep-data
  nagare bench coldread --fill-bytes 512MiB --alone 5s --modes on -o json`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("bootstrap") {
				return usagef(cmd, "coldread starts its own broker; --bootstrap is not used")
			}
			if err := o.validate(cmd); err != nil {
				return err
			}
			o.topic, o.timeout, o.logOutput = bf.topic, bf.client.timeout, &lockedWriter{w: cmd.ErrOrStderr()}
			report, err := runColdRead(cmd.Context(), &o)
			if err != nil {
				return err
			}
			return bf.print(cmd.OutOrStdout(), report)
		},
	}
	fs := cmd.Flags()
	fs.StringArrayVar(&o.brokerSets, "broker-set", nil, "more config key=value for the bench's broker (repeatable); the mode's warm-up setting wins")
	fs.StringVar(&o.dataDir, "data-dir", "", "broker data dir; kept when given (default: a temporary dir, removed)")
	fs.BoolVar(&o.keepData, "keep-data", false, "keep the temporary data dir and print its path")
	fs.Var(byteSizeFlag{&o.fillBytes}, "fill-bytes", "bytes the cold topic holds (e.g. 4GiB)")
	fs.IntVar(&o.fillRecord, "fill-record-size", o.fillRecord, "value bytes of the records that fill the cold topic")
	fs.IntVar(&o.consumers, "consumers", o.consumers, "consumers reading the cold topic (the topic gets one partition each)")
	fs.IntVar(&o.rounds, "rounds", o.rounds, "passes over the cold topic per mode, evicting between passes")
	fs.Int32Var(&o.partBytes, "fetch-partition-bytes", o.partBytes, "consumers' max bytes per partition per fetch")
	fs.Float64Var(&o.rate, "rate", o.rate, "probe producer records per second")
	fs.IntVar(&o.probeSize, "probe-size", o.probeSize, "probe producer record value bytes")
	fs.DurationVar(&o.alone, "alone", o.alone, "how long the probe producer runs alone, per mode")
	fs.StringSliceVar(&o.modes, "modes", o.modes, "warm-up settings to run, in order: on, off")
	fs.IntVar(&o.threads, "warmup-threads", 0, "nagare.readpath.warmup.threads (0: the broker's default)")
	fs.StringVar(&o.consumerPlace.cpus, "consumer-cpus", "",
		"pin the consumers' process to these CPUs (taskset list, e.g. 1); with the bench pinned elsewhere "+
			"(taskset -c 0 nagare bench coldread ...) their decoding stops competing with the broker and the probe")
	fs.IntVar(&o.consumerPlace.nice, "consumer-nice", 0,
		"niceness of the consumers' process (0-19): at 19 their decoding runs on the CPU time the broker and the "+
			"probe leave over, as consumers on other machines would")
	fs.IntVar(&o.probePlace.nice, "probe-nice", 0, probeNiceUsage)
	fs.BoolVar(&o.probeInProcess, "probe-in-process", false,
		"run the probe producer in this process, sharing the broker's Go runtime, not in a child")
	fs.BoolVar(&o.inProcess, "consumers-in-process", false,
		"run the consumers in this process, not a child (for tests: their CPU then competes with the probe's)")
	return cmd
}

// coldReadConsumersName is the hidden subcommand that runs the consumers of one round.
const coldReadConsumersName = "coldread-consumers"

// newBenchColdReadConsumersCommand returns `nagare bench coldread-consumers`: read
// --topic from its start to its current end with --consumers clients and print what was
// read as JSON. coldread runs it as a child process so that the consumers' decoding has
// its own Go runtime and does not queue the probe producer's goroutines behind it, as it
// would not in a real deployment where consumers are other machines.
func newBenchColdReadConsumersCommand(bf *benchFlags) *cobra.Command {
	o := coldReadOptions{consumers: 4, partBytes: 1 << 20}
	cmd := &cobra.Command{
		Use:    coldReadConsumersName,
		Short:  "Run the consumers of one bench coldread round",
		Hidden: true,
		Args:   exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.topic, o.timeout = bf.topic, bf.client.timeout
			c, err := o.consume(cmd.Context(), bf.client)
			if err != nil {
				return err
			}
			return writeJSON(cmd.OutOrStdout(), c)
		},
	}
	cmd.Flags().IntVar(&o.consumers, "consumers", o.consumers, "consumers")
	cmd.Flags().Int32Var(&o.partBytes, "fetch-partition-bytes", o.partBytes, "max bytes per partition per fetch")
	return cmd
}

// consumeRound runs one round's consumers, in a child process unless o.inProcess.
func (o *coldReadOptions) consumeRound(ctx context.Context, cf *clientFlags) (coldReadConsumed, error) {
	if o.inProcess {
		return o.consume(ctx, cf)
	}
	child, err := benchChild(ctx, o.consumerPlace, "bench", coldReadConsumersName, "--bootstrap", cf.bootstrap,
		"--topic", o.topic, "--timeout", o.timeout.String(), "--consumers", strconv.Itoa(o.consumers),
		"--fetch-partition-bytes", strconv.Itoa(int(o.partBytes)))
	if err != nil {
		return coldReadConsumed{}, err
	}
	child.Stderr = o.logOutput
	out, err := child.Output()
	if err != nil {
		return coldReadConsumed{}, fmt.Errorf("consumers (bench %s): %w", coldReadConsumersName, err)
	}
	var c coldReadConsumed
	if err := json.Unmarshal(out, &c); err != nil {
		return coldReadConsumed{}, fmt.Errorf("consumers' report %q: %w", out, err)
	}
	return c, nil
}

func (o *coldReadOptions) validate(cmd *cobra.Command) error {
	switch {
	case o.fillBytes <= 0 || o.fillRecord <= 0:
		return usagef(cmd, "--fill-bytes and --fill-record-size must be positive")
	case o.consumers <= 0 || o.rounds <= 0:
		return usagef(cmd, "--consumers and --rounds must be positive")
	case o.rate <= 0 || o.probeSize < 0 || o.alone <= 0:
		return usagef(cmd, "--rate and --alone must be positive")
	case o.partBytes <= 0:
		return usagef(cmd, "--fetch-partition-bytes must be positive")
	}
	for _, m := range o.modes {
		if m != "on" && m != "off" {
			return usagef(cmd, "--modes takes on and off, got %q", m)
		}
	}
	if len(o.modes) == 0 {
		return usagef(cmd, "--modes must name at least one of on, off")
	}
	return nil
}

// runColdRead fills the topic once, then measures each mode on a fresh broker.
func runColdRead(ctx context.Context, o *coldReadOptions) (*coldReadReport, error) {
	dir, cleanup, err := o.prepareDataDir()
	if err != nil {
		return nil, err
	}
	defer cleanup()
	report := &coldReadReport{Settings: o.settings(dir)}
	for i, mode := range o.modes {
		run, err := o.runMode(ctx, dir, mode == "on", i == 0)
		if err != nil {
			return nil, fmt.Errorf("bench coldread, warm-up %s: %w", mode, err)
		}
		report.Runs = append(report.Runs, *run)
	}
	return report, nil
}

func (o *coldReadOptions) prepareDataDir() (string, func(), error) {
	if o.dataDir != "" {
		return o.dataDir, func() {}, os.MkdirAll(o.dataDir, 0o755)
	}
	dir, err := os.MkdirTemp("", "nagare-coldread-")
	if err != nil {
		return "", nil, err
	}
	if o.keepData {
		fmt.Fprintf(o.logOutput, "bench coldread: data in %s (kept)\n", dir)
		return dir, func() {}, nil
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

// runMode starts a broker with warm-up on or off and measures one mode.
func (o *coldReadOptions) runMode(ctx context.Context, dir string, warmup, fill bool) (*coldReadRun, error) {
	props := map[string]string{}
	if err := applySets(props, o.brokerSets, "--broker-set"); err != nil {
		return nil, err
	}
	props["nagare.readpath.warmup.enable"] = strconv.FormatBool(warmup)
	if o.threads > 0 {
		props["nagare.readpath.warmup.threads"] = strconv.Itoa(o.threads)
	}
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
	cf := &clientFlags{bootstrap: b.Addr(), clientID: "nagare-bench-coldread", timeout: o.timeout}
	o.logf("warm-up %s: broker at %s, read path %s", onOff(warmup), b.Addr(), b.ReadPath())
	if _, err := ensureTopic(ctx, cf, o.topic, int32(o.consumers), -1, o.logOutput); err != nil {
		return nil, err
	}
	if fill {
		if err := o.fill(ctx, cf, dir); err != nil {
			return nil, err
		}
	}
	probe, err := startProbe(ctx, cf, o, o.probeInProcess, o.probePlace)
	if err != nil {
		return nil, err
	}
	defer probe.close()

	run := &coldReadRun{Warmup: warmup, ReadPath: b.ReadPath().String(), GOMAXPROCS: runtime.GOMAXPROCS(0)}
	o.logf("warm-up %s: producer alone for %s at %g records/s", onOff(warmup), o.alone, o.rate)
	alone := probe.runFor(ctx, o.alone)
	if err := probe.err(); err != nil {
		return nil, err
	}
	run.Alone, run.AloneRecords = summarizeLatency(alone), alone.count()

	segments, err := o.segmentFiles(dir)
	if err != nil {
		return nil, err
	}
	if run.Disk, err = measureDisk(segments); err != nil {
		return nil, err
	}
	o.logf("warm-up %s: disk cold read %.0f MiB/s (%d streams), %.0f MiB/s (1 stream)", onOff(warmup),
		run.Disk.ParallelMiBPerSec, run.Disk.Streams, run.Disk.SingleMiBPerSec)

	before := snapshotReadPath(b.ReadPath())
	threads := startThreadSampler()
	loaded, consumed, err := o.loaded(ctx, cf, probe, segments)
	run.PeakThreads = threads.stop()
	if err != nil {
		return nil, err
	}
	run.Loaded, run.LoadedRecords = summarizeLatency(loaded), loaded.count()
	run.Consumed = consumed
	run.Histograms = snapshotReadPath(b.ReadPath()).since(before)
	run.Stats = b.ReadPath().Stats()
	run.finish()
	return run, nil
}

// loaded runs the probe producer while the consumers read the evicted topic, rounds
// times, and returns the producer's latencies and what the consumers read.
func (o *coldReadOptions) loaded(ctx context.Context, cf *clientFlags, probe probeRunner, segments [][]string) (*latencyHistogram, coldReadConsumed, error) {
	var consumed coldReadConsumed
	stop := make(chan struct{})
	hist := make(chan *latencyHistogram, 1)
	go func() { hist <- probe.run(ctx, stop) }()
	var err error
	for round := range o.rounds {
		// Evicting gigabytes takes the kernel a while; that is the benchmark's doing, not
		// the broker's, so the probe's records sent meanwhile are not measured.
		probe.setPaused(true)
		err = evictAll(segments)
		probe.setPaused(false)
		if err != nil {
			break
		}
		o.logf("round %d: %d consumers reading the cold topic from the start", round+1, o.consumers)
		var c coldReadConsumed
		if c, err = o.consumeRound(ctx, cf); err != nil {
			break
		}
		consumed.Bytes += c.Bytes
		consumed.Records += c.Records
		consumed.Seconds += c.Seconds
	}
	close(stop)
	h := <-hist
	if err == nil {
		err = probe.err()
	}
	if consumed.Seconds > 0 {
		consumed.MiBPerSec = float64(consumed.Bytes) / (1 << 20) / consumed.Seconds
	}
	return h, consumed, err
}

// consume reads the topic from its start to its current end with o.consumers clients,
// each taking every o.consumers-th partition, and returns the bytes of keys and values
// read and the time from the first fetch until the last consumer finished.
func (o *coldReadOptions) consume(ctx context.Context, cf *clientFlags) (coldReadConsumed, error) {
	w := consumeWorkload{topic: o.topic}
	starts, _, err := w.startOffsets(ctx, cf)
	if err != nil {
		return coldReadConsumed{}, err
	}
	ends, err := endOffsets(ctx, cf, o.topic)
	if err != nil {
		return coldReadConsumed{}, err
	}
	var bytes, records atomic.Int64
	errs := make(chan error, o.consumers)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range o.consumers {
		assigned := map[int32]kgo.Offset{}
		want := map[int32]int64{}
		for p, off := range starts {
			if int(p)%o.consumers == i && ends[p] > 0 {
				assigned[p], want[p] = off, ends[p]
			}
		}
		if len(assigned) == 0 {
			continue
		}
		wg.Go(func() {
			errs <- o.consumeOne(ctx, cf, i, assigned, want, &bytes, &records)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return coldReadConsumed{}, err
		}
	}
	c := coldReadConsumed{Bytes: bytes.Load(), Records: records.Load(), Seconds: time.Since(start).Seconds()}
	c.MiBPerSec = float64(c.Bytes) / (1 << 20) / max(c.Seconds, 1e-9)
	return c, nil
}

func (o *coldReadOptions) consumeOne(ctx context.Context, cf *clientFlags, i int, assigned map[int32]kgo.Offset, ends map[int32]int64, bytes, records *atomic.Int64) error {
	ccf := *cf
	ccf.clientID = fmt.Sprintf("nagare-bench-coldread-consumer-%d", i)
	cl, err := ccf.newClient(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{o.topic: assigned}),
		kgo.FetchMaxPartitionBytes(o.partBytes), kgo.FetchMaxBytes(max(o.partBytes*int32(len(assigned)), 50<<20)))
	if err != nil {
		return err
	}
	defer cl.Close()
	left := len(ends)
	for left > 0 {
		pollCtx, cancel := context.WithTimeout(ctx, o.timeout)
		fetches := cl.PollFetches(pollCtx)
		idle := pollCtx.Err() != nil
		cancel()
		if err := ctx.Err(); err != nil {
			return err
		}
		if idle {
			return fmt.Errorf("consumer %d: no records for %s", i, o.timeout)
		}
		var fetchErr error
		fetches.EachError(func(t string, p int32, err error) { fetchErr = cmpFirst(fetchErr, fetchError(t, p, err)) })
		if fetchErr != nil {
			return fetchErr
		}
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			var n, r int64
			for _, rec := range p.Records {
				if rec.Offset >= ends[p.Partition] {
					break
				}
				n += int64(len(rec.Key) + len(rec.Value))
				r++
				if rec.Offset == ends[p.Partition]-1 {
					left--
				}
			}
			bytes.Add(n)
			records.Add(r)
		})
	}
	return nil
}

// endOffsets returns each partition's high watermark.
func endOffsets(ctx context.Context, cf *clientFlags, topic string) (map[int32]int64, error) {
	adm, err := cf.newAdmin()
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	ctx, cancel := cf.withTimeout(ctx)
	defer cancel()
	listed, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("list high watermarks: %w", err)
	}
	ends := map[int32]int64{}
	for p, lo := range listed[topic] {
		if lo.Err != nil {
			return nil, topicError("list offsets of", topic, lo.Err, "")
		}
		ends[p] = lo.Offset
	}
	return ends, nil
}

// fill produces random records to the topic until its segment files hold o.fillBytes.
func (o *coldReadOptions) fill(ctx context.Context, cf *clientFlags, dir string) error {
	segments, err := o.segmentFiles(dir)
	if err != nil {
		return err
	}
	have := totalSize(segments)
	if have >= o.fillBytes {
		o.logf("topic %q already holds %s", o.topic, formatBytes(have))
		return nil
	}
	missing := (o.fillBytes - have + int64(o.fillRecord) - 1) / int64(o.fillRecord)
	o.logf("filling topic %q with %d records of %d bytes (%s)", o.topic, missing, o.fillRecord, formatBytes(missing*int64(o.fillRecord)))
	partitions, err := ensureTopic(ctx, cf, o.topic, int32(o.consumers), -1, io.Discard)
	if err != nil {
		return err
	}
	fcf := *cf
	fcf.clientID = "nagare-bench-coldread-fill"
	cl, err := fcf.newClient(kgo.DefaultProduceTopic(o.topic), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchMaxBytes(1<<20), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite(),
		kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RecordDeliveryTimeout(o.timeout))
	if err != nil {
		return err
	}
	defer cl.Close()
	payload := make([]byte, o.fillRecord) // random, so compression could not shrink it either
	rand.NewChaCha8([32]byte{'c', 'o', 'l', 'd'}).Read(payload)
	var firstErr atomic.Pointer[error]
	start := time.Now()
	for i := int64(0); i < missing && firstErr.Load() == nil; i++ {
		// Round robin, so every partition (and consumer) gets the same share.
		r := &kgo.Record{Partition: int32(i % int64(partitions)), Value: payload}
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				firstErr.CompareAndSwap(nil, &err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return fmt.Errorf("fill: %w", err)
	}
	if p := firstErr.Load(); p != nil {
		return fmt.Errorf("fill: %w", *p)
	}
	o.logf("filled at %.0f MiB/s", float64(missing*int64(o.fillRecord))/(1<<20)/time.Since(start).Seconds())
	// fsync everything now and let the disk settle, so that writeback of the fill does
	// not slow the first mode's measurements.
	if segments, err = o.segmentFiles(dir); err == nil {
		err = evictAll(segments)
	}
	time.Sleep(fillSettle)
	return err
}

// fillSettle is the pause after filling, for the (virtual) disk to finish writing.
const fillSettle = 3 * time.Second

// segmentFiles lists the topic's segment files, per partition in partition order.
func (o *coldReadOptions) segmentFiles(dir string) ([][]string, error) {
	var out [][]string
	for p := 0; ; p++ {
		files, err := filepath.Glob(filepath.Join(dir, fmt.Sprintf("%s-%d", o.topic, p), "*.log"))
		if err != nil {
			return nil, err
		}
		if _, statErr := os.Stat(filepath.Join(dir, fmt.Sprintf("%s-%d", o.topic, p))); statErr != nil {
			if len(out) == 0 {
				return nil, fmt.Errorf("no partition directories of %q in %s", o.topic, dir)
			}
			return out, nil
		}
		slices.Sort(files)
		out = append(out, files)
	}
}

func totalSize(segments [][]string) int64 {
	var n int64
	for _, files := range segments {
		for _, f := range files {
			if fi, err := os.Stat(f); err == nil {
				n += fi.Size()
			}
		}
	}
	return n
}

// evictAll drops every segment file from the page cache.
func evictAll(segments [][]string) error {
	for _, files := range segments {
		for _, path := range files {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			err = readpath.Evict(f)
			f.Close()
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func (o *coldReadOptions) logf(format string, args ...any) {
	fmt.Fprintf(o.logOutput, "bench coldread: "+format+"\n", args...)
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// byteSizeFlag parses sizes such as 4GiB, 512MiB, 100MB or a plain number of bytes.
type byteSizeFlag struct{ v *int64 }

func (f byteSizeFlag) String() string {
	if f.v == nil {
		return ""
	}
	return formatBytes(*f.v)
}

func (f byteSizeFlag) Type() string { return "size" }

func (f byteSizeFlag) Set(s string) error {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range units {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n < 0 {
		return errors.New("want a size such as 4GiB, 512MiB or 1000000")
	}
	*f.v = int64(n * float64(mult))
	return nil
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d B", n)
}
