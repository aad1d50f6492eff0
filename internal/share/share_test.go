package share_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

func shareBroker(t *testing.T, extra map[string]string) *brokertest.Broker {
	props := map[string]string{
		"share.auto.offset.reset":                          "earliest",
		"group.share.heartbeat.interval.ms":                "200",
		"offsets.topic.num.partitions":                     "1",
		"share.coordinator.state.topic.num.partitions":     "1",
		"share.coordinator.state.topic.replication.factor": "1",
		"share.coordinator.state.topic.min.isr":            "1",
	}
	for k, v := range extra {
		props[k] = v
	}
	return brokertest.Start(t, brokertest.WithProperties(props))
}

func produce(t *testing.T, b *brokertest.Broker, topic string, n int) {
	t.Helper()
	ctx := context.Background()
	if _, err := b.Admin().CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	cl := b.Client(kgo.DefaultProduceTopic(topic))
	for i := 0; i < n; i += 10 { // batches of 10, so consumers can share the partition
		var rs []*kgo.Record
		for j := i; j < min(i+10, n); j++ {
			rs = append(rs, &kgo.Record{Value: fmt.Appendf(nil, "%d", j)})
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
}

// TestShareGroupDeliversEachRecordOnce: several share consumers on one partition,
// every record acknowledged, each delivered to exactly one of them. The records exist
// before the consumers join, so one may take most of them; that work is shared when it
// arrives steadily is TestShareConsumersSplitSteadyWork's check.
func TestShareGroupDeliversEachRecordOnce(t *testing.T) {
	b := shareBroker(t, nil)
	const n = 300
	produce(t, b, "work", n)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var mu sync.Mutex
	seen := map[int64]int{}
	byConsumer := make([]int, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		cl := b.Client(kgo.ShareGroup("workers"), kgo.ConsumeTopics("work"), kgo.ShareMaxRecords(10))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				fs := cl.PollFetches(ctx)
				fs.EachRecord(func(r *kgo.Record) {
					r.Ack(kgo.AckAccept)
					mu.Lock()
					seen[r.Offset]++
					byConsumer[i]++
					mu.Unlock()
				})
				mu.Lock()
				done := len(seen) >= n
				mu.Unlock()
				if done {
					// Its own deadline: another consumer may have cancelled ctx already.
					fctx, fcancel := context.WithTimeout(context.Background(), 10*time.Second)
					if err := cl.FlushAcks(fctx); err != nil {
						t.Errorf("flush acks: %v", err)
					}
					fcancel()
					cancel() // the others stop polling
					return
				}
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != n {
		t.Fatalf("saw %d distinct records, want %d", len(seen), n)
	}
	for off, c := range seen {
		if c != 1 {
			t.Errorf("offset %d delivered %d times", off, c)
		}
	}
	t.Logf("records per consumer: %v", byConsumer)
}

// joinRaw joins a share group with raw requests and returns the member id.
func joinRaw(t *testing.T, ctx context.Context, cl *kgo.Client, group, topic, member string) {
	t.Helper()
	for range 50 {
		req := kmsg.NewPtrShareGroupHeartbeatRequest()
		req.GroupID, req.MemberID, req.MemberEpoch, req.SubscribedTopicNames = group, member, 0, []string{topic}
		resp, err := req.RequestWith(ctx, cl)
		if err == nil && resp.ErrorCode == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("could not join the share group")
}

// TestShareLockExpiryRedelivers: a member that acquires records and dies without
// acknowledging them loses them when the lock expires; another consumer gets them,
// with delivery count 2.
func TestShareLockExpiryRedelivers(t *testing.T) {
	b := shareBroker(t, map[string]string{"group.share.record.lock.duration.ms": "1000"})
	produce(t, b, "jobs", 10)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	raw := b.Client()
	joinRaw(t, ctx, raw, "g", "jobs", "dying-member-0000000000000000000000")
	lg := kmsg.NewPtrListGroupsRequest()
	lg.TypesFilter = []string{"share"}
	groups, err := lg.RequestWith(ctx, raw)
	if err != nil || len(groups.Groups) != 1 || groups.Groups[0].Group != "g" || groups.Groups[0].GroupType != "share" || groups.Groups[0].GroupState != "Stable" {
		t.Fatalf("ListGroups(type share): %v %+v", err, groups)
	}
	meta, err := b.Admin().ListTopics(ctx, "jobs")
	if err != nil {
		t.Fatal(err)
	}
	id := meta["jobs"].ID
	fetch := kmsg.NewPtrShareFetchRequest()
	fetch.GroupID, fetch.MemberID = kmsg.StringPtr("g"), kmsg.StringPtr("dying-member-0000000000000000000000")
	fetch.MaxWaitMillis, fetch.MaxBytes, fetch.MaxRecords = 500, 1<<20, 100
	fetchPartition0(fetch, id)
	resp, err := fetch.RequestWith(ctx, raw)
	if err != nil || resp.ErrorCode != 0 || len(resp.Topics) != 1 {
		t.Fatalf("share fetch: %v %+v", err, resp)
	}
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 || len(p.AcquiredRecords) != 1 || p.AcquiredRecords[0].FirstOffset != 0 || p.AcquiredRecords[0].LastOffset != 9 {
		t.Fatalf("acquired %+v (error %d)", p.AcquiredRecords, p.ErrorCode)
	}
	// The raw member never acknowledges; a real consumer gets the records later.
	cl := b.Client(kgo.ShareGroup("g"), kgo.ConsumeTopics("jobs"))
	got := map[int64]int32{}
	for len(got) < 10 && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			r.Ack(kgo.AckAccept)
			got[r.Offset] = r.DeliveryCount()
		})
	}
	for off, dc := range got {
		if dc != 2 {
			t.Errorf("offset %d delivery count %d, want 2", off, dc)
		}
	}
}

// TestShareRestartKeepsAcknowledged: records acknowledged before a restart are never
// delivered again; the rest are.
func TestShareRestartKeepsAcknowledged(t *testing.T) {
	b := shareBroker(t, nil)
	produce(t, b, "q", 30)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ShareGroup("g"), kgo.ConsumeTopics("q"), kgo.ShareMaxRecords(10))
	if err != nil {
		t.Fatal(err)
	}
	acked := map[int64]bool{}
	for len(acked) == 0 && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			r.Ack(kgo.AckAccept)
			acked[r.Offset] = true
		})
	}
	if err := cl.FlushAcks(ctx); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	if len(acked) >= 30 {
		t.Fatalf("the first poll acknowledged all %d records; the test needs some left", len(acked))
	}
	b.Restart()
	cl2 := b.Client(kgo.ShareGroup("g"), kgo.ConsumeTopics("q"))
	got := map[int64]bool{}
	for len(got) < 30-len(acked) && ctx.Err() == nil {
		cl2.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			r.Ack(kgo.AckAccept)
			if acked[r.Offset] {
				t.Errorf("offset %d acknowledged before the restart was delivered again", r.Offset)
			}
			got[r.Offset] = true
		})
	}
	if len(got) != 30-len(acked) {
		t.Fatalf("after the restart got %d records, want %d (acknowledged before: %d)", len(got), 30-len(acked), len(acked))
	}
}
