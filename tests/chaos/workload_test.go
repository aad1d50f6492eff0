//go:build unix

package chaos

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Workload sizes: two producers each send a record every produceInterval (about 400
// records a second in all, spread over the partitions) with at most maxInFlight records
// unanswered each, so that a failover queues a bounded backlog.
const (
	producerCount   = 2
	produceInterval = 5 * time.Millisecond
	maxInFlight     = 256
	readerClientID  = producerCount // porcupine client id of the tailing reader
	finalClientID   = producerCount + 1
	flushTimeout    = 60 * time.Second
)

// produceResult is the fate of one produced record.
type produceResult struct {
	value     string
	partition int32
	offset    int64 // when acknowledged
	err       error // the final error, after the client's retries
	call, ret int64 // ns since the history's start
}

// history records everything the clients saw: each produce's fate, and each read as an
// operation of the log model (model_test.go). It is safe for concurrent use.
type history struct {
	start time.Time

	mu        sync.Mutex
	ops       []logEvent      // guarded by mu
	produced  []produceResult // guarded by mu
	fetchErrs map[string]int  // guarded by mu; the reader's fetch errors by text
}

func newHistory() *history {
	return &history{start: time.Now(), fetchErrs: map[string]int{}}
}

// now is the history's clock: monotonic nanoseconds since its start.
func (h *history) now() int64 { return int64(time.Since(h.start)) }

func (h *history) addProduce(r produceResult, client int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.produced = append(h.produced, r)
	if r.err == nil {
		h.ops = append(h.ops, logEvent{client: client, call: r.call, ret: r.ret,
			op: logOp{kind: opAck, partition: r.partition, offset: r.offset, value: r.value}})
	}
}

func (h *history) addRead(client int, call, ret int64, r *kgo.Record) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, logEvent{client: client, call: call, ret: ret,
		op: logOp{kind: opRead, partition: r.Partition, offset: r.Offset, value: string(r.Value)}})
}

func (h *history) addFetchErr(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fetchErrs[err.Error()]++
}

// producer sends uniquely valued records (producer id and sequence) round-robin over the
// partitions, with franz-go's defaults: idempotent, acks=all, retries until delivered.
type producer struct {
	id    int
	parts int // the topic's partitions, written round-robin
	cl    *kgo.Client
	h     *history
	slots chan struct{}
	stop  chan struct{}
	done  chan struct{}
	sent  int // guarded by the run goroutine until done closes
}

func (c *cluster) startProducers(h *history) []*producer {
	c.t.Helper()
	var ps []*producer
	for id := range producerCount {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.bootstrap()...), kgo.Dialer(c.dial),
			kgo.ClientID(fmt.Sprintf("chaos-producer-%d", id)),
			kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.RequiredAcks(kgo.AllISRAcks()),
			// A stopping node closes connections whose requests it has not read, as Kafka's
			// does; on a connection that has had no answer yet franz-go takes that EOF for
			// a missing SASL setup and fails the records unless told to retry it.
			kgo.AlwaysRetryEOF(),
			// Find a new leader quickly: the cluster's failover, not the client's
			// backoff, is what the scenarios exercise.
			kgo.MetadataMinAge(100*time.Millisecond),
			kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }))
		if err != nil {
			c.t.Fatal(err)
		}
		p := &producer{id: id, parts: c.partitions, cl: cl, h: h, slots: make(chan struct{}, maxInFlight),
			stop: make(chan struct{}), done: make(chan struct{})}
		go p.run()
		ps = append(ps, p)
	}
	return ps
}

func (p *producer) run() {
	defer close(p.done)
	tick := time.NewTicker(produceInterval)
	defer tick.Stop()
	for seq := 0; ; seq++ {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		select {
		case <-p.stop:
			return
		case p.slots <- struct{}{}:
		}
		value := fmt.Sprintf("p%d-%08d", p.id, seq)
		partition := int32(seq % p.parts)
		call := p.h.now()
		p.sent++
		p.cl.Produce(context.Background(), &kgo.Record{Partition: partition, Value: []byte(value)}, func(r *kgo.Record, err error) {
			p.h.addProduce(produceResult{value: value, partition: partition, offset: r.Offset, err: err, call: call, ret: p.h.now()}, p.id)
			<-p.slots
		})
	}
}

