package share

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/nagare-dev/nagare/internal/config"
	"github.com/nagare-dev/nagare/internal/partition"
)

// ErrNotLeader: this broker does not lead the share-partition's topic partition.
var ErrNotLeader = errors.New("share: not the partition leader")

// ErrUnknownPartition: the topic partition does not exist here.
var ErrUnknownPartition = errors.New("share: unknown topic partition")

// Settings are the broker configs share groups read, by their Kafka names.
type Settings struct {
	Limits
	// AutoOffsetReset is where a share-partition with no state starts: "latest" (the
	// high watermark, Kafka's default) or "earliest" (the log start). Kafka's
	// share.auto.offset.reset is a group config; here it is a broker-wide default.
	AutoOffsetReset string
	MaxWait         time.Duration // how long the initial load of state may take
}

// SettingsFrom reads Settings from the broker's config.
func SettingsFrom(b *config.Broker) Settings {
	return Settings{
		Limits: Limits{
			LockDuration:  b.Duration("group.share.record.lock.duration.ms"),
			DeliveryLimit: b.Int("group.share.delivery.count.limit"),
			MaxInFlight:   b.Int("group.share.partition.max.record.locks"),
		},
		AutoOffsetReset: b.String("share.auto.offset.reset"),
	}
}

// Config is everything a Manager needs.
type Config struct {
	Partitions interface {
		Get(topic string, index int32) (*partition.Partition, bool)
	}
	Store Store
	// Coordinator serves the share state of the __share_group_state partitions this
	// broker leads to other brokers (APIs 83-86); nil when the Store is not routed.
	Coordinator *Coordinator
	Settings    Settings
	Logger      *slog.Logger
}

// Manager holds the share-partitions of the topic partitions this broker leads and
// the members' share sessions (Kafka's SharePartitionManager and ShareSessionCache).
type Manager struct {
	cfg    Config
	logger *slog.Logger

	mu       sync.Mutex
	parts    map[Key]*Partition      // guarded by mu
	sessions map[sessionKey]*Session // guarded by mu
	loading  map[Key]chan struct{}   // guarded by mu; loads in progress
	closed   bool                    // guarded by mu
}

// New returns an empty Manager; Close stops its timers.
func New(cfg Config) *Manager {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	lim := &cfg.Settings.Limits
	if lim.LockDuration <= 0 {
		lim.LockDuration = 30 * time.Second
	}
	if lim.DeliveryLimit <= 0 {
		lim.DeliveryLimit = 5
	}
	if lim.MaxInFlight <= 0 {
		lim.MaxInFlight = 2000
	}
	return &Manager{cfg: cfg, logger: cfg.Logger.With("component", "share"), parts: map[Key]*Partition{},
		sessions: map[sessionKey]*Session{}, loading: map[Key]chan struct{}{}}
}

// LockDuration is group.share.record.lock.duration.ms, which responses carry.
func (m *Manager) LockDuration() time.Duration { return m.cfg.Settings.LockDuration }

// current reports whether sp, loaded, can serve part as it leads now: loaded under its
// present leader epoch and not closed since.
func current(sp *Partition, part *partition.Partition) bool {
	return sp != nil && sp.leaderEpoch == part.LeaderEpoch() && !sp.isClosed()
}

