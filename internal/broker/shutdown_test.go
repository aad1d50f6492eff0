package broker_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// TestShutdownAnswersParkedLongPolls: a consumer's fetch parked for a long max wait on
// an idle partition does not hold a graceful shutdown for that long: draining answers it
// at once, as if its max wait had passed, and the client gets a whole, empty response
// before the connection closes.
func TestShutdownAnswersParkedLongPolls(t *testing.T) {
	b := brokertest.Start(t)
	if _, err := b.Admin().CreateTopic(testContext(t), 1, 1, nil, "idle"); err != nil {
		t.Fatal(err)
	}
	id := topicID(t, b, "idle")
	cl := b.Client()

	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = -1, 60_000, 1, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.TopicID = id
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	type result struct {
		resp *kmsg.FetchResponse
		err  error
	}
	fetched := make(chan result, 1)
	go func() {
		resp, err := req.RequestWith(context.Background(), cl)
		fetched <- result{resp, err}
	}()
	select {
	case r := <-fetched:
		t.Fatalf("fetch of an idle partition with a 60 s max wait returned at once: %+v, %v", r.resp, r.err)
	case <-time.After(500 * time.Millisecond): // parked
	}

	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if took := time.Since(began); took > 10*time.Second {
		t.Fatalf("shutdown took %v behind a parked fetch", took)
	}
	r := <-fetched
	if r.err != nil {
		t.Fatalf("parked fetch got no response: %v", r.err)
	}
	if len(r.resp.Topics) != 1 || len(r.resp.Topics[0].Partitions) != 1 {
		t.Fatalf("parked fetch answered %+v, want the partition", r.resp)
	}
	if p := r.resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || len(p.RecordBatches) != 0 {
		t.Fatalf("parked fetch answered error %d with %d bytes, want empty", p.ErrorCode, len(p.RecordBatches))
	}
}
