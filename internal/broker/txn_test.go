package broker_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// txnProps keep the internal topics small so tests start quickly.
var txnProps = map[string]string{
	"transaction.state.log.num.partitions":                        "3",
	"offsets.topic.num.partitions":                                "3",
	"group.initial.rebalance.delay.ms":                            "0",
	"group.min.session.timeout.ms":                                "500",
	"transaction.abort.timed.out.transaction.cleanup.interval.ms": "200",
}

func createTxnTopic(t *testing.T, b *brokertest.Broker, name string, partitions int32, rf int16) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := b.Admin().CreateTopic(ctx, partitions, rf, nil, name)
	if err != nil || resp.Err != nil {
		t.Fatalf("create %s: %v %v", name, err, resp.Err)
	}
}

// readCommitted returns every committed record value of topic, reading until idle.
func readCommitted(t *testing.T, b *brokertest.Broker, topic string, want int) []string {
	t.Helper()
	cl := b.Client(kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	defer cl.Close()
	var out []string
	deadline := time.Now().Add(10 * time.Second)
	idle := 0
	for time.Now().Before(deadline) && (len(out) < want || idle < 3) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) { out = append(out, string(r.Value)); n++ })
		if n == 0 {
			idle++
		} else {
			idle = 0
		}
	}
	return out
}