// Ready reports whether Partition would answer key on topic at once, without loading
// (a read of the state, perhaps an acks=all write) or waiting for a load under way: a
// request that finds it false leaves the connection's reader before asking.
func (m *Manager) Ready(key Key, topic string) bool {
	part, ok := m.cfg.Partitions.Get(topic, key.Partition)
	if !ok || !part.IsLeader() {
		return true // answered at once with an error
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed || current(m.parts[key], part)
}

// Partition returns the share-partition of key on topic, loading its state the first
// time, or again when the topic partition's leadership changed since.
func (m *Manager) Partition(ctx context.Context, key Key, topic string) (*Partition, *partition.Partition, error) {
	part, ok := m.cfg.Partitions.Get(topic, key.Partition)
	if !ok {
		return nil, nil, fmt.Errorf("%w: %s-%d", ErrUnknownPartition, topic, key.Partition)
	}
	if !part.IsLeader() {
		return nil, part, fmt.Errorf("%w: %s-%d", ErrNotLeader, topic, key.Partition)
	}
	for {
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return nil, part, ErrNotLeader
		}
		if sp := m.parts[key]; current(sp, part) {
			m.mu.Unlock()
			return sp, part, nil
		}
		if wait := m.loading[key]; wait != nil {
			m.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, part, ctx.Err()
			}
		}
		done := make(chan struct{})
		m.loading[key] = done
		old := m.parts[key]
		m.mu.Unlock()
		if old != nil {
			old.close() // loaded under an older leader epoch: its state may be stale
		}
		sp, err := m.load(ctx, key, topic, part)
		m.mu.Lock()
		delete(m.loading, key)
		close(done)
		if err == nil {
			m.parts[key] = sp
		} else {
			delete(m.parts, key)
		}
		m.mu.Unlock()
		return sp, part, err
	}
}

// load reads key's snapshot, or starts a new share-partition at
// share.auto.offset.reset. A share-partition created here is persisted at once, so its
// start does not move with the high watermark across a restart.
func (m *Manager) load(ctx context.Context, key Key, topic string, part *partition.Partition) (*Partition, error) {
	epoch := part.LeaderEpoch()
	snap, err := m.cfg.Store.Load(ctx, key, epoch)
	if err != nil {
		return nil, err
	}
	if snap != nil {
		w, stateEpoch, err := restore(snap, m.cfg.Settings.MaxInFlight)
		if err != nil {
			return nil, err
		}
		return newPartition(key, topic, epoch, stateEpoch, w, m.cfg.Settings.Limits, m.cfg.Store), nil
	}
	start := part.Log().HighWatermark()
	if m.cfg.Settings.AutoOffsetReset == "earliest" {
		start = part.Log().LogStartOffset()
	}
	w := window{start: start, end: start}
	if err := m.cfg.Store.Write(ctx, key, snapshotOf(&w, epoch, 0)); err != nil {
		return nil, err
	}
	return newPartition(key, topic, epoch, 0, w, m.cfg.Settings.Limits, m.cfg.Store), nil
}

// Coordinator is the share state server of this broker's state partitions.
func (m *Manager) Coordinator() *Coordinator { return m.cfg.Coordinator }

// Loaded returns the share-partition of key if it is in memory, without loading.
func (m *Manager) Loaded(key Key) *Partition {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.parts[key]
}

// MemberGone drops a member's sessions and releases the records it holds: it left the
// group or its session with the group coordinator expired.
func (m *Manager) MemberGone(group, member string) {
	m.mu.Lock()
	delete(m.sessions, sessionKey{group, member})
	var parts []*Partition
	for k, sp := range m.parts {
		if k.Group == group {
			parts = append(parts, sp)
		}
	}
	m.mu.Unlock()
	for _, sp := range parts {
		sp.ReleaseMember(member)
	}
}

// GroupPartitions returns the loaded share-partitions of a group.
func (m *Manager) GroupPartitions(group string) []*Partition {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Partition
	for k, sp := range m.parts {
		if k.Group == group {
			out = append(out, sp)
		}
	}
	return out
}

// Drop forgets a group's share-partitions (DeleteShareGroupOffsets, DeleteGroups).
func (m *Manager) Drop(key Key) {
	m.mu.Lock()
	sp := m.parts[key]
	delete(m.parts, key)
	m.mu.Unlock()
	if sp != nil {
		sp.close()
	}
}

// Close stops every share-partition's timer.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	parts := m.parts
	m.parts = map[Key]*Partition{}
	m.mu.Unlock()
	for _, sp := range parts {
		sp.close()
	}
	if c, ok := m.cfg.Store.(io.Closer); ok {
		_ = c.Close() // only the inter-broker clients: nothing to report
	}
}
