package main

// The two benchmark workloads. Each runs against whatever cluster its seeds
// name, so the same code measures Nagare, Kafka and kfake.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// produceWorkload is `bench produce`.
type produceWorkload struct {
	topic             string
	partitions        int32 // when creating the topic
	replicationFactor int16 // when creating the topic
	records           int64 // total across clients; 0 with duration
	duration          time.Duration
	recordSize        int
	batchMaxBytes     int32
	linger            time.Duration
	acks              string
	compression       string
	clients           int
	rate              float64 // records/s across clients; 0: unbounded
	timeout           time.Duration
	idempotent        bool // acks=all only: producer ids and sequences (franz-go's default)
}

// produceSettings describe a produce workload in the report.
type produceSettings struct {
	Topic         string  `json:"topic"`
	Records       int64   `json:"records,omitempty"`
	Duration      string  `json:"duration,omitempty"`
	RecordSize    int     `json:"record_size"`
	BatchMaxBytes int32   `json:"batch_max_bytes"`
	Linger        string  `json:"linger"`
	Acks          string  `json:"acks"`
	Compression   string  `json:"compression"`
	Clients       int     `json:"clients"`
	Rate          float64 `json:"rate"`
	Idempotent    bool    `json:"idempotent"`
}

func (w *produceWorkload) name() string { return "produce" }

func (w *produceWorkload) matchFirstRun(first benchRun) {
	w.partitions, w.replicationFactor = first.Partitions, -1
}

func (w *produceWorkload) settings() any {
	s := produceSettings{
		Topic:         w.topic,
		Records:       w.records,
		RecordSize:    w.recordSize,
		BatchMaxBytes: w.batchMaxBytes,
		Linger:        w.linger.String(),
		Acks:          w.acks,
		Compression:   w.compression,
		Clients:       w.clients,
		Rate:          w.rate,
		Idempotent:    w.idempotent,
	}
	if w.duration > 0 {
		s.Duration = w.duration.String()
	}
	return s
}

func (w *produceWorkload) describe() string {
	amount := fmt.Sprintf("%d records", w.records)
	if w.duration > 0 {
		amount = "for " + w.duration.String()
	}
	rate := "unbounded"
	if w.rate > 0 {
		rate = fmt.Sprintf("%g records/s", w.rate)
	}
	return fmt.Sprintf("produce %s of %d bytes to %q: %d client(s), acks=%s, idempotent=%t, linger=%s, batch-max-bytes=%d, compression=%s, rate %s",
		amount, w.recordSize, w.topic, w.clients, w.acks, w.idempotent, w.linger, w.batchMaxBytes, w.compression, rate)
}

func (w *produceWorkload) run(ctx context.Context, cf *clientFlags, server cpuMeter, log io.Writer) (benchRun, error) {
	partitions, err := ensureTopic(ctx, cf, w.topic, w.partitions, w.replicationFactor, log)
	if err != nil {
		return benchRun{}, err
	}
	res, err := produceRecords(ctx, cf, w, server)
	if err != nil {
		return benchRun{}, err
	}
	run := newBenchRun(partitions, res.records, res.bytes, res.elapsed)
	run.LatencyMs = summarizeLatency(&res.latency)
	run.addUsage(res.usage)
	return run, nil
}

// produceResult is what produceRecords measured.
type produceResult struct {
	records, bytes int64 // acknowledged
	elapsed        time.Duration
	latency        latencyHistogram // Produce call to promise, per record
	usage          usage            // CPU and GC over the same span
}

// produceRun is the state that the clients of one produce workload share.
// Promises run on franz-go's goroutines, hence the atomics and errMu.
type produceRun struct {
	w        *produceWorkload
	payload  []byte // every record's value; franz-go only reads it
	start    time.Time
	res      produceResult
	acked    atomic.Int64
	failed   atomic.Int64
	errMu    sync.Mutex
	firstErr error // guarded by errMu
}

