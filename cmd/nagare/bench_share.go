package main

// `nagare bench share`: records per second through a share group (KIP-932) of 1, 4
// and 16 franz-go share consumers on one partition, and the acknowledgement round
// trip, with a classic consumer group reading the same records as the reference in the
// same run. The records are produced first (batches of --batch records, untimed);
// each phase then reads all of them with a new group. A share group starts at
// share.auto.offset.reset (latest by default), so each share group is made by one
// ShareGroupHeartbeat join and leave and moved to the first record with
// AlterShareGroupOffsets before its consumers start.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// shareWorkload is `bench share`.
type shareWorkload struct {
	topic      string
	records    int64
	recordSize int
	batch      int
	consumers  []int
	report     *shareSettings
}

// shareSettings describe the workload and, filled in by the runs, each phase.
type shareSettings struct {
	Topic      string       `json:"topic"`
	Records    int64        `json:"records"`
	RecordSize int          `json:"record_size"`
	Batch      int          `json:"records_per_batch"`
	Consumers  []int        `json:"consumers"`
	Phases     []sharePhase `json:"phases"`
}

// sharePhase is one group reading every record: "classic", or a share group.
type sharePhase struct {
	Repeat        int             `json:"repeat"`
	Group         string          `json:"group"` // "classic" or "share"
	Consumers     int             `json:"consumers"`
	Records       int64           `json:"records"`
	Seconds       float64         `json:"seconds"`
	RecordsPerSec float64         `json:"records_per_sec"`
	AckMs         *latencySummary `json:"ack_round_trip_ms,omitempty"` // FlushAcks after each poll
}

func newBenchShareCommand(bf *benchFlags) *cobra.Command {
	w := shareWorkload{batch: 100, consumers: []int{1, 4, 16}}
	cmd := &cobra.Command{
		Use:   "share",
		Short: "Measure records/s through share groups of 1, 4 and 16 consumers and the ack round trip",
		Long: `Produce --records records of --record-size bytes to a one-partition topic, in
batches of --batch, then read them all once per phase: a classic consumer group
(one consumer, the reference), then a share group of each --consumers count.
Share consumers accept every record and flush the acknowledgements after each poll
(ShareAcknowledge, as a Java consumer's commitSync); the report gives each phase's
records/s and the acknowledgement round trip's p50 and p99. The headline records/s
is the last share phase's.`,
		Example: `  nagare bench share --records 50000 --record-size 100
  nagare bench share --consumers 1,4,16 --output json`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bf.validate(cmd); err != nil {
				return err
			}
			switch {
			case bf.compareKfake:
				return usagef(cmd, "--compare-kfake: kfake has no share groups")
			case bf.records <= 0 || w.batch <= 0:
				return usagef(cmd, "--records and --batch must be positive")
			case len(w.consumers) == 0 || strings.Contains(fmt.Sprint(w.consumers), "-") || containsZero(w.consumers):
				return usagef(cmd, "--consumers must be positive counts")
			}
			w.topic, w.records, w.recordSize = bf.topic, bf.records, bf.recordSize
			return bf.client.explain(runBench(cmd.Context(), bf, cmd.OutOrStdout(), cmd.ErrOrStderr(), &w))
		},
	}
	cmd.Flags().IntVar(&w.batch, "batch", w.batch, "records per produced batch (a share fetch acquires whole batches)")
	cmd.Flags().IntSliceVar(&w.consumers, "consumers", w.consumers, "share consumers of each share phase")
	return cmd
}

func containsZero(s []int) bool {
	for _, n := range s {
		if n <= 0 {
			return true
		}
	}
	return false
}

func (w *shareWorkload) name() string { return "share" }

func (w *shareWorkload) matchFirstRun(benchRun) {}

func (w *shareWorkload) settings() any {
	if w.report == nil {
		w.report = &shareSettings{Topic: w.topic, Records: w.records, RecordSize: w.recordSize, Batch: w.batch, Consumers: w.consumers}
	}
	return w.report
}

