//go:build unix

package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The transactional workload: txnProducerCount transactional producers (transactional
// ids chaos-txn-N) each run small transactions of one to four records over the
// partitions, committing three in four and aborting the rest, while the idempotent
// producers and the tailing reader of every scenario go on. A read_committed reader tails
// the partitions too.
const (
	txnProducerCount = 2
	txnClientBase    = 10 // porcupine client ids of the transactional producers
	rcReaderClientID = 20 // the tailing read_committed reader
	rcFinalClientID  = 21 // the final read_committed read
	txnEndTimeout    = 60 * time.Second
)

// txnSets keep __transaction_state small (three partitions instead of fifty), so that a
// coordinator's failover loads little.
var txnSets = []string{"transaction.state.log.num.partitions=3"}

type txnOutcome uint8

const (
	txnAborted   txnOutcome = iota + 1 // abort answered, or commit never asked for
	txnCommitted                       // EndTransaction(TryCommit) returned nil
	txnUnknown                         // EndTransaction(TryCommit) failed: either way, all or nothing
)

func (o txnOutcome) String() string {
	return [...]string{"?", "aborted", "committed", "unknown"}[o]
}

// txnRecord is one record of a transaction, as its produce was answered.
type txnRecord struct {
	value     string
	partition int32
	offset    int64
	err       error
}

// txn is one transaction and what EndTransaction said of it.
type txn struct {
	name    string // t<producer>-<seq>
	commit  bool   // what was intended (also in the values, for the logs)
	outcome txnOutcome
	endErr  error
	records []txnRecord
}

// txnWorkload runs the transactional producers and the read_committed tailing reader.
type txnWorkload struct {
	c    *cluster
	h    *history
	stop chan struct{}
	wg   sync.WaitGroup

	mu     sync.Mutex
	txns   []*txn         // guarded by mu
	rcSeen []logOp        // guarded by mu; what the tailing read_committed reader was given
	errs   map[string]int // guarded by mu; EndTransaction and produce errors by text
	rc     *reader        // the tailing read_committed reader
}

func (c *cluster) startTxnWorkload(h *history, rng *rand.Rand) *txnWorkload {
	w := &txnWorkload{c: c, h: h, stop: make(chan struct{}), errs: map[string]int{}}
	for id := range txnProducerCount {
		seed := rng.Uint64()
		w.wg.Add(1)
		go w.produce(id, rand.New(rand.NewPCG(seed, seed)))
	}
	w.rc = c.startReadCommitted(h, w)
	return w
}

func (c *cluster) txnClient(id int) *kgo.Client {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.bootstrap()...), kgo.Dialer(c.dial),
		kgo.ClientID(fmt.Sprintf("chaos-txn-%d", id)),
		kgo.TransactionalID(fmt.Sprintf("chaos-txn-%d", id)),
		kgo.TransactionTimeout(20*time.Second),
		kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RecordDeliveryTimeout(45*time.Second),
		kgo.AlwaysRetryEOF(),
		kgo.MetadataMinAge(100*time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }))
	if err != nil {
		c.t.Fatal(err)
	}
	return cl
}

func (w *txnWorkload) noteErr(what string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.errs[what+": "+err.Error()]++
}

