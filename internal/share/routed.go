package share

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nagare-dev/nagare/internal/metadata"
)

// RoutedStore is the Store of a Manager (Kafka's DefaultStatePersister): each key's
// state lives on the leader of its __share_group_state partition; when that is this
// broker the local Coordinator serves it, otherwise ReadShareGroupState,
// WriteShareGroupState and DeleteShareGroupState go to the leader through Peers.
// Unavailable state (no leader yet, a leader moving, the topic being created) is
// retried until RetryTimeout, so a short election does not fail acknowledgements.
type RoutedStore struct {
	NodeID       int32
	Image        func() *metadata.Image
	Local        *Coordinator
	Peers        *Peers
	RetryTimeout time.Duration // default 10 s
	RetryBackoff time.Duration // default 100 ms
}

// Close closes the clients to other brokers (Manager.Close calls it).
func (s *RoutedStore) Close() error {
	s.Peers.Close()
	return nil
}

// Load implements Store.
func (s *RoutedStore) Load(ctx context.Context, key Key, leaderEpoch int32) (snap []byte, err error) {
	err = s.retry(ctx, key, func(leader int32) error {
		if leader == s.NodeID {
			snap, err = s.Local.Read(ctx, key, leaderEpoch)
		} else {
			snap, err = s.Peers.Read(ctx, leader, key, leaderEpoch)
		}
		return err
	})
	return snap, err
}

// Write implements Store.
func (s *RoutedStore) Write(ctx context.Context, key Key, value []byte) error {
	return s.retry(ctx, key, func(leader int32) error {
		if leader == s.NodeID {
			return s.Local.Write(ctx, key, value)
		}
		return s.Peers.Write(ctx, leader, key, value)
	})
}

// Initialize implements Store: the local coordinator bumps the state epoch itself; a
// remote one is read first and sent InitializeShareGroupState with the next epoch.
func (s *RoutedStore) Initialize(ctx context.Context, key Key, start int64) error {
	return s.retry(ctx, key, func(leader int32) error {
		if leader == s.NodeID {
			return s.Local.Initialize(ctx, key, -1, start)
		}
		return s.Peers.Initialize(ctx, leader, key, start)
	})
}

// Delete removes key's state (DeleteGroups, DeleteShareGroupOffsets).
func (s *RoutedStore) Delete(ctx context.Context, key Key) error {
	return s.retry(ctx, key, func(leader int32) error {
		if leader == s.NodeID {
			return s.Local.Delete(ctx, key)
		}
		return s.Peers.Delete(ctx, leader, key)
	})
}

// retry calls op with the leader of key's state partition until it succeeds, fails
// with something other than ErrStateUnavailable, or the retry time is up.
func (s *RoutedStore) retry(ctx context.Context, key Key, op func(leader int32) error) error {
	timeout, backoff := s.RetryTimeout, s.RetryBackoff
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	if backoff <= 0 {
		backoff = 100 * time.Millisecond
	}
	deadline := time.Now().Add(timeout)
	for {
		err := s.once(key, op)
		if err == nil || !errors.Is(err, ErrStateUnavailable) || time.Now().Add(backoff).After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(backoff):
		}
	}
}

func (s *RoutedStore) once(key Key, op func(leader int32) error) error {
	leader, err := StateLeader(s.Image(), key)
	if err != nil {
		return err
	}
	return op(leader)
}

// StateLeader is the leader of key's __share_group_state partition in img.
func StateLeader(img *metadata.Image, key Key) (int32, error) {
	t, ok := img.TopicByName(StateTopic)
	if !ok || len(t.Partitions) == 0 {
		return 0, fmt.Errorf("%w: %s does not exist", ErrStateUnavailable, StateTopic)
	}
	n := StatePartitionFor(key, len(t.Partitions))
	leader := t.Partitions[n].Leader
	if leader == metadata.NoLeader {
		return 0, fmt.Errorf("%w: %s-%d has no leader", ErrStateUnavailable, StateTopic, n)
	}
	return leader, nil
}
