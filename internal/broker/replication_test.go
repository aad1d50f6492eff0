package broker_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nagare-dev/nagare/internal/brokertest"
	"github.com/nagare-dev/nagare/internal/log"
	"github.com/nagare-dev/nagare/internal/partition"
)

// replicationProps make ISR changes quick enough for tests: a follower leaves the ISR
// after 1 s without catching up, and a stopped fetcher retries every 100 ms.
var replicationProps = map[string]string{
	"replica.lag.time.max.ms":  "1000",
	"replica.fetch.backoff.ms": "100",
}

// TestReplicationRF3 runs three brokers with a topic at replication factor 3 and
// min.insync.replicas=2: an idempotent acks=all producer writes 2,000 records, every
// replica ends with the same batches (base offset, CRC, leader epoch) at the same
// offsets, and a consumer reads them all. A stopped follower leaves the ISR (its
// controlled shutdown removes it at once; a crashed one would go after
// replica.lag.time.max.ms, which TestHighWatermarkFollowsISR checks in the partition
// package) while acks=all produces still succeed on the other two; once restarted it
// catches up and rejoins through the leader's ISR keeper.
func TestReplicationRF3(t *testing.T) {
	brokers := brokertest.StartCluster(t, 3, brokertest.WithProperties(replicationProps))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const topic = "replicated"
	createReplicated(ctx, t, brokers, topic)

	producer := clusterClient(t, brokers, kgo.DefaultProduceTopic(topic))
	produceN(ctx, t, producer, "a", 2000)
	waitReplicasEqual(t, brokers, topic, 3)
	consumer := clusterClient(t, brokers, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	consumeAll(ctx, t, consumer, 2000)

	leader := leaderIndex(t, brokers, topic)
	follower := brokers[(leader+1)%3]
	follower.Stop()
	start := time.Now()
	produceN(ctx, t, producer, "b", 200) // acks=all: answered once the ISR without it has the data
	part, _ := brokers[leader].Partitions().Get(topic, 0)
	if isr := part.ISR(); len(isr) != 2 {
		t.Fatalf("ISR after a follower stopped: %v, want 2 members", isr)
	}
	t.Logf("acks=all produce with a stopped follower took %v; ISR %v", time.Since(start), part.ISR())

	follower.Restart()
	waitFor(t, 20*time.Second, func() bool { return len(part.ISR()) == 3 },
		func() string { return fmt.Sprintf("the restarted follower to rejoin the ISR %v", part.ISR()) })
	produceN(ctx, t, producer, "c", 100)
	waitReplicasEqual(t, brokers, topic, 3)
}

// TestReplicationTruncatesDivergentTail gives a stopped follower batches the leader
// never had, past the leader's log end, before it fetches again: the leader answers its
// fetch with a DivergingEpoch (KIP-320) and the follower cuts its log back to the
// leader's before copying on.
func TestReplicationTruncatesDivergentTail(t *testing.T) {
	brokers := brokertest.StartCluster(t, 3, brokertest.WithProperties(replicationProps))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const topic = "diverging"
	createReplicated(ctx, t, brokers, topic)
	producer := clusterClient(t, brokers, kgo.DefaultProduceTopic(topic))
	produceN(ctx, t, producer, "a", 300)
	waitReplicasEqual(t, brokers, topic, 3)

	leader := leaderIndex(t, brokers, topic)
	follower := brokers[(leader+1)%3]
	lp, _ := brokers[leader].Partitions().Get(topic, 0)
	epoch, leaderEnd := lp.LeaderEpoch(), lp.Log().LogEndOffset()
	follower.Stop()

	// Write a tail the leader never had straight into the stopped follower's log.
	logs, err := log.OpenManager(log.ManagerConfig{Dir: follower.DataDir()})
	if err != nil {
		t.Fatal(err)
	}
	l, ok := logs.Get(log.TopicPartition{Topic: topic, Partition: 0})
	if !ok {
		t.Fatal("follower has no log for the partition")
	}
	for i := range 5 {
		if _, err := l.Append(rawBatch(int64(i)), log.AppendOptions{LeaderEpoch: epoch}); err != nil {
			t.Fatal(err)
		}
	}
	if got := l.LogEndOffset(); got != leaderEnd+5 {
		t.Fatalf("follower log end %d, want %d", got, leaderEnd+5)
	}
	if err := logs.Close(); err != nil {
		t.Fatal(err)
	}

	follower.Restart()
	waitReplicasEqual(t, brokers, topic, 3)
	// Equal up to the high watermark is not yet truncated: a restarted follower's HW comes
	// from its checkpoint before its first fetch, so wait for the log ends to meet.
	fp, _ := follower.Partitions().Get(topic, 0)
	waitFor(t, 20*time.Second, func() bool { return fp.Log().LogEndOffset() == lp.Log().LogEndOffset() },
		func() string {
			return fmt.Sprintf("the follower's log end %d to meet the leader's %d", fp.Log().LogEndOffset(), lp.Log().LogEndOffset())
		})
	produceN(ctx, t, producer, "b", 100)
	waitReplicasEqual(t, brokers, topic, 3)
}

func createReplicated(ctx context.Context, t *testing.T, brokers []*brokertest.Broker, topic string) {
	t.Helper()
	minISR := "2"
	created, err := brokers[0].Admin().CreateTopic(ctx, 1, 3, map[string]*string{"min.insync.replicas": &minISR}, topic)
	if err == nil {
		err = created.Err
	}
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	partitionLeaders(ctx, t, brokers[0].Admin(), topic, 1)
}

// clusterClient is a client seeded with every broker, so it survives one stopping.
func clusterClient(t *testing.T, brokers []*brokertest.Broker, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	var seeds []string
	for _, b := range brokers {
		seeds = append(seeds, b.Addr())
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func produceN(ctx context.Context, t *testing.T, cl *kgo.Client, prefix string, n int) {
	t.Helper()
	for i := range n {
		cl.Produce(ctx, &kgo.Record{Key: []byte(fmt.Sprintf("%s-%d", prefix, i)), Value: []byte("value")}, func(r *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce %s: %v", r.Key, err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// leaderIndex is the index of the broker leading partition 0 of topic.
// The controller's answer (partitionLeaders) can come before the leader itself has
// applied the image that makes it leader, so it waits a little for one to lead.
func leaderIndex(t *testing.T, brokers []*brokertest.Broker, topic string) int {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for i, b := range brokers {
			if b.Broker == nil {
				continue
			}
			if p, ok := b.Partitions().Get(topic, 0); ok && p.IsLeader() {
				return i
			}
		}
	}
	t.Fatalf("no broker leads %s-0", topic)
	return -1
}

// waitReplicasEqual waits until the running brokers' replicas of partition 0 hold the
// same batches at the same offsets (base offset, CRC and leader epoch compared batch by
// batch) with the same high watermark, and the leader's ISR has isr members.
func waitReplicasEqual(t *testing.T, brokers []*brokertest.Broker, topic string, isr int) {
	t.Helper()
	var why string
	waitFor(t, 20*time.Second, func() bool {
		why = ""
		var want []string
		var wantHW int64
		for i, b := range brokers {
			p, ok := b.Partitions().Get(topic, 0)
			if !ok {
				why = fmt.Sprintf("broker %d has no replica", i+1)
				return false
			}
			sums, err := batchSums(p)
			if err != nil {
				why = err.Error()
				return false
			}
			if i == 0 {
				want, wantHW = sums, p.Log().HighWatermark()
				continue
			}
			if !slices.Equal(sums, want) || p.Log().HighWatermark() != wantHW {
				why = fmt.Sprintf("broker %d: %d batches, hw %d; broker 1: %d batches, hw %d", i+1, len(sums), p.Log().HighWatermark(), len(want), wantHW)
				return false
			}
			if p.IsLeader() && len(p.ISR()) != isr {
				why = fmt.Sprintf("ISR %v", p.ISR())
				return false
			}
		}
		return true
	}, func() string { return "replicas to converge: " + why })
}

// batchSums lists a replica's batches as "base offset/CRC/leader epoch".
func batchSums(p *partition.Partition) ([]string, error) {
	l := p.Log()
	var out []string
	end := l.LogEndOffset()
	for off := l.LogStartOffset(); off < end; {
		raw, _, err := l.ReadBytes(off, log.ReadOptions{MaxBytes: 1 << 20, MinOneBatch: true, MaxOffset: end})
		if err != nil {
			return nil, err
		}
		if len(raw) == 0 {
			break
		}
		for len(raw) >= log.BatchHeaderSize {
			h := log.ParseBatchHeader(raw)
			out = append(out, fmt.Sprintf("%d/%08x/%d", h.BaseOffset, h.CRC, h.LeaderEpoch))
			off = h.LastOffset() + 1
			raw = raw[h.Size():]
		}
	}
	return out, nil
}

// rawBatch is a one-record v2 batch with timestamp ts (offsets and epoch set on append).
func rawBatch(ts int64) []byte {
	rec := []byte{0, 0, 0, 1, 0, 0}
	body := append(binary.AppendVarint(nil, int64(len(rec))), rec...)
	b := make([]byte, 61, 61+len(body))
	binary.BigEndian.PutUint32(b[8:], uint32(49+len(body)))
	b[16] = 2
	binary.BigEndian.PutUint64(b[27:], uint64(ts))
	binary.BigEndian.PutUint64(b[35:], uint64(ts))
	// No producer: id, epoch and sequence -1 (zeros would be producer 0's sequence 0,
	// which idempotence de-duplicates).
	binary.BigEndian.PutUint64(b[43:], ^uint64(0))
	binary.BigEndian.PutUint16(b[51:], 0xffff)
	binary.BigEndian.PutUint32(b[53:], 0xffffffff)
	binary.BigEndian.PutUint32(b[57:], 1)
	b = append(b, body...)
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}