// produce runs transactions until stop. A transaction's outcome is decided from
// EndTransaction's answer only: a commit answered nil is committed; a transaction whose
// commit was never asked for (an abort was intended, or a produce failed, or franz-go
// said OperationNotAttempted) is aborted whatever the abort's answer, since only a commit
// request can commit; a commit that failed is unknown. After any EndTransaction error the
// client is replaced: the new one's InitProducerId bumps the epoch, which completes or
// aborts what the old one left.
func (w *txnWorkload) produce(id int, rng *rand.Rand) {
	defer w.wg.Done()
	cl := w.c.txnClient(id)
	defer func() { cl.Close() }()
	for seq := 0; ; seq++ {
		select {
		case <-w.stop:
			return
		case <-time.After(time.Duration(5+rng.IntN(20)) * time.Millisecond):
		}
		t := &txn{name: fmt.Sprintf("t%d-%06d", id, seq), commit: rng.IntN(4) != 0}
		if err := cl.BeginTransaction(); err != nil {
			w.noteErr("begin", err)
			cl.Close()
			cl = w.c.txnClient(id)
			continue
		}
		intent := 'a'
		if t.commit {
			intent = 'c'
		}
		var recs []*kgo.Record
		first := rng.IntN(w.c.partitions)
		for j := range 1 + rng.IntN(4) {
			recs = append(recs, &kgo.Record{Partition: int32((first + j) % w.c.partitions),
				Value: []byte(fmt.Sprintf("%s-%c-%d", t.name, intent, j))})
		}
		call := w.h.now()
		results := cl.ProduceSync(context.Background(), recs...)
		ret := w.h.now()
		failed := false
		for _, r := range results {
			tr := txnRecord{value: string(r.Record.Value), partition: r.Record.Partition, offset: r.Record.Offset, err: r.Err}
			t.records = append(t.records, tr)
			// An acknowledged transactional record is at its offset in the log whatever
			// its transaction's fate, so it is an ack for the log model and checkAcks too.
			w.h.addProduce(produceResult{value: tr.value, partition: tr.partition, offset: tr.offset, err: tr.err, call: call, ret: ret}, txnClientBase+id)
			if r.Err != nil {
				failed = true
				w.noteErr("produce", r.Err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), txnEndTimeout)
		switch {
		case t.commit && !failed:
			t.endErr = cl.EndTransaction(ctx, kgo.TryCommit)
			switch {
			case t.endErr == nil:
				t.outcome = txnCommitted
			case errors.Is(t.endErr, kerr.OperationNotAttempted):
				t.outcome = txnAborted
			default:
				t.outcome = txnUnknown
			}
			if t.endErr != nil {
				w.noteErr("commit", t.endErr)
				if err := cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
					w.noteErr("abort after a failed commit", err)
				}
			}
		default:
			if failed {
				if err := cl.AbortBufferedRecords(ctx); err != nil {
					w.noteErr("abort buffered records", err)
				}
			}
			t.outcome = txnAborted
			t.endErr = cl.EndTransaction(ctx, kgo.TryAbort)
			if t.endErr != nil {
				w.noteErr("abort", t.endErr)
			}
		}
		cancel()
		w.mu.Lock()
		w.txns = append(w.txns, t)
		w.mu.Unlock()
		if t.endErr != nil {
			cl.Close()
			cl = w.c.txnClient(id)
		}
	}
}

// startReadCommitted tails every partition with isolation read_committed, recording each
// record it is given in the history and in w.rcSeen.
func (c *cluster) startReadCommitted(h *history, w *txnWorkload) *reader {
	c.t.Helper()
	offsets := map[int32]kgo.Offset{}
	for p := range int32(c.partitions) {
		offsets[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.bootstrap()...), kgo.Dialer(c.dial),
		kgo.ClientID("chaos-rc-reader"), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(200*time.Millisecond), kgo.MetadataMinAge(100*time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }))
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &reader{cl: cl, h: h, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		call := h.now()
		for ctx.Err() == nil {
			fetches := cl.PollFetches(ctx)
			ret := h.now()
			fetches.EachRecord(func(rec *kgo.Record) {
				h.addRead(rcReaderClientID, call, ret, rec)
				w.mu.Lock()
				w.rcSeen = append(w.rcSeen, logOp{kind: opRead, partition: rec.Partition, offset: rec.Offset, value: string(rec.Value)})
				w.mu.Unlock()
			})
		}
	}()
	return r
}

// finish stops the transactions, then commits one last transaction per transactional id
// with a sentinel record on every partition: its InitProducerId settles whatever an
// earlier client of the id left open, and a read_committed reader that has seen every
// sentinel has seen every transaction before it.
func (w *txnWorkload) finish() {
	t := w.c.t
	t.Helper()
	close(w.stop)
	w.wg.Wait()
	w.rc.close()
	for id := range txnProducerCount {
		var err error
		for attempt := range 3 {
			err = w.commitSentinels(id, attempt)
			if err == nil {
				break
			}
			t.Logf("sentinel transaction of chaos-txn-%d, attempt %d: %v", id, attempt+1, err)
		}
		if err != nil {
			t.Fatalf("the sentinel transaction of chaos-txn-%d did not commit on a healthy cluster: %v", id, err)
		}
	}
}

