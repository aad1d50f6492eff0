package main

// The measuring pieces of `bench coldread` (the probe producer, the disk's cold read
// throughput, the thread sampler, read path histograms) and its report.

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nagare-dev/nagare/internal/readpath"
)

// coldReadReport is the result of `bench coldread`; the JSON names are for scripts.
type coldReadReport struct {
	Settings coldReadSettings `json:"settings"`
	Runs     []coldReadRun    `json:"runs"` // one per --modes entry, in order
}

type coldReadSettings struct {
	DataDir             string  `json:"data_dir"`
	Topic               string  `json:"topic"`
	FillBytes           int64   `json:"fill_bytes"`
	FillRecordSize      int     `json:"fill_record_size"`
	Consumers           int     `json:"consumers"`
	Rounds              int     `json:"rounds"`
	FetchPartitionBytes int32   `json:"fetch_partition_bytes"`
	ProbeRate           float64 `json:"probe_rate"`
	ProbeSize           int     `json:"probe_size"`
	Alone               string  `json:"alone"`
	GOMAXPROCS          int     `json:"gomaxprocs"`
	ProbeInProcess      bool    `json:"probe_in_process"`
	ConsumerNice        int     `json:"consumer_nice"`
	ProbeNice           int     `json:"probe_nice"`
}

func (o *coldReadOptions) settings(dir string) coldReadSettings {
	return coldReadSettings{
		DataDir: dir, Topic: o.topic, FillBytes: o.fillBytes, FillRecordSize: o.fillRecord,
		Consumers: o.consumers, Rounds: o.rounds, FetchPartitionBytes: o.partBytes,
		ProbeRate: o.rate, ProbeSize: o.probeSize, Alone: o.alone.String(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		ProbeInProcess: o.probeInProcess, ConsumerNice: o.consumerPlace.nice, ProbeNice: o.probePlace.nice,
	}
}

// coldReadRun is one mode: warm-up on or off.
type coldReadRun struct {
	Warmup        bool               `json:"warmup"`
	ReadPath      string             `json:"read_path"`  // the pool's setup
	GOMAXPROCS    int                `json:"gomaxprocs"` // as the broker left it (it adds the warm-up pool's size)
	Alone         *latencySummary    `json:"alone_ms"`
	AloneRecords  uint64             `json:"alone_records"`
	Loaded        *latencySummary    `json:"loaded_ms"`
	LoadedRecords uint64             `json:"loaded_records"`
	Ratio         latencyRatio       `json:"ratio"` // loaded over alone
	Consumed      coldReadConsumed   `json:"consumed"`
	Disk          diskThroughput     `json:"disk"`
	VsDisk        float64            `json:"consumers_vs_disk"` // consumers' MiB/s over the better disk figure
	PeakThreads   int                `json:"peak_os_threads"`   // during the loaded phase
	Stats         readpath.Stats     `json:"read_path_stats"`
	Histograms    coldReadHistograms `json:"histograms"` // during the loaded phase
	Targets       coldReadTargets    `json:"targets"`
}

type latencyRatio struct {
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
}

type coldReadConsumed struct {
	Bytes     int64   `json:"bytes"` // keys and values
	Records   int64   `json:"records"`
	Seconds   float64 `json:"seconds"`
	MiBPerSec float64 `json:"mib_per_sec"`
}

// coldReadTargets are issue 8's targets; they apply to the warm-up-on run.
type coldReadTargets struct {
	P99        bool `json:"p99_within_1_5x"`
	P999       bool `json:"p99_9_within_2x"`
	Throughput bool `json:"consumers_at_80pct_of_disk"`
}

func (r *coldReadRun) finish() {
	if r.Alone != nil && r.Loaded != nil {
		r.Ratio = latencyRatio{
			P50:  divide(r.Loaded.P50, r.Alone.P50),
			P99:  divide(r.Loaded.P99, r.Alone.P99),
			P999: divide(r.Loaded.P999, r.Alone.P999),
		}
	}
	r.VsDisk = divide(r.Consumed.MiBPerSec, max(r.Disk.ParallelMiBPerSec, r.Disk.SingleMiBPerSec))
	r.Targets = coldReadTargets{P99: r.Ratio.P99 <= 1.5, P999: r.Ratio.P999 <= 2, Throughput: r.VsDisk >= 0.8}
}

// probe is the separate producer whose latency the benchmark watches: fixed rate, small
// records, acks=1, no linger, its own topic.
type probe struct {
	cl       *kgo.Client
	payload  []byte
	rate     float64
	paused   atomic.Bool // records sent meanwhile are not measured (the bench evicting)
	errMu    sync.Mutex
	firstErr error // guarded by errMu
}

func newProbe(ctx context.Context, cf *clientFlags, o *coldReadOptions) (*probe, error) {
	topic := o.topic + "-probe"
	if _, err := ensureTopic(ctx, cf, topic, 1, -1, io.Discard); err != nil {
		return nil, err
	}
	pcf := *cf
	pcf.clientID = "nagare-bench-coldread-probe"
	cl, err := pcf.newClient(kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0), kgo.RequiredAcks(kgo.LeaderAck()),
		kgo.DisableIdempotentWrite(), kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RecordDeliveryTimeout(o.timeout))
	if err != nil {
		return nil, err
	}
	p := &probe{cl: cl, payload: make([]byte, o.probeSize), rate: o.rate}
	warmCtx, cancel := cf.withTimeout(ctx)
	defer cancel()
	if err := cl.ProduceSync(warmCtx, &kgo.Record{Value: p.payload}).FirstErr(); err != nil {
		cl.Close()
		return nil, topicError("produce to", topic, err, "")
	}
	return p, nil
}

