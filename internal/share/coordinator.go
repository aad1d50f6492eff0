package share

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrFencedLeaderEpoch: a read or write of share state came from a data-partition
// leader older than one the state has seen (Kafka's FENCED_LEADER_EPOCH); the writer
// is no longer the share-partition's leader.
var ErrFencedLeaderEpoch = errors.New("share: share state fenced by a newer leader epoch")

// Coordinator is the share coordinator's state side (Kafka's ShareCoordinatorShard,
// simplified): it serves the share state of the __share_group_state partitions this
// broker leads, to the local Manager and, through ReadShareGroupState and
// WriteShareGroupState, to the leaders of data partitions on other brokers. It fences
// by leader epoch: once a leader at epoch e has read or written a share-partition,
// requests from older epochs fail with ErrFencedLeaderEpoch, so a deposed leader cannot
// overwrite its successor's state.
type Coordinator struct {
	Log *LogStore

	mu     sync.Mutex
	epochs map[Key]int32 // guarded by mu; highest leader epoch that read or wrote a key
}

// ErrFencedStateEpoch: a write from a share-partition loaded before an operator reset
// its state (Kafka's FENCED_STATE_EPOCH); the share-partition must load again.
var ErrFencedStateEpoch = errors.New("share: share state fenced by a newer state epoch")

// Read returns key's latest snapshot (nil when none) for a leader at leaderEpoch; a
// negative leaderEpoch reads without fencing (describing the group's offsets).
func (c *Coordinator) Read(ctx context.Context, key Key, leaderEpoch int32) ([]byte, error) {
	snap, err := c.Log.Load(ctx, key)
	if err != nil || leaderEpoch < 0 {
		return snap, err
	}
	if err := c.fence(key, leaderEpoch, snap); err != nil {
		return nil, err
	}
	return snap, nil
}

// Write makes snap key's latest snapshot; its leader and state epochs must not be
// fenced.
func (c *Coordinator) Write(ctx context.Context, key Key, snap []byte) error {
	s, err := DecodeSnapshot(snap)
	if err != nil {
		return err
	}
	old, err := c.Log.Load(ctx, key)
	if err != nil {
		return err
	}
	if old != nil {
		if prev, err := DecodeSnapshot(old); err == nil && prev.StateEpoch > s.StateEpoch {
			return fmt.Errorf("%w: %s/%x-%d written at state epoch %d, stored %d", ErrFencedStateEpoch, key.Group, key.TopicID, key.Partition, s.StateEpoch, prev.StateEpoch)
		}
	}
	if err := c.fence(key, s.LeaderEpoch, old); err != nil {
		return err
	}
	return c.Log.Write(ctx, key, snap)
}

// Initialize replaces key's state with an empty window at start under stateEpoch
// (InitializeShareGroupState; AlterShareGroupOffsets through it), which must be newer
// than the stored one; a negative stateEpoch means the stored one plus one. The stored
// leader epoch is kept, so the leader fence holds.
func (c *Coordinator) Initialize(ctx context.Context, key Key, stateEpoch int32, start int64) error {
	old, err := c.Log.Load(ctx, key)
	if err != nil {
		return err
	}
	var prev SnapshotState
	if old != nil {
		if prev, err = DecodeSnapshot(old); err != nil {
			return err
		}
	}
	switch {
	case stateEpoch < 0:
		stateEpoch = prev.StateEpoch + 1
	case old != nil && stateEpoch <= prev.StateEpoch:
		return fmt.Errorf("%w: initializing at state epoch %d, stored %d", ErrFencedStateEpoch, stateEpoch, prev.StateEpoch)
	}
	snap, err := EncodeSnapshot(SnapshotState{LeaderEpoch: prev.LeaderEpoch, StateEpoch: stateEpoch, StartOffset: start})
	if err != nil {
		return err
	}
	return c.Log.Write(ctx, key, snap)
}

// Delete writes key's tombstone (DeleteShareGroupState): the share-partition starts
// afresh at share.auto.offset.reset when next used.
func (c *Coordinator) Delete(ctx context.Context, key Key) error {
	if err := c.Log.Write(ctx, key, nil); err != nil {
		return err
	}
	c.mu.Lock()
	delete(c.epochs, key)
	c.mu.Unlock()
	return nil
}

// fence checks leaderEpoch against the highest seen for key (in memory, and in the
// stored snapshot, so the fence survives a move of the state partition) and records it.
func (c *Coordinator) fence(key Key, leaderEpoch int32, stored []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epochs == nil {
		c.epochs = map[Key]int32{}
	}
	seen, ok := c.epochs[key]
	if s, err := DecodeSnapshot(stored); stored != nil && err == nil && (!ok || s.LeaderEpoch > seen) {
		seen, ok = s.LeaderEpoch, true
	}
	if ok && leaderEpoch < seen {
		return fmt.Errorf("%w: %s/%x-%d at epoch %d, state seen epoch %d", ErrFencedLeaderEpoch, key.Group, key.TopicID, key.Partition, leaderEpoch, seen)
	}
	c.epochs[key] = leaderEpoch
	return nil
}
