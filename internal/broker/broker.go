package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/api"
	"github.com/nagare-dev/nagare/internal/auth"
	"github.com/nagare-dev/nagare/internal/config"
	"github.com/nagare-dev/nagare/internal/group"
	"github.com/nagare-dev/nagare/internal/interbroker"
	"github.com/nagare-dev/nagare/internal/log"
	"github.com/nagare-dev/nagare/internal/metadata"
	"github.com/nagare-dev/nagare/internal/partition"
	"github.com/nagare-dev/nagare/internal/quota"
	"github.com/nagare-dev/nagare/internal/readpath"
	"github.com/nagare-dev/nagare/internal/replica"
	"github.com/nagare-dev/nagare/internal/server"
	"github.com/nagare-dev/nagare/internal/share"
	"github.com/nagare-dev/nagare/internal/stats"
	"github.com/nagare-dev/nagare/internal/txn"
)

// Config says how to start a broker. Properties use Kafka's broker config names
// (node.id, log.dirs, listeners, num.partitions, ...); DataDir and Listen, when set,
// override log.dirs and listeners.
type Config struct {
	Properties map[string]string
	DataDir    string // overrides log.dirs
	Listen     string // host:port; overrides listeners with a PLAINTEXT listener
	HTTP       string // host:port for /metrics, /healthz, /readyz, /v1/clients; "" disables it
	PProf      bool   // also serve /debug/pprof on HTTP (nagare serve --pprof)
	Logger     *slog.Logger

	// AddScram are credentials to create at start for users that have none for that
	// mechanism (nagare serve --add-scram, like kafka-storage format --add-scram).
	AddScram []auth.ScramSpec
	// TuneRuntime lets the broker size the Go runtime for itself (readpath.go: one P per
	// warm-up worker on top of the runtime's choice) unless GOMAXPROCS is set in the
	// environment. GOMAXPROCS is process-wide, so only the process's owner sets this:
	// nagare serve and the benchmarks, not tests that run many brokers in one process.
	TuneRuntime bool
}

// Broker is one running Nagare broker.
type Broker struct {
	logger   *slog.Logger
	conf     *config.Broker
	nodeID   int32
	dataDir  string
	registry *prometheus.Registry

	logs       *log.Manager
	meta       *metadata.Store
	partitions *partition.Registry
	replicas   *replica.Manager // follower fetchers and the ISR keeper
	groups     *group.Coordinator
	shares     *share.Manager   // share.go
	txns       *txn.Coordinator // txn.go
	// producerIDs hands out producer ids to InitProducerId, idempotent and transactional.
	producerIDs *metadata.ProducerIDAllocator
	control     controlPlane    // controller.go
	quotas      *quota.Manager  // quota.go
	stats       *stats.Stats    // stats.go; nil when nagare.metrics.enable is false
	authorizer  *acl.Authorizer // acl.go; nil when ACLs are not enforced
	// interBroker is how this broker dials the others (interbroker.go): TLS, SASL.
	interBroker *interbroker.Settings
	readPath    *readpath.Pool // readpath.go
	// tuneRuntime: size GOMAXPROCS for the warm-up pool (Config.TuneRuntime, readpath.go).
	tuneRuntime bool
	server      *server.Server
	http        *http.Server
	httpAddr    net.Addr

	ready    atomic.Bool
	stop     context.CancelFunc
	wg       sync.WaitGroup
	shutOnce sync.Once
	shutErr  error
}

// Start opens the broker's state and starts serving. On error everything opened so far
// is closed again.
func Start(ctx context.Context, cfg Config) (*Broker, error) {
	b := &Broker{logger: cfg.Logger, registry: prometheus.NewRegistry()}
	if b.logger == nil {
		b.logger = slog.Default()
	}
	if err := b.start(ctx, cfg); err != nil {
		if closeErr := b.close(context.Background()); closeErr != nil {
			b.logger.Error("closing after a failed start", "err", closeErr)
		}
		return nil, err
	}
	return b, nil
}

