package group

// A led __consumer_offsets partition on a real replica (internal/partition over
// internal/log): what a commit waits for, and what a broker that takes over loads.

import (
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nagare-dev/nagare/internal/config"
	"github.com/nagare-dev/nagare/internal/coordinator"
	"github.com/nagare-dev/nagare/internal/log"
	"github.com/nagare-dev/nagare/internal/metadata"
	"github.com/nagare-dev/nagare/internal/partition"
)

// replicaFixture is broker 1's partition registry and metadata images of a cluster of
// three brokers with a one-partition __consumer_offsets led by leader, replicas 1 2 3.
type replicaFixture struct {
	*testTopics
	registry *partition.Registry
	topicID  metadata.TopicID
	logger   *slog.Logger
}

func newReplicaFixture(t *testing.T, leader int32) *replicaFixture {
	t.Helper()
	f := &replicaFixture{testTopics: newTestTopics(t, nil), topicID: metadata.NewTopicID(),
		logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	conf, err := config.NewBroker(nil)
	if err != nil {
		t.Fatal(err)
	}
	logs, err := log.OpenManager(log.ManagerConfig{Dir: t.TempDir(), Logger: f.logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logs.Close() })
	f.registry = partition.NewRegistry(1, logs, conf, f.logger)
	f.apply(metadata.RegisterBroker{NodeID: 2, Host: "localhost", Port: 9093})
	f.apply(metadata.RegisterBroker{NodeID: 3, Host: "localhost", Port: 9094})
	f.apply(metadata.CreateTopic{Name: OffsetsTopic, TopicID: f.topicID, Partitions: []metadata.PartitionAssignment{
		{Partition: 0, Replicas: []int32{1, 2, 3}, Leader: leader, ISR: []int32{1, 2, 3}}}})
	f.sync()
	return f
}

func (f *replicaFixture) sync() {
	f.t.Helper()
	if err := f.registry.Sync(f.fsm.Image()); err != nil {
		f.t.Fatal(err)
	}
}

func (f *replicaFixture) replica() *partition.Partition {
	f.t.Helper()
	p, ok := f.registry.Get(OffsetsTopic, 0)
	if !ok {
		f.t.Fatal("broker 1 has no replica of the offsets partition")
	}
	return p
}

// coordinator is broker 1's group coordinator, serving what the last image says.
func (f *replicaFixture) coordinator(settings Settings) *Coordinator {
	c := New(Config{NodeID: 1, Partitions: f.registry, Settings: settings, Logger: f.logger})
	f.t.Cleanup(c.Close)
	c.ApplyMetadata(f.fsm.Image())
	return c
}

// fetchLoaded is FetchOffsets once the partition has loaded.
func fetchLoaded(t *testing.T, c *Coordinator, groupID string) (map[TopicPartition]CommittedOffset, error) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := c.FetchOffsets(groupID, nil)
		if !errors.Is(err, ErrLoadInProgress) {
			return got, err
		}
		if time.Now().After(deadline) {
			t.Fatal("the offsets partition is still loading")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestCommitWaitsForISR: a commit is acknowledged once every replica in the ISR holds
// it (acks=all), not when the leader has written it; else it is lost with the leader.
// A follower that does not fetch makes the commit time out as COORDINATOR_NOT_AVAILABLE.
func TestCommitWaitsForISR(t *testing.T) {
	f := newReplicaFixture(t, 1)
	p := f.replica()
	c := f.coordinator(Settings{WriteTimeout: 200 * time.Millisecond})
	if _, err := fetchLoaded(t, c, "g"); err != nil {
		t.Fatal(err)
	}
	tp := TopicPartition{Topic: "orders", Partition: 0}
	commit := func(offset int64) error {
		return c.CommitOffsets(CommitRequest{MemberRef: MemberRef{GroupID: "g", Generation: -1},
			Offsets: []OffsetCommit{{TopicPartition: tp, Offset: offset, LeaderEpoch: -1}}})[0]
	}
	if err := commit(1); !errors.Is(err, ErrCoordinatorNotAvailable) {
		t.Fatalf("commit that no follower copied: %v, want COORDINATOR_NOT_AVAILABLE", err)
	}

	// Both followers fetch everything the leader has as soon as it has it.
	done := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(done)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
			leo := p.Log().LogEndOffset()
			for _, id := range []int32{2, 3} {
				if err := p.FollowerFetched(id, leo, time.Now()); err != nil {
					t.Errorf("follower %d fetch: %v", id, err)
					return
				}
			}
		}
	}()
	if err := commit(2); err != nil {
		t.Fatalf("commit the followers copied: %v", err)
	}
	if hw, leo := p.Log().HighWatermark(), p.Log().LogEndOffset(); hw != leo {
		t.Fatalf("commit acknowledged at high watermark %d, log end %d", hw, leo)
	}
}

// TestLoadReadsToLogEnd: broker 1 follows the offsets partition and copies a commit, but
// the leader dies before telling it the commit is committed (the high watermark comes
// with the next fetch). Broker 1 is elected and its other follower has not fetched yet,
// so its high watermark still lies before the commit: loading must read to the log end,
// which the followers will match, or the acknowledged commit is gone for good.
func TestLoadReadsToLogEnd(t *testing.T) {
	f := newReplicaFixture(t, 2)
	p := f.replica()
	if p.IsLeader() {
		t.Fatal("broker 1 leads; want a follower")
	}

	tp := TopicPartition{Topic: "orders", Partition: 0}
	batch, err := encodeProducerBatches([]record{{key: offsetKey("g", tp), value: offsetValue(committed{offset: 42, leaderEpoch: -1})}},
		time.Now(), 1<<20, coordinator.Producer{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.AppendAsFollower(batch, 0); err != nil {
		t.Fatal(err)
	}

	// The image names broker 1 leader before its replica has taken the leadership: no
	// load yet, since a follower's log may still grow (or be cut) under the loader.
	f.apply(metadata.ChangePartition{TopicID: f.topicID, Partition: 0, Leader: 1, LeaderEpoch: 1, ISR: []int32{1, 3}, PartitionEpoch: 1})
	c := f.coordinator(Settings{})
	if _, err := c.FetchOffsets("g", nil); !errors.Is(err, ErrNotCoordinator) {
		t.Fatalf("offsets of g while the replica still follows: %v, want NOT_COORDINATOR", err)
	}
	f.sync()
	if !p.IsLeader() || p.Log().HighWatermark() != 0 || p.Log().LogEndOffset() != 1 {
		t.Fatalf("broker 1 leads %v with high watermark %d and log end %d; want leader, 0 and 1",
			p.IsLeader(), p.Log().HighWatermark(), p.Log().LogEndOffset())
	}
	c.ApplyMetadata(f.fsm.Image())
	got, err := fetchLoaded(t, c, "g")
	if err != nil || got[tp].Offset != 42 {
		t.Fatalf("offsets of g after the takeover: %v, %v; want orders-0 at 42", got, err)
	}
}
