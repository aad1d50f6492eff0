package broker_test

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// idempotentBatch is rawBatch from producer pid at epoch with sequence seq.
func idempotentBatch(pid int64, epoch int16, seq int32, ts int64) []byte {
	b := rawBatch(ts)
	binary.BigEndian.PutUint64(b[43:], uint64(pid))
	binary.BigEndian.PutUint16(b[51:], uint16(epoch))
	binary.BigEndian.PutUint32(b[53:], uint32(seq))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// directClient talks to one broker only (its seed), with Produce capped below v13 so
// requests name topics, not IDs.
func directClient(t *testing.T, b *brokertest.Broker) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.MaxVersions(kversion.V3_5_0()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func initProducerID(ctx context.Context, t *testing.T, cl *kgo.Client) (int64, int16) {
	t.Helper()
	req := kmsg.NewPtrInitProducerIDRequest()
	resp, err := req.RequestWith(ctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		t.Fatalf("InitProducerId: %v", err)
	}
	return resp.ProducerID, resp.ProducerEpoch
}

// produceBatch sends one hand-built batch to partition 0 of topic on cl's seed broker.
func produceBatch(ctx context.Context, t *testing.T, cl *kgo.Client, topic string, batch []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = append([]byte(nil), batch...)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := cl.SeedBrokers()[0].Request(ctx, req)
	if err != nil {
		t.Fatalf("produce: %v", err)
	}
	return resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
}

// TestResentBatchIsDeduplicated sends the same idempotent produce request twice by hand:
// both get the same base offset and the log holds one copy; the de-duplication survives
// a broker restart (the producer-state snapshot written at shutdown).
func TestResentBatchIsDeduplicated(t *testing.T) {
	b := brokertest.Start(t)
	ctx := testContext(t)
	const topic = "idem"
	createTopic(t, b.Admin(), topic, 1, nil)
	cl := directClient(t, b)
	pid, epoch := initProducerID(ctx, t, cl)
	first := idempotentBatch(pid, epoch, 0, time.Now().UnixMilli())
	for range 2 {
		if rp := produceBatch(ctx, t, cl, topic, first); rp.ErrorCode != 0 || rp.BaseOffset != 0 {
			t.Fatalf("produce seq 0: error %d, base offset %d", rp.ErrorCode, rp.BaseOffset)
		}
	}
	if rp := produceBatch(ctx, t, cl, topic, idempotentBatch(pid, epoch, 5, time.Now().UnixMilli())); rp.ErrorCode != kerr.OutOfOrderSequenceNumber.Code {
		t.Fatalf("sequence gap: error %d", rp.ErrorCode)
	}
	second := idempotentBatch(pid, epoch, 1, time.Now().UnixMilli())
	if rp := produceBatch(ctx, t, cl, topic, second); rp.ErrorCode != 0 || rp.BaseOffset != 1 {
		t.Fatalf("produce seq 1: error %d, base offset %d", rp.ErrorCode, rp.BaseOffset)
	}
	part, _ := b.Partitions().Get(topic, 0)
	if end := part.Log().LogEndOffset(); end != 2 {
		t.Fatalf("log end offset %d, want 2 (one copy of each batch)", end)
	}

	b.Restart()
	cl = directClient(t, b)
	if rp := produceBatch(ctx, t, cl, topic, second); rp.ErrorCode != 0 || rp.BaseOffset != 1 {
		t.Fatalf("retry after restart: error %d, base offset %d", rp.ErrorCode, rp.BaseOffset)
	}
	part, _ = b.Partitions().Get(topic, 0)
	if end := part.Log().LogEndOffset(); end != 2 {
		t.Fatalf("after restart: log end offset %d, want 2", end)
	}
	if rp := produceBatch(ctx, t, cl, topic, idempotentBatch(pid, epoch, 2, time.Now().UnixMilli())); rp.ErrorCode != 0 || rp.BaseOffset != 2 {
		t.Fatalf("next batch after restart: error %d, base offset %d", rp.ErrorCode, rp.BaseOffset)
	}
}

// TestFailoverDoesNotDuplicate writes an idempotent batch to a replicated partition,
// stops its leader and retries the batch at the new leader, as a producer whose ack was
// lost does: the new leader answers with the original offset and appends nothing.
func TestFailoverDoesNotDuplicate(t *testing.T) {
	brokers := brokertest.StartCluster(t, 3, brokertest.WithProperties(replicationProps))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const topic = "idem-failover"
	createReplicated(ctx, t, brokers, topic)
	leader := leaderIndex(t, brokers, topic)
	cl := directClient(t, brokers[leader])
	pid, epoch := initProducerID(ctx, t, cl)
	batch := idempotentBatch(pid, epoch, 0, time.Now().UnixMilli())
	if rp := produceBatch(ctx, t, cl, topic, batch); rp.ErrorCode != 0 {
		t.Fatalf("produce: error %d", rp.ErrorCode)
	}
	waitReplicasEqual(t, brokers, topic, 3)
	brokers[leader].Stop()
	next := -1
	waitFor(t, 20*time.Second, func() bool {
		for i, b := range brokers {
			if i == leader {
				continue
			}
			if p, ok := b.Partitions().Get(topic, 0); ok && p.IsLeader() {
				next = i
				return true
			}
		}
		return false
	}, func() string { return "a new leader" })
	cl = directClient(t, brokers[next])
	var rp kmsg.ProduceResponseTopicPartition
	waitFor(t, 20*time.Second, func() bool {
		rp = produceBatch(ctx, t, cl, topic, batch)
		return rp.ErrorCode != kerr.NotLeaderForPartition.Code && rp.ErrorCode != kerr.NotEnoughReplicas.Code
	}, func() string { return "the new leader to take the retry" })
	if rp.ErrorCode != 0 || rp.BaseOffset != 0 {
		t.Fatalf("retry at the new leader: error %d, base offset %d", rp.ErrorCode, rp.BaseOffset)
	}
	part, _ := brokers[next].Partitions().Get(topic, 0)
	if end := part.Log().LogEndOffset(); end != 1 {
		t.Fatalf("new leader's log end offset %d, want 1", end)
	}
}

// TestTxnMarkersAndReadCommitted opens a transaction on a partition by hand, checks the
// last stable offset holds read_committed readers back (ListOffsets, Fetch) and
// DescribeProducers shows it, then aborts it with WriteTxnMarkers: read_committed
// fetches then get the aborted transaction in their list.
func TestTxnMarkersAndReadCommitted(t *testing.T) {
	b := brokertest.Start(t)
	ctx := testContext(t)
	const topic = "txn-data"
	createTopic(t, b.Admin(), topic, 1, nil)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.MaxVersions(kversion.V2_8_0()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	pid, epoch := initProducerID(ctx, t, cl)
	txnBatch := idempotentBatch(pid, epoch, 0, time.Now().UnixMilli())
	binary.BigEndian.PutUint16(txnBatch[21:], 0x10) // transactional
	binary.BigEndian.PutUint32(txnBatch[17:], crc32.Checksum(txnBatch[21:], crc32.MakeTable(crc32.Castagnoli)))
	if rp := produceBatch(ctx, t, cl, topic, txnBatch); rp.ErrorCode != 0 {
		t.Fatalf("transactional produce: error %d", rp.ErrorCode)
	}
	if rp := produceBatch(ctx, t, cl, topic, rawBatch(time.Now().UnixMilli())); rp.ErrorCode != 0 {
		t.Fatalf("plain produce: error %d", rp.ErrorCode)
	}
	if got := listLatest(ctx, t, cl, topic, 1); got != 0 {
		t.Fatalf("read_committed latest offset %d, want 0 (the open transaction)", got)
	}
	if got := listLatest(ctx, t, cl, topic, 0); got != 2 {
		t.Fatalf("read_uncommitted latest offset %d, want 2", got)
	}
	dp := kmsg.NewPtrDescribeProducersRequest()
	dt := kmsg.NewDescribeProducersRequestTopic()
	dt.Topic, dt.Partitions = topic, []int32{0}
	dp.Topics = append(dp.Topics, dt)
	dresp, err := cl.SeedBrokers()[0].Request(ctx, dp)
	if err != nil {
		t.Fatal(err)
	}
	ps := dresp.(*kmsg.DescribeProducersResponse).Topics[0].Partitions[0]
	if ps.ErrorCode != 0 || len(ps.ActiveProducers) != 1 || ps.ActiveProducers[0].ProducerID != pid || ps.ActiveProducers[0].CurrentTxnStartOffset != 0 {
		t.Fatalf("DescribeProducers: %+v", ps)
	}

	wm := kmsg.NewPtrWriteTxnMarkersRequest()
	m := kmsg.NewWriteTxnMarkersRequestMarker()
	m.ProducerID, m.ProducerEpoch, m.CoordinatorEpoch = pid, epoch, 1
	mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
	mt.Topic, mt.Partitions = topic, []int32{0}
	m.Topics = append(m.Topics, mt)
	wm.Markers = append(wm.Markers, m)
	wresp, err := cl.SeedBrokers()[0].Request(ctx, wm)
	if err != nil {
		t.Fatal(err)
	}
	if code := wresp.(*kmsg.WriteTxnMarkersResponse).Markers[0].Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("WriteTxnMarkers: error %d", code)
	}
	if got := listLatest(ctx, t, cl, topic, 1); got != 3 {
		t.Fatalf("read_committed latest offset %d after the abort, want 3", got)
	}
	fr := fetchPartition0(topic, [16]byte{})
	fr.IsolationLevel = 1
	fresp, err := cl.SeedBrokers()[0].Request(ctx, fr)
	if err != nil {
		t.Fatal(err)
	}
	p := fresp.(*kmsg.FetchResponse).Topics[0].Partitions[0]
	if p.ErrorCode != 0 || p.LastStableOffset != 3 || len(p.AbortedTransactions) != 1 ||
		p.AbortedTransactions[0].ProducerID != pid || p.AbortedTransactions[0].FirstOffset != 0 {
		t.Fatalf("read_committed fetch: error %d, LSO %d, aborted %+v", p.ErrorCode, p.LastStableOffset, p.AbortedTransactions)
	}
}

// listLatest asks ListOffsets for partition 0's latest offset at an isolation level.
func listLatest(ctx context.Context, t *testing.T, cl *kgo.Client, topic string, isolation int8) int64 {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.IsolationLevel = isolation
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := cl.SeedBrokers()[0].Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	p := resp.(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
	if p.ErrorCode != 0 {
		t.Fatalf("ListOffsets: error %d", p.ErrorCode)
	}
	return p.Offset
}