func (b *Broker) start(ctx context.Context, cfg Config) error {
	if err := b.loadConfig(cfg); err != nil {
		return err
	}
	b.tuneRuntime = cfg.TuneRuntime
	if err := b.startHTTP(cfg.HTTP, cfg.PProf); err != nil {
		return err
	}
	if isBroker, _ := b.conf.Roles(); !isBroker {
		return b.startControllerOnly(ctx) // controller_only.go
	}
	if err := b.openInterBroker(); err != nil { // interbroker.go
		return err
	}
	if err := b.openLogs(); err != nil {
		return err
	}
	if err := b.openMetadata(ctx); err != nil {
		return err
	}
	b.startController() // controller.go
	b.applyDynamicConfigs()
	if err := b.addScramCredentials(ctx, cfg.AddScram); err != nil { // security.go
		return err
	}
	b.openQuotas()
	b.openAuthorizer()
	b.partitions = partition.NewRegistry(b.nodeID, b.logs, b.conf, b.logger)
	b.openShares() // share.go
	b.groups = group.New(group.Config{NodeID: b.nodeID, Partitions: b.partitions, Settings: group.SettingsFrom(b.conf), Logger: b.logger,
		ShareMemberGone: b.shareMemberGone})
	b.openTransactions() // txn.go
	if err := b.startServer(ctx); err != nil {
		return err
	}
	if err := b.register(ctx); err != nil { // registration.go
		return err
	}
	if err := b.startHeartbeats(ctx); err != nil { // controller.go
		return fmt.Errorf("broker: first heartbeat to the controller: %w", err)
	}
	if err := b.partitions.Sync(b.meta.Image()); err != nil {
		return fmt.Errorf("sync partitions: %w", err)
	}
	b.groups.ApplyMetadata(b.meta.Image())
	b.txns.ApplyMetadata(b.meta.Image())
	b.replicas = replica.New(replica.Config{NodeID: b.nodeID, Partitions: b.partitions, Metadata: b.meta,
		Settings: replica.SettingsFrom(b.conf), Logger: b.logger, BrokerEpoch: b.control.epoch,
		FollowerQuota: replicationQuota(b.conf, "follower.replication.throttled.rate"), InterBroker: b.interBroker})
	b.replicas.Apply(b.meta.Image())
	followCtx, cancel := context.WithCancel(context.Background())
	b.stop = cancel
	b.wg.Add(2)
	go b.followMetadata(followCtx)
	go b.maintainQuotas(followCtx)
	b.ready.Store(true)
	b.logger.Info("broker ready", "node_id", b.nodeID, "listener", b.Addr(), "data_dir", b.dataDir)
	return nil
}

func (b *Broker) loadConfig(cfg Config) error {
	props := map[string]string{}
	for k, v := range cfg.Properties {
		props[k] = v
	}
	if cfg.DataDir != "" {
		props["log.dirs"] = cfg.DataDir
	}
	if cfg.Listen != "" {
		props["listeners"] = "PLAINTEXT://" + cfg.Listen
	}
	conf, err := config.NewBroker(props)
	if err != nil {
		return err
	}
	for _, w := range conf.Warnings() {
		b.logger.Warn(w)
	}
	b.conf = conf
	b.nodeID = int32(conf.Int("node.id"))
	dirs := conf.List("log.dirs")
	if len(dirs) == 0 {
		dirs = conf.List("log.dir")
	}
	if len(dirs) != 1 {
		return fmt.Errorf("broker: exactly one data dir is supported, log.dirs has %d", len(dirs))
	}
	b.dataDir = dirs[0]
	return nil
}

func (b *Broker) openLogs() error {
	defaults := partition.LogConfig(config.ResolveTopic(b.conf, nil))
	logs, err := log.OpenManager(log.ManagerConfig{
		Dir:                    b.dataDir,
		Defaults:               defaults,
		Logger:                 b.logger,
		PreallocateAhead:       b.conf.Long("nagare.log.preallocate.ahead.bytes"),
		RetentionCheckInterval: b.conf.Duration("log.retention.check.interval.ms"),
		CheckpointInterval:     b.conf.Duration("log.flush.offset.checkpoint.interval.ms"),

		HighWatermarkCheckpointInterval:   b.conf.Duration("replica.high.watermark.checkpoint.interval.ms"),
		ProducerIDExpiration:              b.producerIDExpiration,
		ProducerIDExpirationCheckInterval: b.conf.Duration("producer.id.expiration.check.interval.ms"),

		CleanerEnable:              b.conf.Bool("log.cleaner.enable") && b.conf.Int("log.cleaner.threads") > 0,
		CleanerThreads:             b.conf.Int("log.cleaner.threads"),
		CleanerBackoff:             b.conf.Duration("log.cleaner.backoff.ms"),
		CleanerDedupeBufferSize:    b.conf.Long("log.cleaner.dedupe.buffer.size"),
		CleanerIOMaxBytesPerSecond: b.conf.Double("log.cleaner.io.max.bytes.per.second"),
	})
	if err != nil {
		return err
	}
	b.logs = logs
	return nil
}

func (b *Broker) openMetadata(ctx context.Context) error {
	cfg, err := b.metadataConfig() // cluster.go
	if err != nil {
		return err
	}
	meta, err := metadata.Open(cfg)
	if err != nil {
		return err
	}
	b.meta = meta
	if err := meta.WaitReady(ctx); err != nil {
		return fmt.Errorf("metadata quorum: %w", err)
	}
	return nil
}

