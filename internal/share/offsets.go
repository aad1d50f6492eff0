package share

// What the operator APIs (DescribeShareGroupOffsets, AlterShareGroupOffsets,
// DeleteShareGroupOffsets, DeleteGroups of a share group) need from this package:
// unfenced reads of many keys at once, resets and deletes, and dropping a loaded
// share-partition whose stored state was reset or deleted under it.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Summary is a share-partition's stored state as DescribeShareGroupOffsets shows it.
type Summary struct {
	StartOffset int64
	LeaderEpoch int32 // the data partition's leader epoch of the last write
	StateEpoch  int32
	// Completed counts the acknowledged and archived offsets at or past StartOffset,
	// which KIP-1226's lag leaves out.
	Completed int64
}

// SummaryOf summarizes a stored snapshot.
func SummaryOf(snap []byte) (Summary, error) {
	s, err := DecodeSnapshot(snap)
	if err != nil {
		return Summary{}, err
	}
	sum := Summary{StartOffset: s.StartOffset, LeaderEpoch: s.LeaderEpoch, StateEpoch: s.StateEpoch}
	for _, b := range s.Batches {
		if b.DeliveryState != wireAvailable {
			sum.Completed += b.LastOffset - b.FirstOffset + 1
		}
	}
	return sum, nil
}

// bulkReader is a Store that reads many keys in one round trip per state leader.
type bulkReader interface {
	ReadAll(ctx context.Context, keys []Key) (map[Key][]byte, error)
}

// Store is the manager's state store, for resets and deletes by the operator APIs.
func (m *Manager) Store() Store { return m.cfg.Store }

// ReadAll returns the stored snapshots of keys that have one, read without fencing
// (leader epoch -1): describing a group's offsets or finding which of its
// share-partitions have state must not fence the data partitions' leaders.
func (m *Manager) ReadAll(ctx context.Context, keys []Key) (map[Key][]byte, error) {
	if b, ok := m.cfg.Store.(bulkReader); ok {
		return b.ReadAll(ctx, keys)
	}
	out := map[Key][]byte{}
	for _, k := range keys {
		snap, err := m.cfg.Store.Load(ctx, k, -1)
		if err != nil {
			return nil, err
		}
		if snap != nil {
			out[k] = snap
		}
	}
	return out, nil
}

// Revalidate drops key's loaded share-partition when its stored state was reset (a
// newer state epoch) or deleted since it was loaded, so the next use loads it again.
// A share session opening calls it: an operator resets or deletes only while the group
// has no members, and the state may live on another broker, which cannot tell this one.
func (m *Manager) Revalidate(ctx context.Context, key Key) error {
	sp := m.Loaded(key)
	if sp == nil {
		return nil
	}
	snap, err := m.cfg.Store.Load(ctx, key, -1)
	if err != nil {
		return fmt.Errorf("share: revalidating %s/%x-%d: %w", key.Group, key.TopicID, key.Partition, err)
	}
	if snap != nil {
		s, err := DecodeSnapshot(snap)
		if err != nil {
			return err
		}
		if s.StateEpoch <= sp.stateEpoch {
			return nil
		}
	}
	m.logger.Info("share-partition state was reset or deleted; loading it again", "group", key.Group, "partition", key.Partition)
	m.dropIf(key, sp)
	return nil
}

// dropIf drops key's share-partition if it is still sp.
func (m *Manager) dropIf(key Key, sp *Partition) {
	m.mu.Lock()
	if m.parts[key] == sp {
		delete(m.parts, key)
	}
	m.mu.Unlock()
	sp.close()
}

// ReadAll implements bulkReader: keys are grouped by their state partition's leader;
// the local coordinator is read directly, every other leader with one
// ReadShareGroupState per group.
func (s *RoutedStore) ReadAll(ctx context.Context, keys []Key) (map[Key][]byte, error) {
	img := s.Image()
	if t, ok := img.TopicByName(StateTopic); !ok || len(t.Partitions) == 0 {
		return map[Key][]byte{}, nil // no state topic: no share-partition has state
	}
	byLeader := map[int32][]Key{}
	for _, k := range keys {
		leader, err := StateLeader(img, k)
		if err != nil {
			return nil, err
		}
		byLeader[leader] = append(byLeader[leader], k)
	}
	out := map[Key][]byte{}
	for leader, ks := range byLeader {
		if err := s.readFrom(ctx, leader, ks, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *RoutedStore) readFrom(ctx context.Context, leader int32, keys []Key, out map[Key][]byte) error {
	if leader != s.NodeID {
		return s.Peers.ReadMany(ctx, leader, keys, out)
	}
	for _, k := range keys {
		snap, err := s.Local.Read(ctx, k, -1)
		if err != nil {
			return err
		}
		if snap != nil {
			out[k] = snap
		}
	}
	return nil
}

// ReadMany reads keys (of any groups) from leader without fencing, one
// ReadShareGroupState per group, adding those with state to out.
func (p *Peers) ReadMany(ctx context.Context, leader int32, keys []Key, out map[Key][]byte) error {
	byGroup := map[string]map[[16]byte][]int32{}
	for _, k := range keys {
		if byGroup[k.Group] == nil {
			byGroup[k.Group] = map[[16]byte][]int32{}
		}
		byGroup[k.Group][k.TopicID] = append(byGroup[k.Group][k.TopicID], k.Partition)
	}
	for group, topics := range byGroup {
		if err := p.readGroup(ctx, leader, group, topics, out); err != nil {
			return err
		}
	}
	return nil
}

func (p *Peers) readGroup(ctx context.Context, leader int32, group string, topics map[[16]byte][]int32, out map[Key][]byte) error {
	req := kmsg.NewPtrReadShareGroupStateRequest()
	req.GroupID = group
	for id, parts := range topics {
		rt := kmsg.NewReadShareGroupStateRequestTopic()
		rt.TopicID = id
		for _, n := range parts {
			rp := kmsg.NewReadShareGroupStateRequestTopicPartition()
			rp.Partition, rp.LeaderEpoch = n, -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	kresp, err := p.request(ctx, leader, req)
	if err != nil {
		return err
	}
	for _, rt := range kresp.(*kmsg.ReadShareGroupStateResponse).Topics {
		for _, rp := range rt.Partitions {
			if err := stateError(leader, rp.ErrorCode); err != nil {
				return err
			}
			if rp.StartOffset < 0 {
				continue // never initialized
			}
			snap, err := EncodeSnapshot(stateOfRead(rp))
			if err != nil {
				return err
			}
			out[Key{Group: group, TopicID: rt.TopicID, Partition: rp.Partition}] = snap
		}
	}
	return nil
}

func stateOfRead(rp kmsg.ReadShareGroupStateResponseTopicPartition) SnapshotState {
	s := SnapshotState{LeaderEpoch: -1, StateEpoch: rp.StateEpoch, StartOffset: rp.StartOffset}
	for _, b := range rp.StateBatches {
		s.Batches = append(s.Batches, StateBatch{FirstOffset: b.FirstOffset, LastOffset: b.LastOffset,
			DeliveryState: b.DeliveryState, DeliveryCount: b.DeliveryCount})
	}
	return s
}
