package broker_test

import (
	"context"
	"encoding/binary"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/brokertest"
	"github.com/nagare-dev/nagare/internal/readpath"
)

// startColdShareBroker is startColdBroker (warm-up on) serving share groups.
func startColdShareBroker(t *testing.T) *brokertest.Broker {
	return brokertest.Start(t, brokertest.WithProperties(map[string]string{
		"nagare.readpath.warmup.enable":                    "true",
		"nagare.readpath.warmup.threads":                   "4",
		"log.segment.bytes":                                strconv.Itoa(1 << 20),
		"share.auto.offset.reset":                          "earliest",
		"group.share.heartbeat.interval.ms":                "200",
		"offsets.topic.num.partitions":                     "1",
		"share.coordinator.state.topic.num.partitions":     "1",
		"share.coordinator.state.topic.replication.factor": "1",
		"share.coordinator.state.topic.min.isr":            "1",
	}))
}

// produceSmallBatches writes n numbered records of size bytes to partition 0 in batches
// of ten: batches smaller than a page, so that reading every batch header of a range
// touches every page of it (what a header scan on the request goroutine did).
func produceSmallBatches(t *testing.T, b *brokertest.Broker, topic string, n, size int) {
	t.Helper()
	prod := b.Client(kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(kgo.NoCompression()))
	for i := 0; i < n; i += 10 {
		var recs []*kgo.Record
		for j := i; j < min(i+10, n); j++ {
			recs = append(recs, &kgo.Record{Value: numberedValue(j, size)})
		}
		if err := prod.ProduceSync(testContext(t), recs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
}

// startColdShareTopic starts startColdShareBroker with a one-partition topic holding n
// records of size bytes written by produceSmallBatches, and returns the broker and its
// read path; it skips the test on a system with no residency method.
func startColdShareTopic(t *testing.T, topic string, n, size int) (*brokertest.Broker, *readpath.Pool) {
	t.Helper()
	b := startColdShareBroker(t)
	createTopic(t, b.Admin(), topic, 1, nil)
	produceSmallBatches(t, b, topic, n, size)
	rp := b.ReadPath()
	if rp.Method() == readpath.MethodNone {
		t.Skip("no residency method on this system")
	}
	return b, rp
}

// checkColdWarmed fails unless the read path found a range cold and loaded it with the
// warm-up pool since before: the share fetch's header scan waited for the pool instead
// of reading the disk itself (which would have made the range resident first).
func checkColdWarmed(t *testing.T, rp *readpath.Pool, before readpath.Stats) {
	t.Helper()
	st := rp.Stats()
	if st.ColdChecks <= before.ColdChecks || st.Jobs <= before.Jobs || st.Bytes <= before.Bytes || st.LoadErrors != 0 {
		t.Fatalf("share fetch of an evicted segment did not go through the warm-up pool: before %+v, after %+v", before, st)
	}
}

// Share consumers reading an evicted segment get every record exactly once, and the
// records' batches were loaded by the warm-up pool, not by the request goroutine.
func TestColdShareFetchWarmsBeforeScan(t *testing.T) {
	const topic, n, size = "coldshare", 2000, 100
	b, rp := startColdShareTopic(t, topic, n, size)
	evictTopic(t, b, topic)
	before := rp.Stats()

	ctx, cancel := context.WithTimeout(testContext(t), 45*time.Second)
	defer cancel()
	var mu sync.Mutex
	var got []*kgo.Record
	seen := map[int64]int{}
	var wg sync.WaitGroup
	for range 3 {
		cl := b.Client(kgo.ShareGroup("cold-workers"), kgo.ConsumeTopics(topic), kgo.ShareMaxRecords(50))
		wg.Go(func() {
			for ctx.Err() == nil {
				fs := cl.PollFetches(ctx)
				fs.EachRecord(func(r *kgo.Record) {
					r.Ack(kgo.AckAccept)
					mu.Lock()
					seen[r.Offset]++
					got = append(got, r)
					mu.Unlock()
				})
				mu.Lock()
				done := len(seen) >= n
				mu.Unlock()
				if done {
					cancel()
				}
			}
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != n || len(got) != n {
		t.Fatalf("%d distinct records in %d deliveries, want %d once each", len(seen), len(got), n)
	}
	checkNumbered(t, got, n, size)
	checkColdWarmed(t, rp, before)
}

// A share fetch with max_wait_ms 0 of an evicted segment still acquires records (its
// cold range is loaded rather than answering empty), every acquired offset is in the
// batches sent, and no batch is sent past the last acquired offset.
func TestColdShareFetchMaxWaitZeroProgresses(t *testing.T) {
	p, rp, before := coldShareFetch(t, "coldshare0", 500, "cold-raw", 0, 1<<20)
	checkAcquiredSent(t, p)
	checkColdWarmed(t, rp, before)
}

// coldShareFetch writes n records of 100 bytes to a one-partition topic, joins one
// member of group, evicts the topic and share-fetches until records are acquired; it
// returns the partition's answer, the read path and its stats from before the fetch.
func coldShareFetch(t *testing.T, topic string, n int, group string, maxWait, maxBytes int32) (kmsg.ShareFetchResponseTopicPartition, *readpath.Pool, readpath.Stats) {
	t.Helper()
	b, rp := startColdShareTopic(t, topic, n, 100)
	cl := b.Client()
	member := group + "-member-00000000000000000000"
	if code := shareHeartbeat(t, cl, group, member, 0, topic); code != 0 {
		t.Fatalf("ShareGroupHeartbeat join: error %d", code)
	}
	evictTopic(t, b, topic)
	before := rp.Stats()
	return shareFetchUntilAcquired(t, cl, group, member, topicID(t, b, topic), maxWait, maxBytes), rp, before
}

// shareFetchUntilAcquired sends the member's ShareFetch of partition 0 (at most 100
// records, maxBytes in all and for the partition) until it acquires some, as the share-partition's state loads with the first
// fetches, and returns that partition's answer.
func shareFetchUntilAcquired(t *testing.T, cl *kgo.Client, group, member string, id [16]byte, maxWait, maxBytes int32) kmsg.ShareFetchResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrShareFetchRequest()
	req.GroupID, req.MemberID, req.ShareSessionEpoch = kmsg.StringPtr(group), kmsg.StringPtr(member), 0
	req.MaxWaitMillis, req.MaxBytes, req.MaxRecords = maxWait, maxBytes, 100
	rt := kmsg.NewShareFetchRequestTopic()
	rt.TopicID = id
	rp0 := kmsg.NewShareFetchRequestTopicPartition()
	rp0.PartitionMaxBytes = maxBytes
	rt.Partitions = append(rt.Partitions, rp0)
	req.Topics = append(req.Topics, rt)
	var p kmsg.ShareFetchResponseTopicPartition
	for range 50 {
		resp := direct(t, cl, req).(*kmsg.ShareFetchResponse)
		if resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			t.Fatalf("share fetch: %+v", resp)
		}
		if p = resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || len(p.AcquiredRecords) > 0 {
			break
		}
		req.ShareSessionEpoch++
		time.Sleep(20 * time.Millisecond)
	}
	if p.ErrorCode != 0 || len(p.AcquiredRecords) == 0 {
		t.Fatalf("nothing acquired from the cold partition: error %d, %+v", p.ErrorCode, p.AcquiredRecords)
	}
	return p
}

// A share fetch of an evicted segment has its read's window loaded before the read, as
// Fetch does (TestColdFetchWarmsWindowBeforeRead): the warm-up pool loads from the index
// entry below the start to past max_bytes, where the read scans batch headers,
// and the read then touches no cold page on the request goroutine. Before, the read ran
// first (its header scans synchronous disk reads, on the connection's reader for the
// first pass) and only the range it found was loaded, at most max_bytes.
func TestColdShareFetchWarmsWindowBeforeRead(t *testing.T) {
	const maxBytes = 64 << 10
	p, rp, before := coldShareFetch(t, "coldsharewin", 3000, "cold-win", 5000, maxBytes)
	checkAcquiredSent(t, p)
	checkColdWarmed(t, rp, before)
	if loaded := rp.Stats().Bytes - before.Bytes; loaded < maxBytes+4096 {
		t.Fatalf("warm-up loaded %d bytes for a read of at most %d: the range, not the read's window", loaded, maxBytes)
	}
}

// checkAcquiredSent checks that the partition's batches are whole, start at offset 0,
// hold every acquired offset and end with the batch of the last one.
func checkAcquiredSent(t *testing.T, p kmsg.ShareFetchResponseTopicPartition) {
	t.Helper()
	batches, err := countBatches(p.Records)
	if err != nil || batches == 0 {
		t.Fatalf("records sent: %d batches, %v", batches, err)
	}
	var end int64 // one past the last offset sent
	for raw := p.Records; len(raw) > 0; {
		size := 12 + int(binary.BigEndian.Uint32(raw[8:12]))
		var batch kmsg.RecordBatch
		if err := batch.ReadFrom(raw[:size]); err != nil {
			t.Fatal(err)
		}
		end = batch.FirstOffset + int64(batch.LastOffsetDelta) + 1
		raw = raw[size:]
	}
	last := p.AcquiredRecords[len(p.AcquiredRecords)-1].LastOffset
	if last >= end || last < end-10 {
		t.Fatalf("acquired up to offset %d, batches sent up to %d", last, end-1)
	}
}
