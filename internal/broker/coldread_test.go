package broker_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/brokertest"
	"github.com/nagare-dev/nagare/internal/readpath"
)

// startColdBroker starts a broker with small segments and warm-up on or off.
func startColdBroker(t *testing.T, warmup bool) *brokertest.Broker {
	return brokertest.Start(t, brokertest.WithProperties(map[string]string{
		"nagare.readpath.warmup.enable":  strconv.FormatBool(warmup),
		"nagare.readpath.warmup.threads": "4",
		"log.segment.bytes":              strconv.Itoa(1 << 20),
	}))
}

// evictTopic drops every segment file of topic from the page cache, skipping the test
// where that is impossible (tmpfs, other systems).
func evictTopic(t *testing.T, b *brokertest.Broker, topic string) {
	t.Helper()
	logs, err := filepath.Glob(filepath.Join(b.DataDir(), topic+"-*", "*.log"))
	if err != nil || len(logs) == 0 {
		t.Fatalf("segments of %s: %v (%d found)", topic, err, len(logs))
	}
	for _, path := range logs {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		err = readpath.Evict(f)
		f.Close()
		if err != nil {
			t.Skipf("cannot evict: %v", err)
		}
	}
}

// produceNumbered writes n records of size bytes round-robin over partitions, without
// compression so the segments hold all those bytes; each value starts with its 8-byte
// sequence number, the rest a pattern derived from it.
func produceNumbered(t *testing.T, b *brokertest.Broker, topic string, partitions int32, n, size int) {
	t.Helper()
	prod := b.Client(kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchMaxBytes(256<<10), kgo.ProducerBatchCompression(kgo.NoCompression()))
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Partition: int32(i) % partitions, Value: numberedValue(i, size)})
	}
	if err := prod.ProduceSync(testContext(t), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

func numberedValue(i, size int) []byte {
	v := bytes.Repeat([]byte{byte(i), byte(i >> 8), byte(i * 7)}, size/3+1)[:size]
	binary.BigEndian.PutUint64(v, uint64(i))
	return v
}

// checkNumbered checks that records hold each sequence number once with its exact value.
func checkNumbered(t *testing.T, recs []*kgo.Record, n, size int) {
	t.Helper()
	seen := make([]bool, n)
	for _, r := range recs {
		i := int(binary.BigEndian.Uint64(r.Value))
		if i >= n || seen[i] {
			t.Fatalf("record %d unexpected or repeated", i)
		}
		if !bytes.Equal(r.Value, numberedValue(i, size)) {
			t.Fatalf("record %d: value differs", i)
		}
		seen[i] = true
	}
}

// A consumer reading an evicted topic gets every record intact, with warm-up on (the
// cold ranges go through the pool) and off (straight to sendfile).
func TestColdReadFetchCorrectness(t *testing.T) {
	const topic, partitions, n, size = "cold", 3, 3000, 1500
	for _, warmup := range []bool{true, false} {
		t.Run("warmup="+strconv.FormatBool(warmup), func(t *testing.T) {
			b := startColdBroker(t, warmup)
			createTopic(t, b.Admin(), topic, partitions, nil)
			produceNumbered(t, b, topic, partitions, n, size)
			evictTopic(t, b, topic)
			checkNumbered(t, consumeN(t, b, topic, n), n, size)

			rp := b.ReadPath()
			st := rp.Stats()
			if rp.Enabled() != warmup {
				t.Fatalf("warm-up enabled = %t, want %t", rp.Enabled(), warmup)
			}
			if !warmup {
				if st.Jobs != 0 || st.ColdChecks != 0 || st.ResidentChecks != 0 {
					t.Fatalf("warm-up off but the read path worked: %+v", st)
				}
				return
			}
			if rp.Method() == readpath.MethodNone {
				t.Skip("no residency method on this system")
			}
			if st.ColdChecks == 0 || st.Jobs == 0 || st.Bytes == 0 || st.LoadErrors != 0 {
				t.Fatalf("cold topic read without warm-up: %+v", st)
			}
			if sf := rp.SendFileLatency(); sf == nil || sf.Snapshot() == ([readpath.HistogramBuckets]uint64{}) {
				t.Fatal("sendfile histogram not exported or empty")
			}
		})
	}
}

// fetchRaw sends one fetch for the given partitions at their offsets, in partition order.
func fetchRaw(t *testing.T, cl *kgo.Client, topicID [16]byte, offsets map[int32]int64, maxWait int32, partMax int32) *kmsg.FetchResponse {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = -1, maxWait, 1, 50<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.TopicID = topicID
	for _, p := range slices.Sorted(maps.Keys(offsets)) {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p, offsets[p], partMax
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testContext(t), cl)
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	return resp
}

func topicID(t *testing.T, b *brokertest.Broker, topic string) [16]byte {
	t.Helper()
	td, err := b.Admin().ListTopics(testContext(t), topic)
	if err != nil || td[topic].Err != nil {
		t.Fatalf("list %s: %v %v", topic, err, td[topic].Err)
	}
	return td[topic].ID
}

// A fetch with max_wait_ms 0 over cold partitions still returns records (its first cold
// range is loaded rather than answering empty), and whatever each partition returns is
// whole, valid batches from the fetch offset.
func TestColdFetchMaxWaitZeroProgresses(t *testing.T) {
	const topic, partitions, n, size = "cold0", 2, 400, 2000
	b := startColdBroker(t, true)
	createTopic(t, b.Admin(), topic, partitions, nil)
	produceNumbered(t, b, topic, partitions, n, size)
	id := topicID(t, b, topic)
	cl := b.Client()
	for round := range 3 {
		evictTopic(t, b, topic)
		resp := fetchRaw(t, cl, id, map[int32]int64{0: 0, 1: 0}, 0, 1<<20)
		total := 0
		for _, p := range resp.Topics[0].Partitions {
			if p.ErrorCode != 0 {
				t.Fatalf("round %d partition %d: error %d", round, p.Partition, p.ErrorCode)
			}
			batches, err := countBatches(p.RecordBatches)
			if err != nil {
				t.Fatalf("round %d partition %d: %v", round, p.Partition, err)
			}
			total += batches
		}
		if total == 0 {
			t.Fatalf("round %d: fetch of cold partitions with max_wait_ms 0 returned nothing", round)
		}
	}
}

// countBatches checks raw fetch bytes are whole record batches starting at offset 0 of
// their partition's sequence, and counts them.
func countBatches(raw []byte) (int, error) {
	count, next := 0, int64(0)
	for len(raw) > 0 {
		var batch kmsg.RecordBatch
		if len(raw) < 12 {
			return 0, fmt.Errorf("%d trailing bytes, not a batch", len(raw))
		}
		size := 12 + int(binary.BigEndian.Uint32(raw[8:12]))
		if size > len(raw) {
			return 0, fmt.Errorf("partial batch: %d of %d bytes", len(raw), size)
		}
		if err := batch.ReadFrom(raw[:size]); err != nil {
			return 0, err
		}
		if batch.FirstOffset != next {
			return 0, fmt.Errorf("batch at offset %d, want %d", batch.FirstOffset, next)
		}
		next = batch.FirstOffset + int64(batch.LastOffsetDelta) + 1
		raw = raw[size:]
		count++
	}
	return count, nil
}

// 64 fetches of cold ranges at once, over 16 connections: the OS threads blocked on the
// disk are bounded by the warm-up pool, not by the number of fetches.
func TestColdFetchesBoundOSThreads(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	const topic, partitions, n, size, clients, perClient = "cold64", 4, 4096, 1000, 16, 4
	b := startColdBroker(t, true)
	createTopic(t, b.Admin(), topic, partitions, nil)
	produceNumbered(t, b, topic, partitions, n, size)
	id := topicID(t, b, topic)
	var cls []*kgo.Client
	for range clients {
		cl := b.Client()
		if err := cl.Ping(testContext(t)); err != nil {
			t.Fatal(err)
		}
		cls = append(cls, cl)
	}
	evictTopic(t, b, topic)
	runtime.GC()
	base := osThreads()
	stop, peak := make(chan struct{}), make(chan int)
	go func() {
		most := base
		for {
			select {
			case <-stop:
				peak <- max(most, osThreads())
				return
			case <-time.After(time.Millisecond):
				most = max(most, osThreads())
			}
		}
	}()
	var wg sync.WaitGroup
	for i, cl := range cls {
		for k := range perClient {
			wg.Go(func() {
				// Each fetch reads its own 16 KiB stretch of one partition.
				f := i*perClient + k
				p := int32(f % partitions)
				resp := fetchRaw(t, cl, id, map[int32]int64{p: int64(f / partitions * 16)}, 5000, 16<<10)
				for _, rp := range resp.Topics[0].Partitions {
					if rp.ErrorCode != 0 {
						t.Errorf("fetch %d partition %d: error %d", f, rp.Partition, rp.ErrorCode)
					}
				}
			})
		}
	}
	wg.Wait()
	close(stop)
	most := <-peak
	workers := b.ReadPath().Workers()
	t.Logf("OS threads: baseline %d, peak %d under %d cold fetches (%d warm-up workers)", base, most, clients*perClient, workers)
	if limit := base + workers + runtime.GOMAXPROCS(0) + 8; most > limit {
		t.Fatalf("%d OS threads at peak (baseline %d, limit %d)", most, base, limit)
	}
	if b.ReadPath().Stats().ColdChecks == 0 {
		t.Fatal("no cold range seen: the test did not exercise warm-up")
	}
}

func osThreads() int {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

// A fetch in the middle of an evicted segment has the pages its read will touch loaded
// before reading them: the warm-up job covers the partition's window (from the offset
// index entry below the fetch offset to past the range's end, where the read scans batch
// headers), not just the range sent, and that range is then not checked again. Before,
// the read's header scans were synchronous disk reads on the connection's reader and
// only the range was warmed (the job's bytes were the range's).
func TestColdFetchWarmsWindowBeforeRead(t *testing.T) {
	const topic, n, size, partMax = "window", 3000, 1500, 256 << 10
	b := startColdBroker(t, true)
	if b.ReadPath().Method() == readpath.MethodNone {
		t.Skip("no residency method on this system")
	}
	createTopic(t, b.Admin(), topic, 1, nil)
	produceNumbered(t, b, topic, 1, n, size)
	evictTopic(t, b, topic)
	before := b.ReadPath().Stats()
	resp := fetchRaw(t, b.Client(), topicID(t, b, topic), map[int32]int64{0: 300}, 5000, partMax)
	after := b.ReadPath().Stats()
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 || len(p.RecordBatches) == 0 {
		t.Fatalf("fetch: error %d, %d bytes", p.ErrorCode, len(p.RecordBatches))
	}
	sent := int64(len(p.RecordBatches))
	checks, jobs, loaded := after.ColdChecks+after.ResidentChecks-before.ColdChecks-before.ResidentChecks, after.Jobs-before.Jobs, after.Bytes-before.Bytes
	if checks != 1 || jobs != 1 {
		t.Fatalf("%d residency checks and %d warm-up jobs for one cold partition, want 1 and 1", checks, jobs)
	}
	if loaded < sent+4096 {
		t.Fatalf("warm-up loaded %d bytes for a %d-byte range: not the read's window", loaded, sent)
	}
}
