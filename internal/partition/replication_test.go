package partition

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/nagare-dev/nagare/internal/metadata"
)

// The leader's high watermark is the smallest log end offset over the ISR, moves only
// forward, and follows the log end alone once the ISR is the leader alone. A follower
// that stops catching up leaves the ISR after the lag; one that reaches the high
// watermark is proposed back.
func TestHighWatermarkFollowsISR(t *testing.T) {
	f := newFixture(t)
	f.propose(metadata.RegisterBroker{NodeID: 2, Host: "127.0.0.1", Port: 9093})
	f.propose(metadata.RegisterBroker{NodeID: 3, Host: "127.0.0.1", Port: 9094})
	id := metadata.NewTopicID()
	f.propose(metadata.CreateTopic{Name: "r3", TopicID: id, Partitions: []metadata.PartitionAssignment{
		{Partition: 0, Replicas: []int32{1, 2, 3}, Leader: 1, ISR: []int32{1, 2, 3}},
	}})
	p, _ := f.reg.Get("r3", 0)
	now := time.Now()
	for range 3 {
		if _, err := p.Append(batch(now.UnixMilli()), -1, now); err != nil {
			t.Fatal(err)
		}
	}
	hw := func() int64 { return p.Log().HighWatermark() }
	if p.Log().LogEndOffset() != 3 || hw() != 0 {
		t.Fatalf("after 3 appends: log end %d, high watermark %d; want 3, 0", p.Log().LogEndOffset(), hw())
	}
	steps := []struct {
		id     int32
		offset int64
		hw     int64
	}{{2, 2, 0}, {3, 1, 1}, {3, 3, 2}, {2, 3, 3}, {2, 1, 3}} // the last: never backwards
	for _, s := range steps {
		if err := p.FollowerFetched(s.id, s.offset, now); err != nil {
			t.Fatal(err)
		}
		if hw() != s.hw {
			t.Fatalf("after broker %d fetched from %d: high watermark %d, want %d", s.id, s.offset, hw(), s.hw)
		}
	}
	if err := p.FollowerFetched(9, 0, now); !errors.Is(err, ErrNotReplica) {
		t.Fatalf("fetch from a non-replica: %v, want ErrNotReplica", err)
	}
	if err := p.FollowerFetched(2, 3, now); err != nil {
		t.Fatal(err)
	}
	if _, _, _, ok := p.ISRChange(now.Add(time.Hour), time.Second); ok {
		t.Fatal("followers at the log end were dropped from the ISR")
	}

	// New data that nobody fetches: after the lag both followers fall out.
	if _, err := p.Append(batch(now.UnixMilli()), -1, now); err != nil {
		t.Fatal(err)
	}
	isr, leaderEpoch, partitionEpoch, ok := p.ISRChange(now.Add(2*time.Second), time.Second)
	if !ok || !slices.Equal(isr, []int32{1}) {
		t.Fatalf("ISR change after the lag: %v %v, want [1]", isr, ok)
	}
	f.propose(metadata.ChangePartition{TopicID: id, Partition: 0, Leader: 1, LeaderEpoch: leaderEpoch, ISR: isr, PartitionEpoch: partitionEpoch + 1})
	if hw() != 4 || p.InSyncReplicas() != 1 {
		t.Fatalf("alone in the ISR: high watermark %d (want the log end 4), in sync %d", hw(), p.InSyncReplicas())
	}
	if _, err := p.Append(batch(now.UnixMilli()), -1, now); err != nil || hw() != 5 {
		t.Fatalf("append alone in the ISR: %v, high watermark %d, want 5", err, hw())
	}

	// Broker 2 catches up: it is proposed back; broker 3, behind, is not.
	if err := p.FollowerFetched(3, 4, now); err != nil {
		t.Fatal(err)
	}
	if err := p.FollowerFetched(2, 5, now); err != nil {
		t.Fatal(err)
	}
	select {
	case <-f.reg.ISRChecks():
	default:
		t.Fatal("a caught-up follower did not ask for an ISR check")
	}
	isr, _, _, ok = p.ISRChange(now, time.Second)
	if !ok || !slices.Equal(isr, []int32{1, 2}) {
		t.Fatalf("ISR after broker 2 caught up: %v %v, want [1 2]", isr, ok)
	}
}