// stopProducers stops sending, waits up to flushTimeout for every record's answer, then
// closes the clients, which fails what is still unanswered (then counted as failed).
func stopProducers(t *testing.T, ps []*producer) {
	t.Helper()
	for _, p := range ps {
		close(p.stop)
	}
	for _, p := range ps {
		<-p.done
		ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
		if err := p.cl.Flush(ctx); err != nil {
			t.Errorf("producer %d: %d records still unanswered %s after the faults: %v", p.id, len(p.slots), flushTimeout, err)
		}
		cancel()
		p.cl.Close()
	}
}

// reader tails every partition from its start while the faults happen, recording each
// record it is given: a consumer sees only offsets below the high watermark, so each read
// is an observation of committed data.
type reader struct {
	cl     *kgo.Client
	h      *history
	cancel context.CancelFunc
	done   chan struct{}
}

func (c *cluster) startReader(h *history) *reader {
	c.t.Helper()
	offsets := map[int32]kgo.Offset{}
	for p := range int32(c.partitions) {
		offsets[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.bootstrap()...), kgo.Dialer(c.dial),
		kgo.ClientID("chaos-reader"), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchMaxWait(200*time.Millisecond), kgo.MetadataMinAge(100*time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }))
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &reader{cl: cl, h: h, cancel: cancel, done: make(chan struct{})}
	go r.run(ctx)
	return r
}

func (r *reader) run(ctx context.Context) {
	defer close(r.done)
	// A record handed out by a poll was fetched at some time after the reader started
	// (franz-go fetches ahead of the polls), so that is the call time it is given.
	call := r.h.now()
	for ctx.Err() == nil {
		fetches := r.cl.PollFetches(ctx)
		ret := r.h.now()
		fetches.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.Canceled) {
				r.h.addFetchErr(err)
			}
		})
		fetches.EachRecord(func(rec *kgo.Record) { r.h.addRead(readerClientID, call, ret, rec) })
	}
}

func (r *reader) close() {
	r.cancel()
	<-r.done
	r.cl.Close()
}

// readAll reads every partition from its start to its high watermark with a new client,
// recording the reads, and returns partition -> offset -> value.
func (c *cluster) readAll(h *history, ends map[int32]int64) map[int32]map[int64]string {
	c.t.Helper()
	offsets := map[int32]kgo.Offset{}
	for p := range ends {
		offsets[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.bootstrap()...), kgo.Dialer(c.dial),
		kgo.ClientID("chaos-verify"), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		// A partition may end in a transaction marker: without its control record the
		// reader could not tell it has reached the end.
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		c.t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(c.t.Context(), 2*time.Minute)
	defer cancel()
	final := map[int32]map[int64]string{}
	next := map[int32]int64{}
	for p := range ends {
		final[p] = map[int64]string{}
	}
	call := h.now()
	done := func() bool {
		for p, end := range ends {
			if next[p] < end {
				return false
			}
		}
		return true
	}
	for !done() {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			c.t.Fatalf("reading the partitions back: %v (read up to %v of %v)", ctx.Err(), next, ends)
		}
		ret := h.now()
		fetches.EachError(func(_ string, p int32, err error) {
			if !kerr.IsRetriable(err) {
				c.t.Errorf("reading partition %d back: %v", p, err)
			}
		})
		fetches.EachRecord(func(r *kgo.Record) {
			if r.Offset >= ends[r.Partition] {
				return // written after the ends were taken; none should be
			}
			if r.Attrs.IsControl() {
				next[r.Partition] = r.Offset + 1
				return
			}
			h.addRead(finalClientID, call, ret, r)
			final[r.Partition][r.Offset] = string(r.Value)
			next[r.Partition] = r.Offset + 1
		})
	}
	return final
}
