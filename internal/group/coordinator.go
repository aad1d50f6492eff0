package group

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nagare-dev/nagare/internal/config"
	"github.com/nagare-dev/nagare/internal/coordinator"
	"github.com/nagare-dev/nagare/internal/metadata"
	"github.com/nagare-dev/nagare/internal/partition"
)

// OffsetsTopic is the internal topic that holds committed offsets and group metadata.
const OffsetsTopic = "__consumer_offsets"

// Settings are the broker configs the coordinator reads, by their Kafka names. Kafka
// reads them once at start-up (none is dynamic), and so does Nagare.
type Settings struct {
	MinSessionTimeout     time.Duration // group.min.session.timeout.ms
	MaxSessionTimeout     time.Duration // group.max.session.timeout.ms
	InitialRebalanceDelay time.Duration // group.initial.rebalance.delay.ms
	MaxSize               int           // group.max.size
	MaxMetadataBytes      int           // offset.metadata.max.bytes
	OffsetsRetention      time.Duration // offsets.retention.minutes
	RetentionCheck        time.Duration // offsets.retention.check.interval.ms
	// KIP-848 consumer groups; zero means Kafka's defaults (45 s and 5 s).
	ConsumerSessionTimeout    time.Duration // group.consumer.session.timeout.ms
	ConsumerHeartbeatInterval time.Duration // group.consumer.heartbeat.interval.ms
	// KIP-932 share groups (share.go); zero means Kafka's defaults (45 s, 5 s, 200).
	ShareSessionTimeout    time.Duration // group.share.session.timeout.ms
	ShareHeartbeatInterval time.Duration // group.share.heartbeat.interval.ms
	ShareMaxSize           int           // group.share.max.size
	// WriteTimeout bounds how long a write to __consumer_offsets waits for the ISR to
	// copy it (Kafka's offsets.commit.timeout.ms); zero means Kafka's 5 s.
	WriteTimeout time.Duration
}

// SettingsFrom reads Settings from the broker's config.
func SettingsFrom(b *config.Broker) Settings {
	return Settings{
		MinSessionTimeout:     b.Duration("group.min.session.timeout.ms"),
		MaxSessionTimeout:     b.Duration("group.max.session.timeout.ms"),
		InitialRebalanceDelay: b.Duration("group.initial.rebalance.delay.ms"),
		MaxSize:               b.Int("group.max.size"),
		MaxMetadataBytes:      b.Int("offset.metadata.max.bytes"),
		OffsetsRetention:      b.Duration("offsets.retention.minutes"),
		RetentionCheck:        b.Duration("offsets.retention.check.interval.ms"),

		ConsumerSessionTimeout:    b.Duration("group.consumer.session.timeout.ms"),
		ConsumerHeartbeatInterval: b.Duration("group.consumer.heartbeat.interval.ms"),

		ShareSessionTimeout:    b.Duration("group.share.session.timeout.ms"),
		ShareHeartbeatInterval: b.Duration("group.share.heartbeat.interval.ms"),
		ShareMaxSize:           b.Int("group.share.max.size"),
	}
}

// Partitions finds this broker's replicas; *partition.Registry is one.
type Partitions interface {
	Get(topic string, index int32) (*partition.Partition, bool)
}

// Config is everything a Coordinator needs.
type Config struct {
	NodeID     int32
	Partitions Partitions
	Settings   Settings
	Logger     *slog.Logger
	// Now is the clock for timestamps written to the log; nil means time.Now. Timers
	// always run on the runtime's clock (testing/synctest fakes both).
	Now func() time.Time
	// ShareMemberGone is told, outside the group's lock, when a share group member
	// leaves or expires, so the records it holds are released; nil: nobody listens.
	ShareMemberGone func(groupID, memberID string)
}

// Coordinator serves the classic groups whose __consumer_offsets partition this broker
// leads. See doc.go for its concurrency rules.
type Coordinator struct {
	cfg    Config
	logger *slog.Logger

	shards *coordinator.Shards[*shard] // the offsets partitions led here

	// mu orders ApplyMetadata and Close: deletions are seen by comparing each image with
	// the one before, so images must be taken one at a time and in order.
	mu       sync.Mutex
	topicIDs map[string]metadata.TopicID // guarded by mu; topics as of the last image, to see deletions
	applied  uint64                      // guarded by mu; the index of the last image applied
	closed   bool                        // guarded by mu

	// image is the last metadata image applied: consumer groups resolve subscriptions
	// and topic ids with it. Atomic, so a group's lock holder may read it.
	image atomic.Pointer[metadata.Image]

	stop chan struct{}  // closed by Close: stops the expiry loop
	wg   sync.WaitGroup // loaders and the expiry loop
}

// New returns a coordinator that leads nothing until ApplyMetadata says so. It starts
// the background expiry of old offsets; Close stops it.
func New(cfg Config) *Coordinator {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Settings.ConsumerSessionTimeout <= 0 {
		cfg.Settings.ConsumerSessionTimeout = 45 * time.Second
	}
	if cfg.Settings.ConsumerHeartbeatInterval <= 0 {
		cfg.Settings.ConsumerHeartbeatInterval = 5 * time.Second
	}
	if cfg.Settings.ShareSessionTimeout <= 0 {
		cfg.Settings.ShareSessionTimeout = 45 * time.Second
	}
	if cfg.Settings.ShareHeartbeatInterval <= 0 {
		cfg.Settings.ShareHeartbeatInterval = 5 * time.Second
	}
	if cfg.Settings.WriteTimeout <= 0 {
		cfg.Settings.WriteTimeout = 5 * time.Second
	}
	if cfg.Settings.ShareMaxSize <= 0 {
		cfg.Settings.ShareMaxSize = 200
	}
	c := &Coordinator{cfg: cfg, logger: cfg.Logger.With("component", "group"), stop: make(chan struct{})}
	// LocalLeaderOnly: the loader reads to the log end, which is settled only once the
	// local replica has taken the leadership (no fetcher appends to it any more).
	c.shards = coordinator.NewShards(coordinator.Config[*shard]{Topic: OffsetsTopic, NodeID: cfg.NodeID,
		Partitions: cfg.Partitions, LocalLeaderOnly: true, Load: c.loadLocked, Unload: c.unloadLocked})
	if cfg.Settings.RetentionCheck > 0 {
		c.wg.Add(1)
		go c.expireLoop(cfg.Settings.RetentionCheck)
	}
	return c
}