func (w *txnWorkload) commitSentinels(id, attempt int) error {
	cl := w.c.txnClient(id)
	defer cl.Close()
	if err := cl.BeginTransaction(); err != nil {
		return err
	}
	t := &txn{name: fmt.Sprintf("s%d-%d", id, attempt), commit: true}
	var recs []*kgo.Record
	for p := range int32(w.c.partitions) {
		recs = append(recs, &kgo.Record{Partition: p, Value: []byte(fmt.Sprintf("%s-c-%d", t.name, p))})
	}
	ctx, cancel := context.WithTimeout(context.Background(), txnEndTimeout)
	defer cancel()
	call := w.h.now()
	results := cl.ProduceSync(ctx, recs...)
	ret := w.h.now()
	for _, r := range results {
		t.records = append(t.records, txnRecord{value: string(r.Record.Value), partition: r.Record.Partition, offset: r.Record.Offset, err: r.Err})
		w.h.addProduce(produceResult{value: string(r.Record.Value), partition: r.Record.Partition, offset: r.Record.Offset, err: r.Err, call: call, ret: ret}, txnClientBase+id)
	}
	t.outcome = txnAborted
	if err := results.FirstErr(); err != nil {
		_ = cl.EndTransaction(ctx, kgo.TryAbort)
		w.addTxn(t)
		return err
	}
	t.endErr = cl.EndTransaction(ctx, kgo.TryCommit)
	switch {
	case t.endErr == nil:
		t.outcome = txnCommitted
	case !errors.Is(t.endErr, kerr.OperationNotAttempted):
		t.outcome = txnUnknown
	}
	w.addTxn(t)
	return t.endErr
}

func (w *txnWorkload) addTxn(t *txn) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.txns = append(w.txns, t)
}

// readCommitted reads every partition from its start with isolation read_committed until
// it has seen the last sentinel of every transactional id in each, recording the reads,
// and returns value -> where it was read.
func (w *txnWorkload) readCommitted(sentinels map[int32][]string) map[string][]offsetKey {
	c := w.c
	c.t.Helper()
	offsets := map[int32]kgo.Offset{}
	for p := range int32(c.partitions) {
		offsets[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.bootstrap()...), kgo.Dialer(c.dial),
		kgo.ClientID("chaos-rc-verify"), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		c.t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(c.t.Context(), 2*time.Minute)
	defer cancel()
	missing := map[string]bool{}
	for _, vs := range sentinels {
		for _, v := range vs {
			missing[v] = true
		}
	}
	seen := map[string][]offsetKey{}
	call := w.h.now()
	for len(missing) > 0 {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			c.t.Fatalf("read_committed read-back: %v; sentinels not seen: %v (the last stable offset may be stuck: %s)", ctx.Err(), missing, c.describeEnds())
		}
		ret := w.h.now()
		fetches.EachError(func(_ string, p int32, err error) {
			if !kerr.IsRetriable(err) {
				c.t.Errorf("read_committed read-back of p%d: %v", p, err)
			}
		})
		fetches.EachRecord(func(r *kgo.Record) {
			w.h.addRead(rcFinalClientID, call, ret, r)
			seen[string(r.Value)] = append(seen[string(r.Value)], offsetKey{r.Partition, r.Offset})
			delete(missing, string(r.Value))
		})
	}
	return seen
}

// describeEnds is each partition's high watermark and last stable offset.
func (c *cluster) describeEnds() string {
	ctx, cancel := context.WithTimeout(c.t.Context(), 10*time.Second)
	defer cancel()
	hw, err1 := c.adm().ListEndOffsets(ctx, topic)
	lso, err2 := c.adm().ListCommittedOffsets(ctx, topic)
	if err := errors.Join(err1, err2); err != nil {
		return err.Error()
	}
	var b strings.Builder
	for p := range int32(c.partitions) {
		h, _ := hw.Lookup(topic, p)
		l, _ := lso.Lookup(topic, p)
		fmt.Fprintf(&b, "p%d hw %d lso %d; ", p, h.Offset, l.Offset)
	}
	return b.String()
}

