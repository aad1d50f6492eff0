package main

// `nagare bench txn`: small transactions per second. Each of --producers
// transactional clients loops begin / produce 1..N records / commit for --duration.
// It runs through runBench, so --repeat and --compare-kfake work as for produce; in
// its report a "record" is one committed transaction and the latency is the commit's.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
)

// txnWorkload is `bench txn`.
type txnWorkload struct {
	topic             string
	partitions        int32
	replicationFactor int16
	duration          time.Duration
	producers         int
	minRecords        int
	maxRecords        int
	recordSize        int
	timeout           time.Duration
}

// txnSettings describe a txn workload in the report.
type txnSettings struct {
	Topic      string `json:"topic"`
	Duration   string `json:"duration"`
	Producers  int    `json:"producers"`
	MinRecords int    `json:"min_records_per_txn"`
	MaxRecords int    `json:"max_records_per_txn"`
	RecordSize int    `json:"record_size"`
}

func newBenchTxnCommand(bf *benchFlags) *cobra.Command {
	w := txnWorkload{duration: 10 * time.Second, producers: 4, minRecords: 1, maxRecords: 10}
	cmd := &cobra.Command{
		Use:   "txn",
		Short: "Measure small transactions per second and commit latency",
		Long: `Run --producers transactional producers (franz-go, each its own transactional
id) for --duration. Each loops: begin a transaction, produce between
--min-records and --max-records records of --record-size bytes to the topic,
commit (flush, then EndTxn, which returns once the coordinator has decided).
The report's records/s is committed transactions per second, its MiB/s the
committed values, and its latency the commit's (flush and EndTxn) per
transaction. Each producer runs one unmeasured transaction first.`,
		Example: `  nagare bench txn --producers 4 --duration 10s --record-size 100
  nagare bench txn --duration 5s --repeat 3 --compare-kfake`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bf.validate(cmd); err != nil {
				return err
			}
			switch {
			case w.duration <= 0:
				return usagef(cmd, "--duration must be positive")
			case w.producers <= 0:
				return usagef(cmd, "--producers must be positive")
			case w.minRecords <= 0 || w.maxRecords < w.minRecords:
				return usagef(cmd, "need 0 < --min-records <= --max-records")
			}
			w.topic, w.partitions, w.replicationFactor = bf.topic, bf.partitions, bf.replicationFactor
			w.recordSize, w.timeout = bf.recordSize, bf.client.timeout
			return bf.client.explain(runBench(cmd.Context(), bf, cmd.OutOrStdout(), cmd.ErrOrStderr(), &w))
		},
	}
	fs := cmd.Flags()
	fs.DurationVar(&w.duration, "duration", w.duration, "how long the producers run")
	fs.IntVar(&w.producers, "producers", w.producers, "transactional producers, each with its own client")
	fs.IntVar(&w.minRecords, "min-records", w.minRecords, "fewest records in a transaction")
	fs.IntVar(&w.maxRecords, "max-records", w.maxRecords, "most records in a transaction")
	return cmd
}

func (w *txnWorkload) name() string { return "txn" }

func (w *txnWorkload) matchFirstRun(first benchRun) {
	w.partitions, w.replicationFactor = first.Partitions, -1
}

func (w *txnWorkload) settings() any {
	return txnSettings{Topic: w.topic, Duration: w.duration.String(), Producers: w.producers,
		MinRecords: w.minRecords, MaxRecords: w.maxRecords, RecordSize: w.recordSize}
}

func (w *txnWorkload) describe() string {
	return fmt.Sprintf("transactions of %d-%d records of %d bytes to %q for %s: %d producer(s); records/s are transactions/s, latency the commit's",
		w.minRecords, w.maxRecords, w.recordSize, w.topic, w.duration, w.producers)
}

// txnRun is what the producers of one run share.
type txnRun struct {
	w         *txnWorkload
	payload   []byte
	committed atomic.Int64 // transactions
	records   atomic.Int64 // in committed transactions
	commit    latencyHistogram
	errMu     sync.Mutex
	firstErr  error // guarded by errMu
}