func (c *Coordinator) now() time.Time { return c.cfg.Now() }

// PartitionFor is the __consumer_offsets partition that holds a group: Kafka's
// Utils.abs(groupId.hashCode()) % partitions, so every tool agrees where a group lives.
func PartitionFor(groupID string, partitions int) int32 {
	return coordinator.PartitionFor(groupID, partitions)
}

// ApplyMetadata brings the set of led offsets partitions in line with img: partitions
// this broker now leads start loading (in the background), partitions it no longer leads
// are unloaded, and a new leader epoch reloads. Offsets of deleted topics are dropped.
// Safe to call often and from several goroutines.
func (c *Coordinator) ApplyMetadata(img *metadata.Image) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || (img.Index() < c.applied) {
		return // an older image than one already applied: callers race, the newest wins
	}
	c.applied = img.Index()
	c.image.Store(img)
	deleted := c.deletedTopicsLocked(img)
	c.shards.Apply(img)
	if len(deleted) > 0 {
		c.wg.Add(1)
		go c.dropTopicOffsets(deleted)
	}
}

// deletedTopicsLocked returns the topics of the last image that img no longer has (by
// ID: a topic re-created under its name was deleted too), and remembers img's topics.
func (c *Coordinator) deletedTopicsLocked(img *metadata.Image) map[string]bool {
	next := make(map[string]metadata.TopicID, img.TopicCount())
	for _, t := range img.Topics() {
		next[t.Name] = t.ID
	}
	var deleted map[string]bool
	for name, id := range c.topicIDs {
		if id2, ok := next[name]; !ok || id2 != id {
			if deleted == nil {
				deleted = map[string]bool{}
			}
			deleted[name] = true
		}
	}
	c.topicIDs = next
	return deleted
}

// unloadLocked stops serving a shard: its loader is canceled and its groups die, their
// waiting requests answered NOT_COORDINATOR so the clients look the coordinator up again.
// Called by Shards with its lock held.
func (c *Coordinator) unloadLocked(index int32, s *shard) {
	c.logger.Info("resigned as coordinator", "partition", index)
	s.cancel()
	for _, g := range s.unload() {
		g.lock()
		if g.state != Dead {
			g.killLocked(ErrNotCoordinator)
		}
		g.unlock()
	}
}

// Close stops every timer and background goroutine. Requests already waiting get
// NOT_COORDINATOR; the server is expected to have stopped sending new ones.
func (c *Coordinator) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	close(c.stop)
	c.shards.Close()
	c.mu.Unlock()
	c.wg.Wait()
}

// shardFor finds the shard that holds groupID, or says why there is none.
func (c *Coordinator) shardFor(groupID string) (*shard, error) {
	s, ok := c.shards.For(groupID)
	if !ok {
		return nil, ErrNotCoordinator
	}
	return s, s.Ready()
}

// maxLookups bounds retries of a lookup that keeps finding groups dying under it.
const maxLookups = 8

// lockGroup returns groupID's group with its lock held, creating it when create is set.
// It returns a nil group (and no error) for a group that does not exist.
func (c *Coordinator) lockGroup(groupID string, create bool) (*group, error) {
	for range maxLookups {
		s, err := c.shardFor(groupID)
		if err != nil {
			return nil, err
		}
		g, err := s.get(groupID, create)
		if err != nil || g == nil {
			return nil, err
		}
		g.lock()
		if g.state != Dead {
			return g, nil
		}
		g.unlock() // removed while we waited for its lock: look again
	}
	return nil, fmt.Errorf("%w: group %q keeps being removed", ErrCoordinatorNotAvailable, groupID)
}

// loaded returns the shards this broker serves, and whether any is still loading.
func (c *Coordinator) loaded() (shards []*shard, loading bool) {
	return c.shards.Loaded(ErrLoadInProgress)
}

// dropTopicOffsets removes every group's offsets for topics that were deleted, as
// Kafka does, writing tombstones.
func (c *Coordinator) dropTopicOffsets(topics map[string]bool) {
	defer c.wg.Done()
	shards, _ := c.loaded()
	for _, s := range shards {
		for _, g := range s.all() {
			g.lock()
			if g.state != Dead {
				var doomed []TopicPartition
				for tp := range g.offsets {
					if topics[tp.Topic] {
						doomed = append(doomed, tp)
					}
				}
				for _, tp := range g.inflightOnlyLocked() {
					if topics[tp.Topic] {
						doomed = append(doomed, tp)
					}
				}
				if len(doomed) > 0 {
					if err := g.removeOffsetsLocked(doomed); err != nil {
						c.logger.Warn("dropping offsets of deleted topics", "group", g.id, "err", err)
					}
				}
			}
			g.unlock()
		}
	}
}
