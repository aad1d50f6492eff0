package txn

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nagare-dev/nagare/internal/config"
	"github.com/nagare-dev/nagare/internal/coordinator"
	"github.com/nagare-dev/nagare/internal/metadata"
	"github.com/nagare-dev/nagare/internal/partition"
)

// StateTopic is the internal topic that holds transaction state.
const StateTopic = "__transaction_state"

// Settings are the broker configs the coordinator reads, by their Kafka names.
type Settings struct {
	MaxTimeout     time.Duration // transaction.max.timeout.ms
	IDExpiration   time.Duration // transactional.id.expiration.ms
	AbortInterval  time.Duration // transaction.abort.timed.out.transaction.cleanup.interval.ms
	RemoveInterval time.Duration // transaction.remove.expired.transaction.cleanup.interval.ms
	// WriteTimeout bounds how long a state write waits for the ISR to copy it (Kafka
	// uses request.timeout.ms); zero means 30 s.
	WriteTimeout time.Duration
	// MarkerBackoff is the pause before markers a leader could not take are sent again
	// (Kafka's retry.backoff.ms for the marker channel); zero means 100 ms.
	MarkerBackoff time.Duration
	// ConcurrentWait is how long a request that finds its id's previous transaction
	// completing waits for it before answering CONCURRENT_TRANSACTIONS (park.go); zero
	// means 20 ms (what clients back off after that answer), negative never waits.
	ConcurrentWait time.Duration
}

// SettingsFrom reads Settings from the broker's config.
func SettingsFrom(b *config.Broker) Settings {
	return Settings{
		MaxTimeout:     b.Duration("transaction.max.timeout.ms"),
		IDExpiration:   b.Duration("transactional.id.expiration.ms"),
		AbortInterval:  b.Duration("transaction.abort.timed.out.transaction.cleanup.interval.ms"),
		RemoveInterval: b.Duration("transaction.remove.expired.transaction.cleanup.interval.ms"),
	}
}

// Partitions finds this broker's replicas; *partition.Registry is one.
type Partitions interface {
	Get(topic string, index int32) (*partition.Partition, bool)
}

// Metadata is the cluster metadata the coordinator reads: where partitions lead, and
// brokers' addresses for the markers. *metadata.Store is one.
type Metadata interface {
	Image() *metadata.Image
}

// ProducerIDs hands out producer ids never handed out before.
type ProducerIDs interface {
	NextProducerID(ctx context.Context) (int64, error)
}

// Config is everything a Coordinator needs.
type Config struct {
	NodeID      int32
	Partitions  Partitions
	Metadata    Metadata
	ProducerIDs ProducerIDs
	Settings    Settings
	// ClientOpts are added to every inter-broker client that sends markers (TLS, SASL
	// credentials), as the replica fetchers' clients are built.
	ClientOpts []kgo.Opt
	// OffsetMarkers hears of markers this broker appends to its own __consumer_offsets
	// partitions (the group coordinator); those bypass the WriteTxnMarkers handler.
	OffsetMarkers OffsetMarkers
	Logger        *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Coordinator serves the transactional ids whose __transaction_state partition this
// broker leads. See doc.go for its concurrency rules.
type Coordinator struct {
	cfg       Config
	logger    *slog.Logger
	markers   *markerSender
	completer *completer
	ctx       context.Context // ends at Close: marker requests in flight stop
	cancel    context.CancelFunc

	shards *coordinator.Shards[*shard] // the state partitions led here

	stop chan struct{}  // closed by Close
	wg   sync.WaitGroup // loaders, completions and the background loops
}

// New returns a coordinator that leads nothing until ApplyMetadata says so. It starts
// the loops that abort timed-out transactions and expire idle ids; Close stops them.
func New(cfg Config) *Coordinator {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &cfg.Settings
	if s.WriteTimeout <= 0 {
		s.WriteTimeout = 30 * time.Second
	}
	if s.MarkerBackoff <= 0 {
		s.MarkerBackoff = 100 * time.Millisecond
	}
	if s.ConcurrentWait == 0 {
		s.ConcurrentWait = 20 * time.Millisecond
	}
	c := &Coordinator{cfg: cfg, logger: cfg.Logger.With("component", "txn"), stop: make(chan struct{})}
	c.shards = coordinator.NewShards(coordinator.Config[*shard]{Topic: StateTopic, NodeID: cfg.NodeID,
		Partitions: cfg.Partitions, LocalLeaderOnly: true, Load: c.loadLocked, Unload: c.unloadLocked})
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.markers = newMarkerSender(c)
	c.completer = newCompleter(c)
	c.startLoop(s.AbortInterval, c.abortTimedOut)
	c.startLoop(s.RemoveInterval, c.expireIDs)
	return c
}

func (c *Coordinator) now() time.Time { return c.cfg.Now() }

// PartitionFor is the __transaction_state partition of a transactional id: Kafka's
// Utils.abs(transactionalId.hashCode()) % partitions.
func PartitionFor(transactionalID string, partitions int) int32 {
	return coordinator.PartitionFor(transactionalID, partitions)
}

// ApplyMetadata brings the led state partitions in line with img: newly led ones start
// loading, ones no longer led (or led at a new epoch) are unloaded. Safe to call often
// and from several goroutines.
func (c *Coordinator) ApplyMetadata(img *metadata.Image) {
	c.shards.Apply(img)
}

// unloadLocked stops serving a shard no longer led here; Shards calls it with its lock
// held.
func (c *Coordinator) unloadLocked(index int32, s *shard) {
	s.unload()
	c.logger.Info("resigned as transaction coordinator", "partition", index)
}

// Close stops every background goroutine and the marker clients.
func (c *Coordinator) Close() {
	if !c.shards.Close() {
		return // closed already
	}
	close(c.stop)
	c.cancel()
	c.markers.close()   // first: no marker queue starts once the wait begins
	c.completer.close() // nor a completion writer
	c.wg.Wait()
}

// shardFor finds the shard of a transactional id, or says why there is none.
func (c *Coordinator) shardFor(id string) (*shard, error) {
	s, ok := c.shards.For(id)
	if !ok {
		return nil, ErrNotCoordinator
	}
	return s, s.Ready()
}

// loaded returns the shards this broker serves, and whether any is still loading.
func (c *Coordinator) loaded() (shards []*shard, loading bool) {
	return c.shards.Loaded(ErrLoadInProgress)
}

// startLoop runs fn every interval until Close; a non-positive interval runs nothing.
func (c *Coordinator) startLoop(interval time.Duration, fn func()) {
	if interval <= 0 {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-c.stop:
				return
			case <-t.C:
				fn()
			}
		}
	}()
}