// produceRecords runs the produce workload: w.clients clients, each producing
// its share of w.records (or producing until w.duration has passed), paced to
// w.rate, and records each record's latency. It fails if any record fails.
// server, if not nil, reads the server's CPU time over the timed span.
func produceRecords(ctx context.Context, cf *clientFlags, w *produceWorkload, server cpuMeter) (*produceResult, error) {
	pr := &produceRun{w: w, payload: make([]byte, w.recordSize)}
	rand.NewChaCha8([32]byte{'n', 'a', 'g', 'a', 'r', 'e'}).Read(pr.payload)
	clients, err := pr.newClients(ctx, cf)
	for _, cl := range clients {
		defer cl.Close()
	}
	if err != nil {
		return nil, err
	}

	var wg sync.WaitGroup
	meter := startUsage(server)
	pr.start = time.Now()
	for i, cl := range clients {
		share := w.records / int64(w.clients)
		if int64(i) < w.records%int64(w.clients) {
			share++
		}
		wg.Go(func() { pr.produce(ctx, cl, share) })
	}
	wg.Wait()
	pr.res.elapsed = time.Since(pr.start)
	pr.res.usage = meter.stop()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pr.errMu.Lock()
	defer pr.errMu.Unlock()
	if pr.firstErr != nil {
		return nil, fmt.Errorf("%d records failed (the run is void); first error: %w", pr.failed.Load(), pr.firstErr)
	}
	pr.res.records = pr.acked.Load()
	pr.res.bytes = pr.res.records * int64(w.recordSize)
	return &pr.res, nil
}

// newClients returns the workload's clients, each of which has produced one
// record, so connecting and loading metadata stay out of the measurement.
func (pr *produceRun) newClients(ctx context.Context, cf *clientFlags) ([]*kgo.Client, error) {
	w := pr.w
	opts := []kgo.Opt{
		kgo.ProducerBatchMaxBytes(w.batchMaxBytes),
		kgo.ProducerLinger(w.linger),
		kgo.ProducerBatchCompression(compressionCodec(w.compression)),
		kgo.RecordDeliveryTimeout(w.timeout),
	}
	opts = append(opts, acksOptions(w.acks)...)
	if w.acks == "all" && !w.idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	var clients []*kgo.Client
	for range w.clients {
		cl, err := cf.newClient(opts...)
		if err != nil {
			return clients, err
		}
		clients = append(clients, cl)
		warmCtx, cancel := cf.withTimeout(ctx)
		err = cl.ProduceSync(warmCtx, &kgo.Record{Topic: w.topic, Value: pr.payload}).FirstErr()
		cancel()
		if err != nil {
			return clients, topicError("produce to", w.topic, err, "")
		}
	}
	return clients, nil
}

// recordSlab is how many records produce allocates at once: one
// allocation per slab rather than a record and a closure per record, so the
// client's garbage collector, which otherwise showed in the latency tail,
// has less to do.
const recordSlab = 1024

// benchRecord is a record with the time it was handed to Produce, which
// the shared promise reads back through the record's Context.
type benchRecord struct {
	kgo.Record
	sent sentAt
}

// sentAt is a benchRecord's Context. It embeds the run's context, so
// franz-go still fails the record when the run is interrupted. (The
// record's Timestamp cannot carry the time: franz-go truncates it to
// milliseconds.)
type sentAt struct {
	context.Context
	at time.Time
}

// produce is one client's loop: share records (or until the duration has
// passed), paced to its part of the rate, then a flush.
func (pr *produceRun) produce(ctx context.Context, cl *kgo.Client, share int64) {
	w := pr.w
	deadline := pr.start.Add(w.duration)
	pace := newPacer(w.rate/float64(w.clients), pr.start)
	defer pace.stop()
	promise := pr.promise // one func value for every record
	var slab []benchRecord
	for sent := int64(0); w.duration > 0 || sent < share; sent++ {
		if ctx.Err() != nil || pr.failed.Load() > 0 || !pace.wait(ctx, sent) {
			break
		}
		if len(slab) == 0 {
			slab = make([]benchRecord, recordSlab)
		}
		r := &slab[0]
		slab = slab[1:]
		r.Topic, r.Value = w.topic, pr.payload
		r.sent = sentAt{Context: ctx, at: time.Now()}
		r.Context = &r.sent
		if w.duration > 0 && r.sent.at.After(deadline) {
			break
		}
		cl.Produce(ctx, &r.Record, promise)
	}
	// Flush returns once every promise has run; a failure already reached
	// its promise, so Flush's own error adds nothing.
	_ = cl.Flush(ctx)
}