func (b *Broker) startServer(ctx context.Context) error {
	lcs, err := b.listenerConfigs() // security.go
	if err != nil {
		return err
	}
	sasl, err := b.saslConfig(lcs)
	if err != nil {
		return err
	}
	clusterID, err := b.meta.EnsureClusterID(ctx)
	if err != nil {
		return err
	}
	if err := b.openReadPath(); err != nil {
		return err
	}
	dispatcher := api.NewDispatcher(api.Config{
		NodeID: b.nodeID, ClusterID: clusterID, Metadata: b.meta, Partitions: b.partitions, Broker: b.conf,
		ProducerIDs: b.producerIDs, Groups: b.groups, TxnMarkers: b.groups, Transactions: b.txns, Logger: b.logger, Shares: b.shares,
		ReadPath: b.readPath, Quotas: b.quotas, Authorizer: b.authorizer, Stats: b.stats, SASL: sasl,
		ListenerAddr:           b.advertisedAddr,
		LeaderReplicationQuota: replicationQuota(b.conf, "leader.replication.throttled.rate"),
		OnPanic:                func(listener string) { b.server.CountHandlerPanic(listener) }, // b.server exists before any request
	})
	b.server = server.New(server.Config{
		Listeners:          lcs,
		MaxRequestBytes:    int32(b.conf.Int("socket.request.max.bytes")),
		MaxAuthBytes:       int32(b.conf.Int("sasl.server.max.receive.size")),
		ConnectionsMaxIdle: b.conf.Duration("connections.max.idle.ms"),
		Registry:           b.registry,
		Stats:              b.stats,
		ConnectionGate:     b.quotas,
	}, dispatcher, b.logger)
	if err := b.exportReadPath(); err != nil {
		return err
	}
	if err := b.exportTopics(); err != nil {
		return err
	}
	return b.server.Start()
}

// followMetadata applies every metadata change to the partition registry.
func (b *Broker) followMetadata(ctx context.Context) {
	defer b.wg.Done()
	changed, cancel := b.meta.Watch()
	defer cancel()
	applied := ^uint64(0) // the content index last applied: none yet
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-changed:
			if !ok {
				return
			}
			img := b.meta.Image()
			if img.ContentIndex() == applied {
				continue // NoOp records only: nothing to apply
			}
			applied = img.ContentIndex()
			b.applyDynamicConfigs()
			b.applyQuotas(img)
			api.ApplyACLs(b.authorizer, img)
			if err := b.partitions.Sync(img); err != nil {
				b.logger.Error("applying metadata to partitions", "err", err)
			}
			b.replicas.Apply(img) // after the registry: fetchers follow what it opened
			b.groups.ApplyMetadata(img)
			b.txns.ApplyMetadata(img)
		}
	}
}

// applyDynamicConfigs brings the broker config's dynamic layers (this broker's and the
// cluster default) in line with the metadata. A bad entry is logged and skipped; the
// rest still apply.
func (b *Broker) applyDynamicConfigs() {
	if err := api.ApplyDynamicConfigs(b.conf, b.meta.Image(), b.nodeID); err != nil {
		b.logger.Error("applying dynamic broker configs", "err", err)
	}
}

// Addr is the Kafka listener's bound address; "" on a controller-only node.
func (b *Broker) Addr() string {
	if b.server == nil {
		return ""
	}
	return b.server.Addr().String()
}

// HTTPAddr is the HTTP endpoint's bound address, or "" when it is disabled.
func (b *Broker) HTTPAddr() string {
	if b.httpAddr == nil {
		return ""
	}
	return b.httpAddr.String()
}

// DataDir is the broker's data directory.
func (b *Broker) DataDir() string { return b.dataDir }

// Partitions is the broker's partition registry, for tests that compare replicas.
func (b *Broker) Partitions() *partition.Registry { return b.partitions }

// Shutdown stops the broker gracefully: in a cluster its leaderships move to other
// replicas first (controlled shutdown, controller.go); then no new connections, in-flight
// requests finish (bounded by ctx), logs are flushed and closed cleanly.
func (b *Broker) Shutdown(ctx context.Context) error {
	b.shutOnce.Do(func() {
		b.controlledShutdown(ctx)
		b.shutErr = b.close(ctx)
	})
	return b.shutErr
}

func (b *Broker) close(ctx context.Context) error {
	b.ready.Store(false)
	var errs []error
	if b.http != nil {
		errs = append(errs, b.http.Shutdown(ctx))
	}
	if b.server != nil {
		if err := b.server.Shutdown(ctx); err != nil && !errors.Is(err, server.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if b.readPath != nil {
		errs = append(errs, b.readPath.Close()) // after the server: no fetch waits on it now
	}
	if b.stop != nil {
		b.stop()
	}
	b.wg.Wait()
	if b.replicas != nil {
		b.replicas.Close() // before the logs close: fetchers append to them
	}
	if b.txns != nil {
		b.txns.Close() // before the logs close: its loaders and completions use them
	}
	if b.groups != nil {
		b.groups.Close() // before the logs close: its timers and loaders use them
	}
	if b.shares != nil {
		b.shares.Close() // before the logs close: its timers and acquired ranges use them
	}
	b.stopControl() // controller.go; before the metadata store closes
	if b.meta != nil {
		errs = append(errs, b.meta.Close())
	}
	if b.logs != nil {
		errs = append(errs, b.logs.Close())
	}
	err := errors.Join(errs...)
	if err == nil && b.logs != nil {
		b.logger.Info("broker stopped cleanly", "node_id", b.nodeID)
	}
	return err
}