func TestTransactionCommitAndAbort(t *testing.T) {
	b := brokertest.Start(t, brokertest.WithProperties(txnProps))
	createTxnTopic(t, b, "tx", 2, 1)
	p := b.Client(kgo.TransactionalID("tx-producer"), kgo.DefaultProduceTopic("tx"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i, commit := range []bool{true, false, true} {
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for j := range 10 {
			if err := p.ProduceSync(ctx, kgo.StringRecord(fmt.Sprintf("%d-%d", i, j))).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatalf("end transaction %d: %v", i, err)
		}
	}
	got := readCommitted(t, b, "tx", 20)
	if len(got) != 20 {
		t.Fatalf("read_committed saw %d records, want 20: %v", len(got), got)
	}
	for _, v := range got {
		if v[0] == '1' {
			t.Fatalf("aborted record %s visible", v)
		}
	}
	desc := describeTxn(t, p, "tx-producer")
	if desc.State != "CompleteCommit" {
		t.Fatalf("state %s, want CompleteCommit", desc.State)
	}
}

func describeTxn(t *testing.T, cl *kgo.Client, id string) kmsg.DescribeTransactionsResponseTransactionState {
	t.Helper()
	req := kmsg.NewPtrDescribeTransactionsRequest()
	req.TransactionalIDs = []string{id}
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil || len(resp.TransactionStates) != 1 {
		t.Fatalf("describe transactions: %v", err)
	}
	st := resp.TransactionStates[0]
	if err := kerr.ErrorForCode(st.ErrorCode); err != nil {
		t.Fatalf("describe transactions: %v", err)
	}
	return st
}

func TestTransactionFencing(t *testing.T) {
	b := brokertest.Start(t, brokertest.WithProperties(txnProps))
	createTxnTopic(t, b, "fence", 1, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	old := b.Client(kgo.TransactionalID("fenced"), kgo.DefaultProduceTopic("fence"))
	if err := old.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := old.ProduceSync(ctx, kgo.StringRecord("old")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// A second producer with the same id aborts the first one's transaction and fences it.
	young := b.Client(kgo.TransactionalID("fenced"), kgo.DefaultProduceTopic("fence"))
	if err := young.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := young.ProduceSync(ctx, kgo.StringRecord("young")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := young.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	err := old.EndTransaction(ctx, kgo.TryCommit)
	if !errors.Is(err, kerr.ProducerFenced) && !errors.Is(err, kerr.InvalidProducerEpoch) {
		t.Fatalf("fenced producer's commit: %v, want PRODUCER_FENCED", err)
	}
	if got := readCommitted(t, b, "fence", 1); len(got) != 1 || got[0] != "young" {
		t.Fatalf("read_committed: %v, want [young]", got)
	}
}

func TestTransactionTimeoutAborts(t *testing.T) {
	b := brokertest.Start(t, brokertest.WithProperties(txnProps))
	createTxnTopic(t, b, "slow", 1, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p := b.Client(kgo.TransactionalID("slow"), kgo.DefaultProduceTopic("slow"), kgo.TransactionTimeout(time.Second))
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, kgo.StringRecord("late")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for describeTxn(t, p, "slow").State != "CompleteAbort" {
		if time.Now().After(deadline) {
			t.Fatal("the timed-out transaction was not aborted")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := p.EndTransaction(ctx, kgo.TryCommit); err == nil {
		t.Fatal("committing a timed-out transaction succeeded")
	}
	if got := readCommitted(t, b, "slow", 0); len(got) != 0 {
		t.Fatalf("read_committed saw %v after the abort", got)
	}
}

// TestTransactSessionExactlyOnceAcrossRestart runs a consume-transform-produce pipeline
// (GroupTransactSession) and restarts the broker in the middle: every input record
// must appear in the output exactly once.
func TestTransactSessionExactlyOnceAcrossRestart(t *testing.T) {
	b := brokertest.Start(t, brokertest.WithProperties(txnProps))
	createTxnTopic(t, b, "in", 2, 1)
	createTxnTopic(t, b, "out", 2, 1)
	const total = 600
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	src := b.Client(kgo.DefaultProduceTopic("in"))
	for i := range total { // one batch each, so a poll returns a few records, not all
		if err := src.ProduceSync(ctx, kgo.StringRecord(strconv.Itoa(i))).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	src.Close()
	done := 0
	// The first run stops with a transaction open (records produced, offsets not yet
	// committed) and the broker restarts under it: the next run's InitProducerId must
	// abort that transaction before the pipeline goes on.
	done += runPipeline(t, ctx, b, total, total/2, b.Restart)
	done += runPipeline(t, ctx, b, total-done, total, nil)
	got := readCommitted(t, b, "out", total)
	seen := map[string]int{}
	for _, v := range got {
		seen[v]++
	}
	for i := range total {
		if n := seen[strconv.Itoa(i)]; n != 1 {
			t.Errorf("input %d appears %d times in the output", i, n)
		}
	}
	if len(got) != total {
		t.Fatalf("output has %d records, want %d", len(got), total)
	}
}

// runPipeline processes up to limit records (at least stop, if there are) in
// transactions of one poll each and returns how many it committed.
func runPipeline(t *testing.T, ctx context.Context, b *brokertest.Broker, remaining, stop int, crash func()) int {
	t.Helper()
	sess, err := kgo.NewGroupTransactSession(kgo.SeedBrokers(b.Addr()), kgo.TransactionalID("pipeline"),
		kgo.ConsumerGroup("pipeline-group"), kgo.ConsumeTopics("in"), kgo.DefaultProduceTopic("out"),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxPartitionBytes(2048),
		// The member of the run before the restart is gone: its session ends soon.
		kgo.SessionTimeout(time.Second), kgo.HeartbeatInterval(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	committed := 0
	for committed < min(remaining, stop) {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		fs := sess.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			t.Fatalf("pipeline stuck after %d records", committed)
		}
		if err := sess.Begin(); err != nil {
			t.Fatal(err)
		}
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			n++
			sess.Produce(ctx, kgo.StringRecord(string(r.Value)), func(_ *kgo.Record, err error) {
				if err != nil {
					t.Errorf("produce: %v", err)
				}
			})
		})
		ok, err := sess.End(ctx, kgo.TryCommit)
		if err != nil {
			t.Fatalf("end: %v", err)
		}
		if ok {
			committed += n
		}
	}
	if crash != nil {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		fs := sess.PollFetches(pctx)
		cancel()
		if err := sess.Begin(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) { sess.Produce(ctx, kgo.StringRecord(string(r.Value)), nil) })
		if err := sess.Client().Flush(ctx); err != nil {
			t.Fatal(err)
		}
		crash()
	}
	return committed
}

// TestTransactionCoordinatorFailover kills the coordinator's broker in the middle of a
// transaction: a follower of its __transaction_state partition takes over, loads the
// ongoing transaction, and the producer commits it there.
func TestTransactionCoordinatorFailover(t *testing.T) {
	props := map[string]string{"broker.session.timeout.ms": "1500", "broker.heartbeat.interval.ms": "200"}
	for k, v := range txnProps {
		props[k] = v
	}
	brokers := brokertest.StartCluster(t, 3, brokertest.WithProperties(props))
	createTxnTopic(t, brokers[0], "ha", 3, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var seeds []string
	for _, b := range brokers {
		seeds = append(seeds, b.Addr())
	}
	p, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.TransactionalID("ha-producer"), kgo.DefaultProduceTopic("ha"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := p.ProduceSync(ctx, kgo.StringRecord(fmt.Sprintf("a%d", i))).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorKey, req.CoordinatorType = "ha-producer", 1
	resp, err := req.RequestWith(ctx, p)
	if err != nil || resp.ErrorCode != 0 {
		t.Fatalf("find coordinator: %v %v", err, kerr.ErrorForCode(resp.ErrorCode))
	}
	brokers[resp.NodeID-1].Kill()
	for i := range 10 {
		if err := p.ProduceSync(ctx, kgo.StringRecord(fmt.Sprintf("b%d", i))).FirstErr(); err != nil {
			t.Fatalf("produce after the kill: %v", err)
		}
	}
	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("commit on the new coordinator: %v", err)
	}
	live := brokers[resp.NodeID%3]
	if got := readCommitted(t, live, "ha", 20); len(got) != 20 {
		t.Fatalf("read_committed saw %d records, want 20", len(got))
	}
}

// TestRequireStableOffsetFetch: offsets a transaction has staged make OffsetFetch with
// require_stable answer UNSTABLE_OFFSET_COMMIT until the transaction commits (KIP-447).
func TestRequireStableOffsetFetch(t *testing.T) {
	b := brokertest.Start(t, brokertest.WithProperties(txnProps))
	createTxnTopic(t, b, "in", 1, 1)
	createTxnTopic(t, b, "out", 1, 1)
	p := b.Client(kgo.TransactionalID("stable-producer"), kgo.DefaultProduceTopic("out"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, kgo.StringRecord("v")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	id, epoch, err := p.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	add := kmsg.NewPtrAddOffsetsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch, add.Group = "stable-producer", id, epoch, "stable-group"
	if resp, err := add.RequestWith(ctx, p); err != nil || resp.ErrorCode != 0 {
		t.Fatalf("add offsets to txn: %v %v", err, kerr.ErrorForCode(resp.ErrorCode))
	}
	commit := kmsg.NewPtrTxnOffsetCommitRequest()
	commit.TransactionalID, commit.Group, commit.ProducerID, commit.ProducerEpoch = "stable-producer", "stable-group", id, epoch
	commit.Generation, commit.MemberID = -1, ""
	ct := kmsg.NewTxnOffsetCommitRequestTopic()
	ct.Topic = "in"
	cp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	cp.Partition, cp.Offset = 0, 42
	ct.Partitions = append(ct.Partitions, cp)
	commit.Topics = append(commit.Topics, ct)
	if resp, err := commit.RequestWith(ctx, p); err != nil || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("txn offset commit: %v %+v", err, resp)
	}
	fetch := func(requireStable bool) kmsg.OffsetFetchResponseTopicPartition {
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Version, req.Group, req.RequireStable = 7, "stable-group", requireStable
		rt := kmsg.NewOffsetFetchRequestTopic()
		rt.Topic, rt.Partitions = "in", []int32{0}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, p)
		if err != nil || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			t.Fatalf("offset fetch: %v %+v", err, resp)
		}
		return resp.Topics[0].Partitions[0]
	}
	if got := fetch(true); got.ErrorCode != kerr.UnstableOffsetCommit.Code || got.Offset != -1 {
		t.Fatalf("require_stable during the transaction: %v offset %d, want UNSTABLE_OFFSET_COMMIT", kerr.ErrorForCode(got.ErrorCode), got.Offset)
	}
	if got := fetch(false); got.ErrorCode != 0 || got.Offset != -1 {
		t.Fatalf("without require_stable during the transaction: %v offset %d, want no error and -1", kerr.ErrorForCode(got.ErrorCode), got.Offset)
	}
	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for got := fetch(true); got.ErrorCode != 0 || got.Offset != 42; got = fetch(true) {
		if time.Now().After(deadline) {
			t.Fatalf("after commit: %v offset %d, want 42", kerr.ErrorForCode(got.ErrorCode), got.Offset)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
