package share

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/coordinator"
	"github.com/nagare-dev/nagare/internal/metadata"
	"github.com/nagare-dev/nagare/internal/partition"
)

// StateTopic is the compacted internal topic that holds share-partition state, Kafka's
// name for it.
const StateTopic = "__share_group_state"

// Store keeps share-partition snapshots durable. Small, so tests can use memory.
type Store interface {
	// Load returns the latest snapshot of key, or nil when there is none, for the
	// data partition's leader at leaderEpoch; a store may fence writers of older epochs
	// from then on.
	Load(ctx context.Context, key Key, leaderEpoch int32) ([]byte, error)
	// Write makes value key's latest snapshot, durably (acks=all), before returning.
	// value carries the writer's leader and state epochs (snapshotOf).
	Write(ctx context.Context, key Key, value []byte) error
	// Initialize replaces key's state with an empty window at start under a new state
	// epoch, fencing writers that loaded the old state (AlterShareGroupOffsets).
	Initialize(ctx context.Context, key Key, start int64) error
	// Delete drops key's state (DeleteShareGroupOffsets, DeleteGroups).
	Delete(ctx context.Context, key Key) error
}

// ErrStateUnavailable: the __share_group_state partition of a share-partition is not
// led by this broker, or does not exist yet.
var ErrStateUnavailable = errors.New("share: share state partition not available on this broker")

// LogStore writes snapshots to the partition of __share_group_state that
// StatePartitionFor names, which this broker must lead. Each led state partition is
// replayed once into an index of the latest snapshot by key, rebuilt when its leader
// epoch changes; writes keep the index current (this broker is its only writer).
type LogStore struct {
	Partitions interface {
		Get(topic string, index int32) (*partition.Partition, bool)
	}
	Image        func() *metadata.Image
	WriteTimeout time.Duration // how long a write waits for the ISR to copy it

	mu      sync.Mutex
	indexes map[int32]*stateIndex // guarded by mu
}

// stateIndex is one led state partition's latest committed snapshots. mu orders the
// appends and guards the maps, but is not held while a write waits for its replicas:
// one slow replication must not hold up the other keys (groups, tenants) hashed to the
// same partition.
type stateIndex struct {
	part    *partition.Partition
	epoch   int32
	mu      sync.Mutex
	values  map[string]stateValue // guarded by mu; encoded key → latest committed snapshot
	writing map[string]*keyWrites // guarded by mu; encoded key → its writes still waiting
}

// stateValue is a key's latest committed snapshot and the offset it was written at: a
// write whose wait ends after a later write's must not replace it (the last writer by
// offset wins, as the compacted log and a replay say).
type stateValue struct {
	offset int64
	value  []byte // nil: a tombstone, kept only while writes of the key still wait
}

// keyWrites counts one key's writes that are appended but not yet applied.
type keyWrites struct {
	waiting int           // guarded by the index's mu
	done    chan struct{} // closed when waiting drops to 0
}

// StatePartitionFor is the __share_group_state partition of key: Kafka's rule, the
// hash of "group:topicId:partition" over the partition count.
func StatePartitionFor(key Key, partitions int) int32 {
	return coordinator.PartitionFor(fmt.Sprintf("%s:%s:%d", key.Group, hex.EncodeToString(key.TopicID[:]), key.Partition), partitions)
}

// Load returns the latest snapshot of key in its state partition, which this broker
// must lead (Coordinator adds the fencing Store asks for).
func (s *LogStore) Load(ctx context.Context, key Key) ([]byte, error) {
	idx, err := s.index(ctx, key)
	if err != nil {
		return nil, err
	}
	return idx.committed(ctx, string(encodeKey(key)))
}

// Write appends one record with acks=all semantics (min.insync.replicas checked,
// then the high watermark must cover it); a nil value is a tombstone. The value is
// applied to the index, and so seen by Load, only once committed.
func (s *LogStore) Write(ctx context.Context, key Key, value []byte) error {
	idx, err := s.index(ctx, key)
	if err != nil {
		return err
	}
	k := string(encodeKey(key))
	offset, w, err := idx.append(k, value)
	if err != nil {
		return err
	}
	err = s.awaitCommitted(ctx, idx, offset)
	idx.finish(k, w, offset, value, err == nil)
	return err
}

// append appends k's record under mu, so offsets follow the order of the calls, and
// counts it as waiting so that Load of k waits for it.
func (idx *stateIndex) append(k string, value []byte) (int64, *keyWrites, error) {
	idx.mu.Lock()
	defer idx.mu.Unlock()
	now := time.Now()
	batch := coordinator.AppendBatch(nil, coordinator.AppendRecord(nil, []byte(k), value, 0), 1, now, coordinator.Producer{})
	res, err := idx.part.Append(batch, -1, now)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %v", ErrStateUnavailable, err)
	}
	w := idx.writing[k]
	if w == nil {
		w = &keyWrites{done: make(chan struct{})}
		idx.writing[k] = w
	}
	w.waiting++
	return res.LastOffset, w, nil
}

