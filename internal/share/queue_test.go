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

// TestShareRejectedNeverRedelivered: a franz-go consumer rejects some records and
// releases others; released ones come back (delivery count 2), rejected ones never do,
// not to it and not to a consumer that joins later.
func TestShareRejectedNeverRedelivered(t *testing.T) {
	b := shareBroker(t, nil)
	const n = 30
	produce(t, b, "r", n)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ShareGroup("g"), kgo.ConsumeTopics("r"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]int{}
	accepted := 0
	for accepted < n*2/3 && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			seen[r.Offset]++
			switch {
			case r.Offset%3 == 0:
				r.Ack(kgo.AckReject)
			case r.Offset%3 == 1 && r.DeliveryCount() == 1:
				r.Ack(kgo.AckRelease)
			default:
				r.Ack(kgo.AckAccept)
				accepted++
			}
		})
	}
	if err := cl.FlushAcks(ctx); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	for off, c := range seen {
		want := 1
		if off%3 == 1 {
			want = 2
		}
		if c != want {
			t.Errorf("offset %d delivered %d times, want %d", off, c, want)
		}
	}
	late := b.Client(kgo.ShareGroup("g"), kgo.ConsumeTopics("r"))
	wait, stop := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer stop()
	late.PollFetches(wait).EachRecord(func(r *kgo.Record) {
		t.Errorf("offset %d delivered after it was rejected or accepted", r.Offset)
	})
}

// TestShareConsumersSplitSteadyWork: four franz-go share consumers with default
// settings on one partition while records arrive steadily and each takes a little
// time to process; every consumer gets a fair part of the work, every record is
// delivered, and no record is ever held by two consumers at once: a second delivery only
// comes after the first one's lock expired, with a higher delivery count. (Share groups
// deliver at least once, KIP-932: franz-go drops records and acks it judges stale after a
// share-session reset and leaves them to the lock, and CI has seen that happen here, so
// exactly once is not this test's to check.)
func TestShareConsumersSplitSteadyWork(t *testing.T) {
	// Locks longer than the default 30 s: on a loaded machine (CI under -race) a run once
	// took longer, and records acquired early came back. But not 600 s: in CI (-race, 2
	// cpus) a batch of 5 has stayed acquired by a response no consumer processed, and
	// another accepted batch came back (its acknowledgement dropped); with 45 s either
	// comes back within the test's time. Whether the client saw a session reset there, and
	// why, is an open question for the broker.
	b := shareBroker(t, map[string]string{"group.share.record.lock.duration.ms": "45000"})
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	if _, err := b.Admin().CreateTopic(ctx, 1, 1, nil, "steady"); err != nil {
		t.Fatal(err)
	}
	const consumers, batches, perBatch = 4, 100, 5
	var mu sync.Mutex
	seen := map[int64]int{}
	type delivery struct {
		offset int64
		count  int32
	}
	deliveries := map[delivery]int{}
	byConsumer := make([]int, consumers)
	var wg sync.WaitGroup
	for i := range consumers {
		cl := b.Client(kgo.ShareGroup("workers"), kgo.ConsumeTopics("steady"))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
					time.Sleep(2 * time.Millisecond) // the work
					r.Ack(kgo.AckAccept)
					mu.Lock()
					seen[r.Offset]++
					deliveries[delivery{r.Offset, r.DeliveryCount()}]++
					byConsumer[i]++
					if len(seen) == batches*perBatch {
						cancel()
					}
					mu.Unlock()
				})
			}
		}()
	}
	waitForShareMembers(t, ctx, b, "workers", consumers)
	p := b.Client(kgo.DefaultProduceTopic("steady"))
	for i := range batches {
		var rs []*kgo.Record
		for j := range perBatch {
			rs = append(rs, &kgo.Record{Value: fmt.Appendf(nil, "%d", i*perBatch+j)})
		}
		if err := p.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("records per consumer: %v", byConsumer)
	if len(seen) != batches*perBatch {
		t.Fatalf("saw %d distinct records, want %d", len(seen), batches*perBatch)
	}
	redelivered := 0
	for d, c := range deliveries {
		if c != 1 {
			t.Errorf("offset %d delivered %d times with delivery count %d: held by two consumers at once", d.offset, c, d.count)
		}
		if d.count > 1 {
			redelivered++
		}
	}
	t.Logf("%d records redelivered after their lock expired", redelivered)
	for i, c := range byConsumer {
		if c < batches*perBatch/consumers/4 {
			t.Errorf("consumer %d processed %d of %d records: the work was not shared", i, c, batches*perBatch)
		}
	}
}

// waitForShareMembers waits until group has n members, so work starts with all of them.
func waitForShareMembers(t *testing.T, ctx context.Context, b *brokertest.Broker, group string, n int) {
	t.Helper()
	cl := b.Client()
	for ctx.Err() == nil {
		req := kmsg.NewPtrShareGroupDescribeRequest()
		req.GroupIDs = []string{group}
		resp, err := req.RequestWith(ctx, cl)
		if err == nil && len(resp.Groups) == 1 && len(resp.Groups[0].Members) == n {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("share group %s never had %d members", group, n)
}