func (w *txnWorkload) run(ctx context.Context, cf *clientFlags, server cpuMeter, log io.Writer) (benchRun, error) {
	partitions, err := ensureTopic(ctx, cf, w.topic, w.partitions, w.replicationFactor, log)
	if err != nil {
		return benchRun{}, err
	}
	tr := &txnRun{w: w, payload: make([]byte, w.recordSize)}
	clients, err := tr.newClients(ctx, cf)
	defer func() {
		for _, cl := range clients {
			cl.Close()
		}
	}()
	if err != nil {
		return benchRun{}, err
	}
	var wg sync.WaitGroup
	meter := startUsage(server)
	start := time.Now()
	deadline := start.Add(w.duration)
	for i, cl := range clients {
		wg.Go(func() { tr.loop(ctx, cl, deadline, uint64(i)) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	u := meter.stop()
	if tr.firstErr != nil {
		return benchRun{}, fmt.Errorf("transaction failed (the run is void): %w", tr.firstErr)
	}
	if err := ctx.Err(); err != nil {
		return benchRun{}, err
	}
	n := tr.committed.Load()
	run := newBenchRun(partitions, n, tr.records.Load()*int64(w.recordSize), elapsed)
	run.LatencyMs = summarizeLatency(&tr.commit)
	run.addUsage(u)
	fmt.Fprintf(log, "bench txn: %d transactions (%d records) in %.1fs: %.0f txn/s, commit p50 %.2f ms, p99 %.2f ms\n",
		n, tr.records.Load(), elapsed.Seconds(), run.RecordsPerSec, run.LatencyMs.P50, run.LatencyMs.P99)
	return run, nil
}

// newClients makes one transactional client per producer, each of which commits one
// transaction, so InitProducerId, coordinator lookup and metadata stay out of the
// measurement. Transactional ids are new for every run.
func (tr *txnRun) newClients(ctx context.Context, cf *clientFlags) ([]*kgo.Client, error) {
	w := tr.w
	runID := time.Now().UnixNano()
	var clients []*kgo.Client
	for i := range w.producers {
		cl, err := cf.newClient(kgo.TransactionalID(fmt.Sprintf("nagare-bench-txn-%d-%d", runID, i)),
			kgo.DefaultProduceTopic(w.topic), kgo.ProducerLinger(0), kgo.RecordDeliveryTimeout(w.timeout),
			kgo.TransactionTimeout(max(w.timeout, 10*time.Second)))
		if err != nil {
			return clients, err
		}
		clients = append(clients, cl)
		if _, err := tr.transaction(ctx, cl, 1); err != nil {
			return clients, topicError("transactionally produce to", w.topic, err, "")
		}
	}
	return clients, nil
}

// loop runs transactions until the deadline or the first failure.
func (tr *txnRun) loop(ctx context.Context, cl *kgo.Client, deadline time.Time, seed uint64) {
	w := tr.w
	rng := rand.New(rand.NewPCG(seed, 5))
	for ctx.Err() == nil && time.Now().Before(deadline) {
		n := w.minRecords + rng.IntN(w.maxRecords-w.minRecords+1)
		took, err := tr.transaction(ctx, cl, n)
		if err != nil {
			tr.errMu.Lock()
			tr.firstErr = errors.Join(tr.firstErr, err)
			tr.errMu.Unlock()
			return
		}
		tr.commit.record(took)
		tr.committed.Add(1)
		tr.records.Add(int64(n))
	}
}

// transaction runs one transaction of n records and returns how long its commit took.
func (tr *txnRun) transaction(ctx context.Context, cl *kgo.Client, n int) (time.Duration, error) {
	if err := cl.BeginTransaction(); err != nil {
		return 0, fmt.Errorf("begin: %w", err)
	}
	var failed atomic.Pointer[error]
	for range n {
		cl.Produce(ctx, &kgo.Record{Value: tr.payload}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.CompareAndSwap(nil, &err)
			}
		})
	}
	start := time.Now()
	flushErr := cl.Flush(ctx)
	commit := kgo.TryCommit
	if flushErr != nil || failed.Load() != nil {
		commit = kgo.TryAbort
	}
	endErr := cl.EndTransaction(ctx, commit)
	took := time.Since(start)
	if p := failed.Load(); p != nil {
		return took, fmt.Errorf("produce: %w", *p)
	}
	if err := errors.Join(flushErr, endErr); err != nil {
		return took, fmt.Errorf("commit: %w", err)
	}
	return took, nil
}