// finish ends one of k's waiting writes: a committed one becomes k's value unless a
// write at a later offset already did.
func (idx *stateIndex) finish(k string, w *keyWrites, offset int64, value []byte, committed bool) {
	idx.mu.Lock()
	defer idx.mu.Unlock()
	if cur, ok := idx.values[k]; committed && (!ok || cur.offset < offset) {
		idx.values[k] = stateValue{offset: offset, value: value}
	}
	w.waiting--
	if w.waiting > 0 {
		return
	}
	delete(idx.writing, k)
	close(w.done)
	if cur, ok := idx.values[k]; ok && cur.value == nil {
		delete(idx.values, k) // no earlier write of k is left to come back over it
	}
}

// committed returns k's latest committed value once none of k's writes waits: a
// check-then-write (the Coordinator's fences) sees the outcome of the writes before
// it, as when a write held mu throughout, while other keys are not held up.
func (idx *stateIndex) committed(ctx context.Context, k string) ([]byte, error) {
	idx.mu.Lock()
	for {
		w := idx.writing[k]
		if w == nil {
			v := idx.values[k].value
			idx.mu.Unlock()
			return v, nil
		}
		idx.mu.Unlock()
		select {
		case <-w.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("share: waiting for a write of %s-%d: %w", StateTopic, idx.part.Index(), ctx.Err())
		}
		idx.mu.Lock()
	}
}

func (s *LogStore) awaitCommitted(ctx context.Context, idx *stateIndex, offset int64) error {
	timeout := s.WriteTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	err := idx.part.AwaitCommitted(ctx, idx.epoch, offset, timeout)
	switch {
	case errors.Is(err, partition.ErrNotLeader):
		return fmt.Errorf("%w: leadership of %s-%d moved", ErrStateUnavailable, StateTopic, idx.part.Index())
	case errors.Is(err, partition.ErrNotReplicated):
		return fmt.Errorf("%w: replicas did not copy share state in %v", ErrStateUnavailable, timeout)
	}
	return err
}

// index returns the loaded index of key's state partition, loading it if needed.
func (s *LogStore) index(ctx context.Context, key Key) (*stateIndex, error) {
	img := s.Image()
	t, ok := img.TopicByName(StateTopic)
	if !ok || len(t.Partitions) == 0 {
		return nil, fmt.Errorf("%w: %s does not exist", ErrStateUnavailable, StateTopic)
	}
	n := StatePartitionFor(key, len(t.Partitions))
	part, ok := s.Partitions.Get(StateTopic, n)
	if !ok || !part.IsLeader() {
		return nil, fmt.Errorf("%w: %s-%d is led elsewhere", ErrStateUnavailable, StateTopic, n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.indexes == nil {
		s.indexes = map[int32]*stateIndex{}
	}
	if idx := s.indexes[n]; idx != nil && idx.part == part && idx.epoch == part.LeaderEpoch() {
		return idx, nil
	}
	idx := &stateIndex{part: part, epoch: part.LeaderEpoch(), values: map[string]stateValue{}, writing: map[string]*keyWrites{}}
	if err := replay(ctx, part, idx.values); err != nil {
		return nil, err
	}
	s.indexes[n] = idx
	return idx, nil
}

// replay reads a state partition from its log start to its log end (the new leader's
// log is the one its followers will match, as Kafka's coordinators load) into values,
// the latest snapshot by encoded key; a nil value is a tombstone. Control and
// compressed batches are skipped: this package writes neither.
func replay(ctx context.Context, p *partition.Partition, values map[string]stateValue) error {
	err := coordinator.Replay(ctx, p, p.Log().LogEndOffset(), ErrCorruptState, func(b kmsg.RecordBatch) error {
		if b.Attributes&(coordinator.AttrControl|coordinator.AttrCompressionMask) != 0 {
			return nil
		}
		return coordinator.DecodeRecords(b, ErrCorruptState, func(offset int64, key, value []byte) error {
			if value == nil {
				delete(values, string(key))
			} else {
				values[string(key)] = stateValue{offset: offset, value: value}
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("share: replaying %s: %w", StateTopic, err)
	}
	return nil
}

// Initialize implements Store.
func (m *MemoryStore) Initialize(ctx context.Context, key Key, start int64) error {
	prev, _ := m.Load(ctx, key, -1)
	s, _ := DecodeSnapshot(prev)
	snap, err := EncodeSnapshot(SnapshotState{LeaderEpoch: s.LeaderEpoch, StateEpoch: s.StateEpoch + 1, StartOffset: start})
	if err != nil {
		return err
	}
	return m.Write(ctx, key, snap)
}

// Delete implements Store.
func (m *MemoryStore) Delete(_ context.Context, key Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.values, key)
	return nil
}

// MemoryStore keeps snapshots in memory, for tests of the state machine.
type MemoryStore struct {
	mu     sync.Mutex
	values map[Key][]byte
	writes int
}

// Load implements Store.
func (m *MemoryStore) Load(_ context.Context, key Key, _ int32) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.values[key], nil
}

// Write implements Store.
func (m *MemoryStore) Write(_ context.Context, key Key, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.values == nil {
		m.values = map[Key][]byte{}
	}
	m.values[key] = value
	m.writes++
	return nil
}