func (w *shareWorkload) describe() string {
	return fmt.Sprintf("%d records of %d bytes on one partition of %q, read by a classic group, then share groups of %v consumers; records/s is the last share phase's, latency the ack round trip",
		w.records, w.recordSize, w.topic, w.consumers)
}

func (w *shareWorkload) run(ctx context.Context, cf *clientFlags, server cpuMeter, log io.Writer) (benchRun, error) {
	w.settings()
	topic := fmt.Sprintf("%s-share-%d", w.topic, time.Now().UnixNano())
	if _, err := ensureTopic(ctx, cf, topic, 1, -1, log); err != nil {
		return benchRun{}, err
	}
	if err := w.preload(ctx, cf, topic); err != nil {
		return benchRun{}, err
	}
	repeat := len(w.report.Phases)/(len(w.consumers)+1) + 1
	classic, err := w.classicPhase(ctx, cf, topic)
	if err != nil {
		return benchRun{}, err
	}
	classic.Repeat = repeat
	w.report.Phases = append(w.report.Phases, classic)
	fmt.Fprintf(log, "bench share: classic group, 1 consumer: %.0f records/s\n", classic.RecordsPerSec)
	var last benchRun
	for _, n := range w.consumers {
		meter := startUsage(server)
		p, run, err := w.sharePhase(ctx, cf, topic, n)
		if err != nil {
			return benchRun{}, err
		}
		p.Repeat = repeat
		run.addUsage(meter.stop())
		w.report.Phases = append(w.report.Phases, p)
		fmt.Fprintf(log, "bench share: share group, %d consumer(s): %.0f records/s, ack p50 %.2f ms, p99 %.2f ms\n",
			n, p.RecordsPerSec, p.AckMs.P50, p.AckMs.P99)
		last = run
	}
	return last, nil
}

// preload produces the records in batches of w.batch (one ProduceSync each).
func (w *shareWorkload) preload(ctx context.Context, cf *clientFlags, topic string) error {
	cl, err := cf.newClient(kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0))
	if err != nil {
		return err
	}
	defer cl.Close()
	value := make([]byte, w.recordSize)
	for done := int64(0); done < w.records; {
		n := min(int64(w.batch), w.records-done)
		rs := make([]*kgo.Record, n)
		for i := range rs {
			rs[i] = &kgo.Record{Value: value}
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			return topicError("produce to", topic, err, "")
		}
		done += n
	}
	return nil
}

// classicPhase reads every record with one consumer of a new classic group.
func (w *shareWorkload) classicPhase(ctx context.Context, cf *clientFlags, topic string) (sharePhase, error) {
	cl, err := cf.newClient(kgo.ConsumerGroup(fmt.Sprintf("nagare-bench-classic-%d", time.Now().UnixNano())),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return sharePhase{}, err
	}
	defer cl.Close()
	var start time.Time
	var got, counted int64
	for got < w.records && ctx.Err() == nil {
		f := cl.PollFetches(ctx)
		if err := f.Err0(); err != nil && !errors.Is(err, context.Canceled) {
			return sharePhase{}, fmt.Errorf("classic consumer: %w", err)
		}
		got += int64(f.NumRecords())
		if start.IsZero() && f.NumRecords() > 0 {
			// The clock starts after the first poll with records, whose wait holds the
			// group's join; its records are not counted.
			start, counted = time.Now(), got
		}
	}
	return phaseOf("classic", 1, got-counted, time.Since(start)), ctx.Err()
}

func phaseOf(kind string, consumers int, records int64, took time.Duration) sharePhase {
	return sharePhase{Group: kind, Consumers: consumers, Records: records, Seconds: took.Seconds(),
		RecordsPerSec: float64(records) / took.Seconds()}
}

