package interop

// KafkaJS's idempotent and transactional producers (InitProducerId, AddPartitionsToTxn,
// AddOffsetsToTxn, TxnOffsetCommit, EndTxn), read back by franz-go: read_committed
// sees only what was committed, and only committed offsets stick.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// kafkajsTxn is what testdata/kafkajs/txn.js prints.
type kafkajsTxn struct {
	Idempotent []kafkajsAck `json:"idempotent"`
	Committed  []kafkajsAck `json:"committed"`
	Aborted    []kafkajsAck `json:"aborted"`
	After      []kafkajsAck `json:"after"`
}

func TestKafkaJSTransactions(t *testing.T) {
	requireKafkaJS(t)
	b := brokertest.Start(t)
	const topic, group, n = "kjs-txn", "kjs-txn-group", 10
	createTopic(t, b, topic, 2)
	var res kafkajsTxn
	runKafkaJS(t, &res, "txn.js", b.Addr(), topic, group, fmt.Sprint(n))
	for name, acks := range map[string][]kafkajsAck{"idempotent": res.Idempotent, "committed": res.Committed,
		"aborted": res.Aborted, "after": res.After} {
		if len(acks) != 2 || acks[0].ErrorCode != 0 || acks[1].ErrorCode != 0 {
			t.Errorf("%s send: %+v, want both partitions without error", name, acks)
		}
	}

	values := func(label string) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("%s-%d", label, i))
		}
		return out
	}
	committed := slices.Concat(values("idem"), values("committed"), values("after"))
	all := slices.Concat(committed, values("aborted"))

	// read_uncommitted sees every data record; the batches say who wrote them.
	pids := map[string]map[int64]bool{}
	uncommitted := consumeAtLevel(t, b, topic, kgo.ReadUncommitted(), len(all))
	sameValues(t, "read_uncommitted", uncommitted, all)
	for _, r := range uncommitted {
		label, _, _ := strings.Cut(string(r.Value), "-")
		txn := r.Attrs.IsTransactional()
		if (label == "idem") == txn {
			t.Errorf("record %s at %d/%d: transactional=%v", r.Value, r.Partition, r.Offset, txn)
		}
		if r.ProducerID < 0 {
			t.Errorf("record %s at %d/%d has no producer id", r.Value, r.Partition, r.Offset)
		}
		kind := map[bool]string{false: "idempotent", true: "transactional"}[txn]
		if pids[kind] == nil {
			pids[kind] = map[int64]bool{}
		}
		pids[kind][r.ProducerID] = true
	}
	if len(pids["idempotent"]) != 1 || len(pids["transactional"]) != 1 {
		t.Errorf("producer ids by kind %v, want one each", pids)
	}
	sameValues(t, "read_committed", consumeAtLevel(t, b, topic, kgo.ReadCommitted(), len(committed)), committed)

	// The offset sent in the committed transactions stuck; the aborted one's did not.
	wantCommitted(t, b, group, topic, map[int32]int64{0: 7})
}

// sameValues checks that records hold exactly want's values, in any order.
func sameValues(t *testing.T, who string, records []*kgo.Record, want []string) {
	t.Helper()
	var got []string
	for _, r := range records {
		got = append(got, string(r.Value))
	}
	slices.Sort(got)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("%s: %d records %q, want %d %q", who, len(got), got, len(want), want)
	}
}

// consumeAtLevel reads topic from the start at the isolation level until it has want
// records and then nothing more for a while.
func consumeAtLevel(t *testing.T, b *brokertest.Broker, topic string, level kgo.IsolationLevel, want int) []*kgo.Record {
	t.Helper()
	cl := b.Client(kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(level),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	defer cl.Close()
	var out []*kgo.Record
	deadline := time.Now().Add(20 * time.Second)
	for idle := 0; time.Now().Before(deadline) && (len(out) < want || idle < 3); {
		ctx, cancel := context.WithTimeout(testContext(t), 300*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		idle++
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r); idle = 0 })
	}
	return out
}
