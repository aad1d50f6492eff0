package partition

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nagare-dev/nagare/internal/metadata"
)

// AwaitCommitted ends when the followers' fetches move the high watermark past the
// write, and promptly with ErrNotLeader when the log closes under it (a wait that looked
// again at a closed log would spin until its timeout).
func TestAwaitCommitted(t *testing.T) {
	f := newFixture(t)
	for _, id := range []int32{2, 3} {
		f.propose(metadata.RegisterBroker{NodeID: id, Host: "127.0.0.1", Port: 9092 + id})
	}
	rec := metadata.CreateTopic{Name: "state", TopicID: metadata.NewTopicID(), Partitions: []metadata.PartitionAssignment{
		{Partition: 0, Replicas: []int32{1, 2, 3}, Leader: 1, ISR: []int32{1, 2, 3}}}}
	f.propose(rec)
	p, ok := f.reg.Get("state", 0)
	if !ok {
		t.Fatal("no partition")
	}
	epoch := p.LeaderEpoch()
	for want := int64(0); want < 2; want++ {
		res, err := p.Append(batch(time.Now().UnixMilli()), -1, time.Now())
		if err != nil || res.LastOffset != want {
			t.Fatalf("append: %v (last offset %d, want %d)", err, res.LastOffset, want)
		}
	}
	done := make(chan error, 1)
	go func() { done <- p.AwaitCommitted(context.Background(), epoch, 0, 10*time.Second) }()
	select {
	case err := <-done:
		t.Fatalf("returned %v before any follower fetched", err)
	case <-time.After(50 * time.Millisecond):
	}
	for _, id := range []int32{2, 3} {
		if err := p.FollowerFetched(id, 1, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("after the followers fetched: %v", err)
	}

	go func() { done <- p.AwaitCommitted(context.Background(), epoch, 1, 10*time.Second) }()
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	if err := p.Log().Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrNotLeader) {
			t.Fatalf("after Close: %v, want ErrNotLeader", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatalf("still waiting %v after the log closed", time.Since(start))
	}
}
