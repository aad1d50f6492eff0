package share

import (
	"errors"
	"fmt"
)

// Share session epochs (KIP-932): 0 opens a session, -1 closes it, anything else
// must be the next epoch of the member's session.
const (
	OpenEpoch  int32 = 0
	FinalEpoch int32 = -1
)

// Session errors, mapped to Kafka's codes by internal/api.
var (
	ErrSessionNotFound     = errors.New("share: share session not found")
	ErrInvalidSessionEpoch = errors.New("share: invalid share session epoch")
)

// TopicPartition names a partition of a session by topic id and name.
type TopicPartition struct {
	TopicID   [16]byte
	Topic     string
	Partition int32
}

// Session is a member's share session with this broker (Kafka's ShareSession): the
// partitions it fetches and the epoch its next request must carry. Guarded by the
// Manager's mu.
type Session struct {
	group, member string
	epoch         int32 // the epoch the next request must carry
	parts         map[TopicPartition]struct{}
}

type sessionKey struct{ group, member string }

// nextEpoch is Kafka's ShareRequestMetadata.nextEpoch: epochs wrap to 1, never 0.
func nextEpoch(e int32) int32 {
	if e == 1<<31-1 {
		return 1
	}
	return e + 1
}

// OpenSession starts (or restarts) member's session with parts; the next request
// carries epoch 1.
func (m *Manager) OpenSession(group, member string, parts []TopicPartition) []TopicPartition {
	s := &Session{group: group, member: member, epoch: 1, parts: map[TopicPartition]struct{}{}}
	for _, tp := range parts {
		s.parts[tp] = struct{}{}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sessions[sessionKey{group, member}] = s
	return s.partitionsLocked()
}

// UpdateSession checks epoch against member's session, adds and forgets partitions,
// and moves the session to its next epoch. It returns the session's partitions.
func (m *Manager) UpdateSession(group, member string, epoch int32, add, forget []TopicPartition) ([]TopicPartition, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.sessions[sessionKey{group, member}]
	if s == nil {
		return nil, fmt.Errorf("%w: member %s of group %s", ErrSessionNotFound, member, group)
	}
	if epoch != s.epoch {
		return nil, fmt.Errorf("%w: %d, expected %d", ErrInvalidSessionEpoch, epoch, s.epoch)
	}
	for _, tp := range forget {
		delete(s.parts, tp)
	}
	for _, tp := range add {
		s.parts[tp] = struct{}{}
	}
	s.epoch = nextEpoch(s.epoch)
	return s.partitionsLocked(), nil
}

// CloseSession ends member's session and returns its partitions: the caller releases
// the member's records on them.
func (m *Manager) CloseSession(group, member string) ([]TopicPartition, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := sessionKey{group, member}
	s := m.sessions[k]
	if s == nil {
		return nil, fmt.Errorf("%w: member %s of group %s", ErrSessionNotFound, member, group)
	}
	delete(m.sessions, k)
	return s.partitionsLocked(), nil
}

func (s *Session) partitionsLocked() []TopicPartition {
	out := make([]TopicPartition, 0, len(s.parts))
	for tp := range s.parts {
		out = append(out, tp)
	}
	return out
}
