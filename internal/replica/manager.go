package replica

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nagare-dev/nagare/internal/config"
	"github.com/nagare-dev/nagare/internal/interbroker"
	"github.com/nagare-dev/nagare/internal/metadata"
	"github.com/nagare-dev/nagare/internal/partition"
	"github.com/nagare-dev/nagare/internal/quota"
)

// Settings are the replica fetchers' Kafka configs.
type Settings struct {
	MaxWait          time.Duration // replica.fetch.wait.max.ms
	MinBytes         int32         // replica.fetch.min.bytes
	MaxBytes         int32         // replica.fetch.max.bytes (per partition)
	ResponseMaxBytes int32         // replica.fetch.response.max.bytes
	Backoff          time.Duration // replica.fetch.backoff.ms
	LagTimeMax       time.Duration // replica.lag.time.max.ms
}

// SettingsFrom reads the settings from the broker config.
func SettingsFrom(c *config.Broker) Settings {
	return Settings{
		MaxWait:          c.Duration("replica.fetch.wait.max.ms"),
		MinBytes:         int32(c.Int("replica.fetch.min.bytes")),
		MaxBytes:         int32(c.Int("replica.fetch.max.bytes")),
		ResponseMaxBytes: int32(c.Int("replica.fetch.response.max.bytes")),
		Backoff:          c.Duration("replica.fetch.backoff.ms"),
		LagTimeMax:       c.Duration("replica.lag.time.max.ms"),
	}
}

// Proposer writes metadata records (metadata.Store: forwarded to the controller).
type Proposer interface {
	Propose(ctx context.Context, rec metadata.Record) (uint64, error)
	// Image is the metadata as this broker has applied it (fenced brokers, for ISR
	// changes).
	Image() *metadata.Image
}

// Config is everything a Manager needs.
type Config struct {
	NodeID     int32
	Partitions *partition.Registry
	Metadata   Proposer
	Settings   Settings
	Logger     *slog.Logger
	// FollowerQuota is follower.replication.throttled.rate: partitions this broker
	// replicates as a throttled replica outside the ISR sit out of fetches while it is
	// exceeded (throttle.go); nil throttles nothing.
	FollowerQuota *quota.ReplicationQuota
	// BrokerEpoch is this process's broker epoch (KIP-631), sent as ReplicaState.Epoch so
	// that the leader refuses the fetches of a process that has since restarted (KIP-903);
	// 0 sends -1, none.
	BrokerEpoch int64
	// InterBroker is how to reach a leader's inter-broker listener (TLS, SASL); nil is
	// PLAINTEXT.
	InterBroker *interbroker.Settings
}

// Manager owns this broker's replica fetchers and its ISR keeper. Apply and Close are
// called by the broker; Close stops every goroutine.
type Manager struct {
	cfg Config

	mu       sync.Mutex         // guards fetchers and closed; held across Apply
	fetchers map[int32]*fetcher // by leader node id
	closed   bool

	stopISR context.CancelFunc
	isrDone chan struct{}
}

// New starts the ISR keeper; fetchers start with the first Apply.
func New(cfg Config) *Manager {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m := &Manager{cfg: cfg, fetchers: map[int32]*fetcher{}, isrDone: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	m.stopISR = cancel
	go m.keepISR(ctx)
	return m
}

// followed is one partition a fetcher copies, at the leader epoch it was started for.
type followed struct {
	part        *partition.Partition
	topicID     [16]byte
	leaderEpoch int32
}

// fetchPlan is what one fetcher does: the leader's address and the partitions.
type fetchPlan struct {
	addr  string
	parts []followed
}

func (p fetchPlan) equal(o fetchPlan) bool {
	return p.addr == o.addr && slices.EqualFunc(p.parts, o.parts, func(a, b followed) bool {
		return a.part == b.part && a.leaderEpoch == b.leaderEpoch
	})
}

// Apply brings the fetchers in line with img, which the partition registry has already
// applied: a fetcher per leader of a partition this broker follows, restarted when its
// partitions, their leader epochs or the leader's address changed.
func (m *Manager) Apply(img *metadata.Image) {
	plans := map[int32]fetchPlan{}
	for _, t := range img.Topics() {
		for _, a := range t.Partitions {
			if a.Leader == m.cfg.NodeID || a.Leader == metadata.NoLeader || !slices.Contains(a.Replicas, m.cfg.NodeID) {
				continue
			}
			part, ok := m.cfg.Partitions.Get(t.Name, a.Partition)
			if !ok || part.IsLeader() || part.LeaderEpoch() != a.LeaderEpoch {
				continue // not (yet) applied by the registry: the next image brings it
			}
			b, ok := img.Broker(a.Leader)
			if !ok {
				continue // an unregistered leader cannot be reached
			}
			plan := plans[a.Leader]
			plan.addr = net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
			plan.parts = append(plan.parts, followed{part: part, topicID: t.ID, leaderEpoch: a.LeaderEpoch})
			plans[a.Leader] = plan
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	for leader, f := range m.fetchers {
		if plan, ok := plans[leader]; !ok || !plan.equal(f.plan) {
			f.stop()
			delete(m.fetchers, leader)
		}
	}
	for leader, plan := range plans {
		if _, ok := m.fetchers[leader]; ok {
			continue
		}
		f, err := startFetcher(m.cfg, leader, plan)
		if err != nil {
			m.cfg.Logger.Error("starting replica fetcher", "leader", leader, "err", err)
			continue
		}
		m.fetchers[leader] = f
	}
}

// Close stops every fetcher and the ISR keeper and waits for them.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	for leader, f := range m.fetchers {
		f.stop()
		delete(m.fetchers, leader)
	}
	m.mu.Unlock()
	m.stopISR()
	<-m.isrDone
}

// Fetchers is how many fetchers run, for tests and metrics.
func (m *Manager) Fetchers() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.fetchers)
}

func (f followed) String() string {
	return fmt.Sprintf("%s-%d@%d", f.part.Topic(), f.part.Index(), f.leaderEpoch)
}