func (p *probe) close() { p.cl.Close() }

func (p *probe) setPaused(paused bool) { p.paused.Store(paused) }

func (p *probe) err() error {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	return p.firstErr
}

func (p *probe) runFor(ctx context.Context, d time.Duration) *latencyHistogram {
	stop := make(chan struct{})
	t := time.AfterFunc(d, func() { close(stop) })
	defer t.Stop()
	return p.run(ctx, stop)
}

// run produces at p.rate until stop closes and returns each record's latency, from its
// Produce call to its acknowledgement.
func (p *probe) run(ctx context.Context, stop <-chan struct{}) *latencyHistogram {
	h := new(latencyHistogram)
	var wg sync.WaitGroup
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for sent := 0; ; sent++ {
		due := start.Add(time.Duration(float64(sent) / p.rate * float64(time.Second)))
		timer.Reset(max(time.Until(due), 0))
		select {
		case <-stop:
			wg.Wait()
			return h
		case <-ctx.Done():
			wg.Wait()
			return h
		case <-timer.C:
		}
		begin, measured := time.Now(), !p.paused.Load()
		wg.Add(1)
		p.cl.Produce(ctx, &kgo.Record{Value: p.payload}, func(_ *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				p.errMu.Lock()
				if p.firstErr == nil {
					p.firstErr = fmt.Errorf("probe producer: %w", err)
				}
				p.errMu.Unlock()
				return
			}
			if measured {
				h.record(time.Since(begin))
			}
		})
	}
}

// diskThroughput is the disk's cold sequential read throughput, measured with pread of
// evicted segment files: one stream per partition at once, and one stream alone.
type diskThroughput struct {
	Streams           int     `json:"streams"`
	ParallelBytes     int64   `json:"parallel_bytes"`
	ParallelMiBPerSec float64 `json:"parallel_mib_per_sec"`
	SingleBytes       int64   `json:"single_bytes"`
	SingleMiBPerSec   float64 `json:"single_mib_per_sec"`
}

// measureDisk reads every partition's segments in parallel, then the first partition's
// alone, each after evicting them, and leaves them evicted.
func measureDisk(segments [][]string) (diskThroughput, error) {
	var d diskThroughput
	if err := evictAll(segments); err != nil {
		return d, err
	}
	d.Streams = len(segments)
	var total atomic.Int64
	errs := make(chan error, len(segments))
	start := time.Now()
	var wg sync.WaitGroup
	for _, files := range segments {
		wg.Go(func() {
			n, err := readFiles(files)
			total.Add(n)
			errs <- err
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		if err != nil {
			return d, err
		}
	}
	d.ParallelBytes, d.ParallelMiBPerSec = total.Load(), float64(total.Load())/(1<<20)/elapsed.Seconds()
	if err := evictAll(segments); err != nil {
		return d, err
	}
	start = time.Now()
	n, err := readFiles(segments[0])
	if err != nil {
		return d, err
	}
	d.SingleBytes, d.SingleMiBPerSec = n, float64(n)/(1<<20)/time.Since(start).Seconds()
	return d, evictAll(segments)
}

// readFiles reads files in order with 1 MiB preads and returns the bytes read.
func readFiles(files []string) (int64, error) {
	buf := make([]byte, 1<<20)
	var total int64
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			return total, err
		}
		for off := int64(0); ; {
			n, err := f.ReadAt(buf, off)
			off += int64(n)
			total += int64(n)
			if err != nil {
				break // io.EOF at the end; anything else shows as a short count
			}
		}
		f.Close()
	}
	return total, nil
}

// threadSampler records the most OS threads the process had while it ran.
type threadSampler struct {
	done chan struct{}
	peak chan int
}

func startThreadSampler() *threadSampler {
	s := &threadSampler{done: make(chan struct{}), peak: make(chan int, 1)}
	go func() {
		most := osThreadCount()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-s.done:
				s.peak <- max(most, osThreadCount())
				return
			case <-tick.C:
				most = max(most, osThreadCount())
			}
		}
	}()
	return s
}

func (s *threadSampler) stop() int {
	close(s.done)
	return <-s.peak
}

// osThreadCount is the process's OS threads from /proc, or 0 where there is none.
func osThreadCount() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

// readPathSnapshot is the read path's histograms at one moment.
type readPathSnapshot struct {
	sendfile, warmup, queueWait, residency [readpath.HistogramBuckets]uint64
}