// check is the transactional verdict, on a healthy cluster after the workload: every
// committed transaction's records visible to read_committed exactly once, at their
// acknowledged offsets; no aborted one's, ever (also not to the tailing reader); an
// unknown one's all or none; and every acknowledged non-transactional record visible.
func (w *txnWorkload) check(produced []produceResult) {
	t := w.c.t
	t.Helper()
	w.mu.Lock()
	txns := slices.Clone(w.txns)
	rcSeen := slices.Clone(w.rcSeen)
	errs := w.errs
	w.mu.Unlock()

	// The last sentinel transaction of each id committed (finish made sure).
	sentinels := map[int32][]string{}
	last := map[string]*txn{}
	for _, x := range txns {
		if x.name[0] == 's' && x.outcome == txnCommitted {
			last[x.name[:2]] = x
		}
	}
	for _, x := range last {
		for _, r := range x.records {
			sentinels[r.partition] = append(sentinels[r.partition], r.value)
		}
	}
	seen := w.readCommitted(sentinels)
	tailSeen := map[string]bool{}
	for _, op := range rcSeen {
		tailSeen[op.value] = true
	}

	counts := map[txnOutcome]int{}
	byValue := map[string]*txn{}
	bad := 0
	fail := func(format string, args ...any) {
		bad++
		if bad <= 30 {
			t.Errorf(format, args...)
		}
	}
	for _, x := range txns {
		counts[x.outcome]++
		visible := 0
		for _, r := range x.records {
			byValue[r.value] = x
			at := seen[r.value]
			if len(at) > 0 {
				visible++
			}
			if len(at) > 1 {
				fail("%s (%s): %s visible to read_committed %d times, at %v", x.name, x.outcome, r.value, len(at), at)
			}
			if len(at) == 1 && r.err == nil && at[0] != (offsetKey{r.partition, r.offset}) {
				fail("%s (%s): %s acknowledged at p%d@%d, visible at %v", x.name, x.outcome, r.value, r.partition, r.offset, at)
			}
			if x.outcome == txnAborted && tailSeen[r.value] {
				fail("%s (aborted, %v): the tailing read_committed reader was given %s", x.name, x.endErr, r.value)
			}
		}
		switch x.outcome {
		case txnCommitted:
			if visible != len(x.records) {
				fail("%s committed (EndTransaction answered nil) but only %d of its %d records are visible to read_committed: %+v", x.name, visible, len(x.records), x.records)
			}
		case txnAborted:
			if visible != 0 {
				fail("%s aborted (%v) but %d of its %d records are visible to read_committed: %+v", x.name, x.endErr, visible, len(x.records), x.records)
			}
		case txnUnknown:
			if visible != 0 && visible != len(x.records) {
				fail("%s's commit failed (%v) and %d of its %d records are visible to read_committed: not all or nothing: %+v", x.name, x.endErr, visible, len(x.records), x.records)
			}
			if visible == 0 {
				for _, r := range x.records {
					if tailSeen[r.value] {
						fail("%s's commit failed (%v), none of its records is visible now, yet the tailing read_committed reader was given %s", x.name, x.endErr, r.value)
					}
				}
			}
			t.Logf("%s: commit failed (%v); %d of %d records visible", x.name, x.endErr, visible, len(x.records))
		}
	}
	for v, at := range seen {
		if (v[0] == 't' || v[0] == 's') && byValue[v] == nil {
			fail("read_committed shows %s at %v, from no transaction the producers know", v, at)
		}
	}
	invisible := 0
	for _, r := range produced {
		if r.err == nil && r.value[0] == 'p' && len(seen[r.value]) == 0 {
			invisible++
			if invisible <= 5 {
				fail("acknowledged non-transactional record %s at p%d@%d is not visible to read_committed", r.value, r.partition, r.offset)
			}
		}
	}
	if bad > 30 {
		t.Errorf("... %d transactional failures in all", bad)
	}
	t.Logf("transactions: %d committed, %d aborted, %d unknown; read_committed saw %d values; client errors %v",
		counts[txnCommitted], counts[txnAborted], counts[txnUnknown], len(seen), errs)
}