// sharePhase reads every record with n consumers of a new share group, each flushing
// its acknowledgements after every poll.
func (w *shareWorkload) sharePhase(ctx context.Context, cf *clientFlags, topic string, n int) (sharePhase, benchRun, error) {
	group := fmt.Sprintf("nagare-bench-share-%d", time.Now().UnixNano())
	if err := startShareGroupAtZero(ctx, cf, group, topic); err != nil {
		return sharePhase{}, benchRun{}, err
	}
	var (
		got    atomic.Int64
		first  atomic.Int64 // unix ns of the first record acknowledged
		acks   latencyHistogram
		errMu  sync.Mutex
		failed error
		wg     sync.WaitGroup
	)
	phaseCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	for i := range n {
		cl, err := cf.newClient(kgo.ShareGroup(group), kgo.ConsumeTopics(topic), kgo.ClientID(fmt.Sprintf("bench-share-%d", i)))
		if err != nil {
			return sharePhase{}, benchRun{}, err
		}
		wg.Go(func() {
			defer cl.Close()
			if err := shareConsume(phaseCtx, cl, &got, &first, w.records, &acks, cancel); err != nil {
				errMu.Lock()
				failed = errors.Join(failed, err)
				errMu.Unlock()
			}
		})
	}
	wg.Wait()
	took := time.Since(time.Unix(0, first.Load()))
	if failed != nil {
		return sharePhase{}, benchRun{}, fmt.Errorf("share consumer (the run is void): %w", failed)
	}
	p := phaseOf("share", n, got.Load(), took)
	p.AckMs = summarizeLatency(&acks)
	run := newBenchRun(1, got.Load(), got.Load()*int64(w.recordSize), took)
	run.LatencyMs = p.AckMs
	return p, run, ctx.Err()
}

// shareConsume polls, accepts and flushes until the phase has every record.
func shareConsume(ctx context.Context, cl *kgo.Client, got, first *atomic.Int64, want int64, acks *latencyHistogram, done func()) error {
	for ctx.Err() == nil {
		f := cl.PollFetches(ctx)
		if err := f.Err0(); err != nil && ctx.Err() == nil {
			return err
		}
		n := 0
		f.EachRecord(func(r *kgo.Record) { r.Ack(kgo.AckAccept); n++ })
		if n == 0 {
			continue
		}
		first.CompareAndSwap(0, time.Now().UnixNano()) // joining is not measured
		start := time.Now()
		if err := cl.FlushAcks(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("flush acks: %w", err)
		}
		acks.record(time.Since(start))
		if got.Add(int64(n)) >= want {
			done()
		}
	}
	return nil
}

// startShareGroupAtZero makes group a share group (one member joins and leaves) and
// moves its share-partition of topic-0 to the log start, whatever
// share.auto.offset.reset says.
func startShareGroupAtZero(ctx context.Context, cf *clientFlags, group, topic string) error {
	cl, err := cf.newClient()
	if err != nil {
		return err
	}
	defer cl.Close()
	member := fmt.Sprintf("bench-%d", time.Now().UnixNano()%1e12)
	for _, epoch := range []int32{0, -1} {
		req := kmsg.NewPtrShareGroupHeartbeatRequest()
		req.GroupID, req.MemberID, req.MemberEpoch = group, member, epoch
		if epoch == 0 {
			req.SubscribedTopicNames = []string{topic}
		}
		resp, err := req.RequestWith(ctx, cl)
		if err == nil && resp.ErrorCode != 0 {
			err = fmt.Errorf("share group heartbeat: error code %d", resp.ErrorCode)
		}
		if err != nil {
			return err
		}
	}
	adm := kadm.NewClient(cl)
	offsets := kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: topic, Partition: 0, At: 0})
	res, err := adm.AlterShareGroupOffsets(ctx, group, offsets)
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		return fmt.Errorf("alter share group offsets of %s: %w", group, err)
	}
	return nil
}