func snapshotReadPath(p *readpath.Pool) readPathSnapshot {
	var s readPathSnapshot
	if h := p.SendFileLatency(); h != nil {
		s.sendfile = h.Snapshot()
	}
	s.warmup, s.queueWait, s.residency = p.WarmUpLatency().Snapshot(), p.QueueWait().Snapshot(), p.ResidencyLatency().Snapshot()
	return s
}

// coldReadHistograms are counts per log2 bucket: index i holds durations in
// [2^(i-1), 2^i) µs, index 0 those under 1 µs; trailing empty buckets are cut.
type coldReadHistograms struct {
	SendFile  []uint64 `json:"sendfile"`
	WarmUp    []uint64 `json:"warmup"`
	QueueWait []uint64 `json:"queue_wait"`
	Residency []uint64 `json:"residency_check"`
}

func (s readPathSnapshot) since(before readPathSnapshot) coldReadHistograms {
	diff := func(a, b [readpath.HistogramBuckets]uint64) []uint64 {
		out := make([]uint64, len(a))
		last := -1
		for i := range a {
			out[i] = a[i] - b[i]
			if out[i] > 0 {
				last = i
			}
		}
		return out[:last+1]
	}
	return coldReadHistograms{
		SendFile: diff(s.sendfile, before.sendfile), WarmUp: diff(s.warmup, before.warmup),
		QueueWait: diff(s.queueWait, before.queueWait), Residency: diff(s.residency, before.residency),
	}
}

// printTable writes the report for people.
func (r *coldReadReport) printTable(out io.Writer) error {
	s := r.Settings
	fmt.Fprintf(out, "bench coldread: %s in %q over %d partition(s), %d consumer(s), %d round(s); probe %g records/s of %d bytes, acks=1; GOMAXPROCS %d\n\n",
		formatBytes(s.FillBytes), s.Topic, s.Consumers, s.Consumers, s.Rounds, s.ProbeRate, s.ProbeSize, s.GOMAXPROCS)
	tw := newTable(out)
	fmt.Fprintln(tw, "WARM-UP\tALONE p50/p99/p99.9 ms\tLOADED p50/p99/p99.9 ms\tRATIO p50/p99/p99.9\tCONSUMERS MiB/s\tDISK MiB/s (par/1)\tVS DISK\tPEAK THREADS")
	for _, run := range r.Runs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.2fx/%.2fx/%.2fx\t%.0f\t%.0f/%.0f\t%.0f%%\t%d\n", onOff(run.Warmup),
			latencyTriple(run.Alone), latencyTriple(run.Loaded), run.Ratio.P50, run.Ratio.P99, run.Ratio.P999,
			run.Consumed.MiBPerSec, run.Disk.ParallelMiBPerSec, run.Disk.SingleMiBPerSec, 100*run.VsDisk, run.PeakThreads)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, run := range r.Runs {
		if run.Warmup {
			fmt.Fprintf(out, "\ntargets with warm-up on: p99 within 1.5x %s (%.2fx), p99.9 within 2x %s (%.2fx), consumers at 80%% of disk %s (%.0f%%)\n",
				metOrMissed(run.Targets.P99), run.Ratio.P99, metOrMissed(run.Targets.P999), run.Ratio.P999,
				metOrMissed(run.Targets.Throughput), 100*run.VsDisk)
		}
	}
	return r.printHistograms(out)
}

func (r *coldReadReport) printHistograms(out io.Writer) error {
	type column struct {
		name   string
		counts []uint64
	}
	var cols []column
	rows := 0
	for _, run := range r.Runs {
		m := onOff(run.Warmup)
		cols = append(cols, column{"sendfile " + m, run.Histograms.SendFile})
		if run.Warmup {
			cols = append(cols, column{"warm-up " + m, run.Histograms.WarmUp},
				column{"queue wait " + m, run.Histograms.QueueWait}, column{"residency " + m, run.Histograms.Residency})
		}
	}
	for _, c := range cols {
		rows = max(rows, len(c.counts))
	}
	if rows == 0 {
		return nil
	}
	fmt.Fprintln(out, "\ncalls per duration during the loaded phase (log2 buckets, µs)")
	tw := newTable(out)
	header := "µs"
	for _, c := range cols {
		header += "\t" + strings.ToUpper(c.name)
	}
	fmt.Fprintln(tw, header)
	for i := range rows {
		label := "<1"
		if i > 0 {
			label = fmt.Sprintf("%d-%d", uint64(1)<<(i-1), uint64(1)<<i)
		}
		line := label
		for _, c := range cols {
			n := uint64(0)
			if i < len(c.counts) {
				n = c.counts[i]
			}
			line += "\t" + strconv.FormatUint(n, 10)
		}
		fmt.Fprintln(tw, line)
	}
	return tw.Flush()
}

func latencyTriple(l *latencySummary) string {
	if l == nil {
		return "-"
	}
	return formatMs(l.P50) + "/" + formatMs(l.P99) + "/" + formatMs(l.P999)
}

func metOrMissed(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}