// txnCoordinator is the broker that coordinates the transactional id, as one of the
// given nodes answers FindCoordinator.
func (c *cluster) txnCoordinator(from *node, id string) (int32, error) {
	ctx, cancel := context.WithTimeout(c.t.Context(), 5*time.Second)
	defer cancel()
	resps := kadm.NewClient(from.admin).FindTxnCoordinators(ctx, id)
	r, ok := resps[id]
	if !ok {
		return -1, fmt.Errorf("no answer for %s", id)
	}
	if r.Err != nil {
		return -1, r.Err
	}
	return r.NodeID, nil
}

// TestTransactions runs transactional producers (small transactions, committed or
// aborted at random) beside the usual idempotent producers and tailing reader, and
// kills with SIGKILL, in turn, the broker that coordinates chaos-txn-0 and the leader of
// a random partition (which may be the same node), waiting each time until leaderships
// and the coordinator have moved, then restarting it; 4 kills, 12 with
// NAGARE_CHAOS_SOAK=1. Then the usual checks (transactional records count as
// acknowledged at their offsets whatever their transaction's fate: an abort does not
// remove them from the log), and the transactional verdict (txnWorkload.check).
func TestTransactions(t *testing.T) {
	needCluster(t)
	rng := newRand(t)
	kills := 4
	if soak() {
		kills = 12
	}
	c := startClusterWith(t, clusterOptions{sets: txnSets})
	run := c.startRun()
	w := c.startTxnWorkload(run.h, rng)
	time.Sleep(time.Second)
	for i := range kills {
		v := c.waitHealthy("every replica back in sync before a kill")
		c.waitTopicInSync("__transaction_state")
		coord, err := c.txnCoordinator(c.nodes[0], "chaos-txn-0")
		if err != nil {
			t.Fatalf("find the coordinator of chaos-txn-0: %v", err)
		}
		var victim *node
		what := ""
		if i%2 == 0 {
			victim, what = c.node(coord), "coordinator of chaos-txn-0"
		} else {
			p := int32(rng.IntN(c.partitions))
			victim, what = c.node(v.parts[p].leader), fmt.Sprintf("leader of p%d", p)
		}
		pause(rng, 200*time.Millisecond, 800*time.Millisecond)
		c.noteAll(fmt.Sprintf("kill %d/%d: SIGKILL node %d, %s (chaos-txn-0's coordinator %d, controller %d)", i+1, kills, victim.id, what, coord, v.controller))
		c.kill(victim)
		if _, err := c.waitView(healTimeout, fmt.Sprintf("every leadership to leave node %d", victim.id), c.others(victim), func(v nodeView) bool {
			return leadsNone(v, victim.id)
		}); err != nil {
			t.Fatal(err)
		}
		survivor := c.others(victim)[0]
		deadline := time.Now().Add(healTimeout)
		for {
			id, err := c.txnCoordinator(survivor, "chaos-txn-0")
			if err == nil && id != victim.id && id >= 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("chaos-txn-0's coordinator did not move off node %d within %s: %d, %v", victim.id, healTimeout, id, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		c.noteAll(fmt.Sprintf("kill %d/%d: leaders and coordinator moved: %s", i+1, kills, c.describe()))
		pause(rng, 300*time.Millisecond, time.Second)
		c.restart(victim)
		c.noteAll(fmt.Sprintf("kill %d/%d: node %d restarted", i+1, kills, victim.id))
	}
	c.waitHealthy("a healthy cluster for the sentinel transactions")
	c.noteAll("faults over; ending the transactions")
	w.finish()
	run.verify(verifyOptions{afterReadBack: func(nodeView) {
		run.h.mu.Lock()
		produced := slices.Clone(run.h.produced)
		run.h.mu.Unlock()
		w.check(produced)
	}})
}

// waitTopicInSync waits until every partition of name has its whole replica set in sync.
func (c *cluster) waitTopicInSync(name string) {
	c.t.Helper()
	deadline := time.Now().Add(healTimeout)
	for {
		ctx, cancel := context.WithTimeout(c.t.Context(), 5*time.Second)
		tds, err := c.adm().ListTopics(ctx, name)
		cancel()
		ok := err == nil && tds[name].Err == nil && len(tds[name].Partitions) > 0
		if ok {
			for _, p := range tds[name].Partitions {
				if p.Leader < 0 || len(p.ISR) != len(p.Replicas) {
					ok = false
				}
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s not in sync within %s: %v %v", name, healTimeout, tds, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