// promise is the one promise of every record produce sends.
func (pr *produceRun) promise(r *kgo.Record, err error) {
	if err != nil {
		pr.fail(err)
		return
	}
	pr.res.latency.record(time.Since(r.Context.(*sentAt).at))
	pr.acked.Add(1)
}

// pacer spaces one client's records at rate per second from start. It
// wakes every millisecond and lets through what is due by then, counted
// from the start, so a late wake-up is made up rather than lowering the
// rate; a timer per record cost more than the records at high rates.
type pacer struct {
	rate  float64
	start time.Time
	tick  *time.Ticker
	due   int64 // records that were due at the last look at the clock
}

// newPacer returns a pacer, or nil (no pacing) when rate is 0.
func newPacer(rate float64, start time.Time) *pacer {
	if rate <= 0 {
		return nil
	}
	return &pacer{rate: rate, start: start, tick: time.NewTicker(time.Millisecond)}
}

// wait returns once record number sent (from 0) is due; false if ctx ended.
func (p *pacer) wait(ctx context.Context, sent int64) bool {
	if p == nil {
		return true
	}
	for sent >= p.due {
		// Record i is due at start + i/rate.
		if p.due = int64(p.rate*time.Since(p.start).Seconds()) + 1; sent < p.due {
			break
		}
		select {
		case <-p.tick.C:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

func (p *pacer) stop() {
	if p != nil {
		p.tick.Stop()
	}
}

func (pr *produceRun) fail(err error) {
	pr.failed.Add(1)
	pr.errMu.Lock()
	defer pr.errMu.Unlock()
	if pr.firstErr == nil {
		pr.firstErr = err
	}
}

// consumeWorkload is `bench consume`.
type consumeWorkload struct {
	topic             string
	partitions        int32 // when creating the topic
	replicationFactor int16 // when creating the topic
	records           int64
	recordSize        int // of records produced first when the topic is short
	timeout           time.Duration
}

// consumeSettings describe a consume workload in the report.
type consumeSettings struct {
	Topic      string `json:"topic"`
	Records    int64  `json:"records"`
	RecordSize int    `json:"record_size"`
}

func (w *consumeWorkload) name() string { return "consume" }

func (w *consumeWorkload) matchFirstRun(first benchRun) {
	w.partitions, w.replicationFactor = first.Partitions, -1
	if first.Records > 0 {
		// The topic may have held records of another size than --record-size.
		w.recordSize = int((first.Bytes + first.Records/2) / first.Records)
	}
}

func (w *consumeWorkload) settings() any {
	return consumeSettings{Topic: w.topic, Records: w.records, RecordSize: w.recordSize}
}

func (w *consumeWorkload) describe() string {
	return fmt.Sprintf("consume %d records from the start of %q with 1 client", w.records, w.topic)
}

func (w *consumeWorkload) run(ctx context.Context, cf *clientFlags, server cpuMeter, log io.Writer) (benchRun, error) {
	partitions, err := ensureTopic(ctx, cf, w.topic, w.partitions, w.replicationFactor, log)
	if err != nil {
		return benchRun{}, err
	}
	starts, available, err := w.startOffsets(ctx, cf)
	if err != nil {
		return benchRun{}, err
	}
	if available < w.records {
		missing := w.records - available
		fmt.Fprintf(log, "bench consume: topic %q holds %d records; producing %d more of %d bytes first (not timed)\n",
			w.topic, available, missing, w.recordSize)
		pre := &produceWorkload{
			topic: w.topic, records: missing, recordSize: w.recordSize,
			batchMaxBytes: 1_000_012, linger: 10 * time.Millisecond,
			acks: "all", compression: "none", clients: 1, timeout: w.timeout,
		}
		if _, err := produceRecords(ctx, cf, pre, nil); err != nil {
			return benchRun{}, fmt.Errorf("produce records to consume: %w", err)
		}
	}

	cl, err := cf.newClient(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{w.topic: starts}))
	if err != nil {
		return benchRun{}, err
	}
	defer cl.Close()
	var (
		records, bytes int64
		meter          = startUsage(server)
		start          = time.Now()
	)
	for records < w.records {
		pollCtx, cancel := context.WithTimeout(ctx, w.timeout)
		fetches := cl.PollFetches(pollCtx)
		idle := pollCtx.Err() != nil
		cancel()
		if err := ctx.Err(); err != nil {
			return benchRun{}, err
		}
		if idle {
			return benchRun{}, fmt.Errorf("no records for %s after %d of %d", w.timeout, records, w.records)
		}
		var fetchErr error
		fetches.EachError(func(t string, p int32, err error) {
			fetchErr = cmpFirst(fetchErr, fetchError(t, p, err))
		})
		if fetchErr != nil {
			return benchRun{}, fetchErr
		}
		for iter := fetches.RecordIter(); !iter.Done() && records < w.records; {
			r := iter.Next()
			records++
			bytes += int64(len(r.Key) + len(r.Value))
		}
	}
	run := newBenchRun(partitions, records, bytes, time.Since(start))
	run.addUsage(meter.stop())
	return run, nil
}

// startOffsets returns each partition's log start offset and how many
// records the topic holds.
func (w *consumeWorkload) startOffsets(ctx context.Context, cf *clientFlags) (map[int32]kgo.Offset, int64, error) {
	adm, err := cf.newAdmin()
	if err != nil {
		return nil, 0, err
	}
	defer adm.Close()
	ctx, cancel := cf.withTimeout(ctx)
	defer cancel()
	starts, err := adm.ListStartOffsets(ctx, w.topic)
	if err != nil {
		return nil, 0, fmt.Errorf("list log start offsets: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, w.topic)
	if err != nil {
		return nil, 0, fmt.Errorf("list high watermarks: %w", err)
	}
	offsets := make(map[int32]kgo.Offset)
	var available int64
	for p, end := range ends[w.topic] {
		start, _ := starts.Lookup(w.topic, p)
		if err := cmpFirst(end.Err, start.Err); err != nil {
			return nil, 0, topicError("list offsets of", w.topic, fmt.Errorf("partition %d: %w", p, err), "")
		}
		offsets[p] = kgo.NewOffset().At(start.Offset)
		available += end.Offset - start.Offset
	}
	return offsets, available, nil
}

// ensureTopic returns the topic's partition count, creating the topic first
// if it does not exist.
func ensureTopic(ctx context.Context, cf *clientFlags, topic string, partitions int32, replicationFactor int16, log io.Writer) (int32, error) {
	adm, err := cf.newAdmin()
	if err != nil {
		return 0, err
	}
	defer adm.Close()
	ctx, cancel := cf.withTimeout(ctx)
	defer cancel()

	details, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("look up topic %q: %w", topic, err)
	}
	td, ok := details[topic]
	if ok && td.Err == nil {
		fmt.Fprintf(log, "bench: using existing topic %q (%d partitions)\n", topic, len(td.Partitions))
		return int32(len(td.Partitions)), nil
	}
	if ok && !errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
		return 0, topicError("look up", topic, td.Err, "")
	}
	resp, err := adm.CreateTopic(ctx, partitions, replicationFactor, nil, topic)
	if err != nil {
		return 0, topicError("create", topic, err, resp.ErrMessage)
	}
	n := resp.NumPartitions
	if n <= 0 {
		n = partitions
	}
	fmt.Fprintf(log, "bench: created topic %q (%d partitions)\n", topic, n)
	return n, nil
}

// cmpFirst returns the first non-nil error.
func cmpFirst(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
