package log

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// ManagerConfig configures a data dir's logs and their background work, with Kafka's
// broker config names in the comments.
type ManagerConfig struct {
	Dir      string
	Defaults Config // topic config defaults for logs found on disk before their metadata
	Logger   *slog.Logger
	// RetentionCheckInterval is log.retention.check.interval.ms.
	RetentionCheckInterval time.Duration
	// FlushCheckInterval is how often flush.ms and sealed segments are checked
	// (log.flush.scheduler.interval.ms).
	FlushCheckInterval time.Duration
	// CheckpointInterval is log.flush.offset.checkpoint.interval.ms.
	CheckpointInterval time.Duration
	// HighWatermarkCheckpointInterval is replica.high.watermark.checkpoint.interval.ms:
	// how often the replication-offset-checkpoint is written (default 5s).
	HighWatermarkCheckpointInterval time.Duration
	// PreallocateAhead is nagare.log.preallocate.ahead.bytes (OpenOptions).
	PreallocateAhead int64
	// RecoveryThreads opens logs in parallel at start (num.recovery.threads.per.data.dir).
	RecoveryThreads int
	// ProducerIDExpiration returns producer.id.expiration.ms (read at each check, so a
	// dynamic change applies): producers idle this long are forgotten. nil: 24 h.
	ProducerIDExpiration func() time.Duration
	// ProducerIDExpirationCheckInterval is producer.id.expiration.check.interval.ms
	// (default 10 min).
	ProducerIDExpirationCheckInterval time.Duration

	// CleanerEnable is log.cleaner.enable: compact the logs whose Config.Compacted is
	// set, in the background. Kafka's default is true; the zero value here is off.
	CleanerEnable bool
	// CleanerThreads is log.cleaner.threads (default 1).
	CleanerThreads int
	// CleanerBackoff is log.cleaner.backoff.ms: the pause when no log needs cleaning
	// (default 15s).
	CleanerBackoff time.Duration
	// CleanerDedupeBufferSize is log.cleaner.dedupe.buffer.size: the bytes of key ->
	// offset map the cleaner threads share (default 128 MiB, 24 bytes a key).
	CleanerDedupeBufferSize int64
	// CleanerIOMaxBytesPerSecond is log.cleaner.io.max.bytes.per.second: the cleaner's
	// read plus write rate (<= 0 or +Inf: unlimited, Kafka's default).
	CleanerIOMaxBytesPerSecond float64
}

// Manager owns every partition log in one data dir: opening and recovering them at
// start, creating and deleting them, and the background retention, flush, checkpoint and
// compaction (cleaner.go) work. Its goroutines stop in Close.
type Manager struct {
	cfg    ManagerConfig
	logger *slog.Logger

	mu   sync.RWMutex
	logs map[TopicPartition]*Log // guarded by mu

	rolled chan struct{} // a log sealed a segment: wake the flusher
	clean  cleanerManager
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed bool // guarded by mu
}

// OpenManager opens every partition log under cfg.Dir, recovering them if the previous
// shutdown was not clean, and starts the background work.
func OpenManager(cfg ManagerConfig) (*Manager, error) {
	cfg = withManagerDefaults(cfg)
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir %s: %w", cfg.Dir, err)
	}
	m := &Manager{cfg: cfg, logger: cfg.Logger, logs: map[TopicPartition]*Log{}, rolled: make(chan struct{}, 1)}
	clean, err := m.takeCleanShutdownMarker()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := m.openAll(clean); err != nil {
		m.closeLogs()
		return nil, err
	}
	m.logger.Info("logs loaded", "dir", cfg.Dir, "partitions", len(m.logs), "clean_shutdown", clean, "took", time.Since(start))
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.wg.Add(1)
	go m.background(ctx)
	m.startCleaner(ctx)
	return m, nil
}

func withManagerDefaults(cfg ManagerConfig) ManagerConfig {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Defaults == (Config{}) {
		cfg.Defaults = DefaultConfig()
	}
	if cfg.RetentionCheckInterval <= 0 {
		cfg.RetentionCheckInterval = 5 * time.Minute
	}
	if cfg.FlushCheckInterval <= 0 {
		cfg.FlushCheckInterval = time.Second
	}
	if cfg.CheckpointInterval <= 0 {
		cfg.CheckpointInterval = time.Minute
	}
	if cfg.HighWatermarkCheckpointInterval <= 0 {
		cfg.HighWatermarkCheckpointInterval = 5 * time.Second
	}
	if cfg.RecoveryThreads <= 0 {
		cfg.RecoveryThreads = 2
	}
	if cfg.ProducerIDExpiration == nil {
		cfg.ProducerIDExpiration = func() time.Duration { return 24 * time.Hour }
	}
	if cfg.ProducerIDExpirationCheckInterval <= 0 {
		cfg.ProducerIDExpirationCheckInterval = 10 * time.Minute
	}
	if cfg.CleanerThreads <= 0 {
		cfg.CleanerThreads = 1
	}
	if cfg.CleanerBackoff <= 0 {
		cfg.CleanerBackoff = defaultCleanerBackoff
	}
	if cfg.CleanerDedupeBufferSize <= 0 {
		cfg.CleanerDedupeBufferSize = defaultCleanerDedupeBytes
	}
	return cfg
}

// takeCleanShutdownMarker reports whether the last shutdown was clean and removes the
// marker durably, so a crash from now on is seen as unclean.
func (m *Manager) takeCleanShutdownMarker() (bool, error) {
	path := filepath.Join(m.cfg.Dir, cleanShutdownFile)
	err := os.Remove(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("remove clean shutdown marker: %w", err)
	}
	return true, syncDir(m.cfg.Dir)
}

// openAll opens the partition directories with a few workers.
func (m *Manager) openAll(clean bool) error {
	recovery, err := readCheckpoint(filepath.Join(m.cfg.Dir, recoveryPointFile))
	if err != nil {
		m.logger.Warn("ignoring unreadable checkpoint; recovering every log", "err", err)
		recovery, clean = map[TopicPartition]int64{}, false
	}
	starts, err := readCheckpoint(filepath.Join(m.cfg.Dir, logStartOffsetFile))
	if err != nil {
		m.logger.Warn("ignoring unreadable checkpoint", "err", err)
		starts = map[TopicPartition]int64{}
	}
	hws, err := readCheckpoint(filepath.Join(m.cfg.Dir, highWatermarkFile))
	if err != nil {
		m.logger.Warn("ignoring unreadable checkpoint; high watermarks start at the log ends", "err", err)
		hws = map[TopicPartition]int64{}
	}
	cleaned, err := readCheckpoint(filepath.Join(m.cfg.Dir, cleanerCheckpointFile))
	if err != nil {
		// Any log may have been compacted: recover them all accepting offset gaps.
		m.logger.Warn("ignoring unreadable checkpoint; every log may have offset gaps", "err", err)
		cleaned = nil
	}
	tps, err := m.partitionDirs()
	if err != nil {
		return err
	}
	work := make(chan TopicPartition)
	errs := make(chan error, len(tps))
	var wg sync.WaitGroup
	for range m.cfg.RecoveryThreads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for tp := range work {
				errs <- m.openOne(tp, clean, recovery, starts, cleaned, hws)
			}
		}()
	}
	for _, tp := range tps {
		work <- tp
	}
	close(work)
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		if err != nil {
			all = append(all, err)
		}
	}
	return errors.Join(all...)
}

func (m *Manager) openOne(tp TopicPartition, clean bool, recovery, starts, cleaned, hws map[TopicPartition]int64) error {
	rp, known := recovery[tp]
	firstDirty, compacted := cleaned[tp] // nil cleaned: unknown
	l, err := Open(OpenOptions{
		Dir: filepath.Join(m.cfg.Dir, tp.String()), Topic: tp.Topic, Partition: tp.Partition,
		Config: m.cfg.Defaults, Logger: m.logger, RecoveryPoint: rp, LogStartOffset: starts[tp],
		Clean: clean && known, OnRoll: m.noteRoll, Cleaned: compacted || cleaned == nil,
		PreallocateAhead: m.cfg.PreallocateAhead,
	})
	if err != nil {
		return fmt.Errorf("open log %s: %w", tp, err)
	}
	if compacted {
		l.cleanerCheckpoint.Store(firstDirty)
	}
	if hw, ok := hws[tp]; ok && hw < l.LogEndOffset() {
		// Recovery leaves the high watermark at the log end; a replicated partition
		// committed only up to its checkpoint. A lone leader moves it back to its log
		// end when it takes the partition (partition.Registry), as Kafka's leader does.
		l.highWatermark.Store(max(hw, l.LogStartOffset()))
	}
	m.mu.Lock()
	m.logs[tp] = l
	m.mu.Unlock()
	return nil
}

// partitionDirs lists the data dir's partition directories, removing ones a deletion
// left behind.
func (m *Manager) partitionDirs() ([]TopicPartition, error) {
	entries, err := os.ReadDir(m.cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("list data dir %s: %w", m.cfg.Dir, err)
	}
	var tps []TopicPartition
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if strings.HasSuffix(e.Name(), "-delete") {
			if err := os.RemoveAll(filepath.Join(m.cfg.Dir, e.Name())); err != nil {
				return nil, fmt.Errorf("finish deleting %s: %w", e.Name(), err)
			}
			continue
		}
		if tp, ok := parsePartitionDir(e.Name()); ok {
			tps = append(tps, tp)
		}
	}
	return tps, nil
}

// noteRoll wakes the flusher without blocking the appender.
func (m *Manager) noteRoll(*Log) {
	select {
	case m.rolled <- struct{}{}:
	default:
	}
}

// Get returns the partition's log, if this data dir has it.
func (m *Manager) Get(tp TopicPartition) (*Log, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	l, ok := m.logs[tp]
	return l, ok
}

// GetOrCreate returns the partition's log, creating it with cfg if it does not exist.
// An existing log takes cfg as its configuration.
func (m *Manager) GetOrCreate(tp TopicPartition, cfg Config) (*Log, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	if l, ok := m.logs[tp]; ok {
		l.SetConfig(cfg)
		return l, nil
	}
	l, err := Open(OpenOptions{
		Dir: filepath.Join(m.cfg.Dir, tp.String()), Topic: tp.Topic, Partition: tp.Partition,
		Config: cfg, Logger: m.logger, Clean: true, OnRoll: m.noteRoll,
		PreallocateAhead: m.cfg.PreallocateAhead,
	})
	if err != nil {
		return nil, fmt.Errorf("create log %s: %w", tp, err)
	}
	if err := syncDir(m.cfg.Dir); err != nil {
		return nil, err
	}
	m.logs[tp] = l
	return l, nil
}

// Delete closes the partition's log and removes its files. The directory is first
// renamed to a -delete name, so a crash midway leaves nothing that looks like a log.
func (m *Manager) Delete(tp TopicPartition) error {
	l, ok := m.forget(tp)
	if !ok {
		return nil
	}
	if err := l.Close(); err != nil {
		m.logger.Warn("closing deleted log", "partition", tp.String(), "err", err)
	}
	var suffix [8]byte
	_, _ = rand.Read(suffix[:])
	doomed := filepath.Join(m.cfg.Dir, tp.String()+"."+hex.EncodeToString(suffix[:])+"-delete")
	if err := os.Rename(l.dir, doomed); err != nil {
		return fmt.Errorf("delete log %s: %w", tp, err)
	}
	if err := syncDir(m.cfg.Dir); err != nil {
		return err
	}
	if err := os.RemoveAll(doomed); err != nil {
		return fmt.Errorf("delete log %s: %w", tp, err)
	}
	return nil
}

// Logs returns every open log, sorted by topic and partition.
func (m *Manager) Logs() []*Log {
	m.mu.RLock()
	out := make([]*Log, 0, len(m.logs))
	for _, l := range m.logs {
		out = append(out, l)
	}
	m.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].topic != out[j].topic {
			return out[i].topic < out[j].topic
		}
		return out[i].partition < out[j].partition
	})
	return out
}

// background runs retention, flushing and checkpointing until ctx ends.
func (m *Manager) background(ctx context.Context) {
	defer m.wg.Done()
	retention := time.NewTicker(m.cfg.RetentionCheckInterval)
	flush := time.NewTicker(m.cfg.FlushCheckInterval)
	checkpoint := time.NewTicker(m.cfg.CheckpointInterval)
	hwCheckpoint := time.NewTicker(m.cfg.HighWatermarkCheckpointInterval)
	defer hwCheckpoint.Stop()
	producers := time.NewTicker(m.cfg.ProducerIDExpirationCheckInterval)
	defer producers.Stop()
	defer retention.Stop()
	defer flush.Stop()
	defer checkpoint.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-retention.C:
			m.RunRetention(time.Now())
		case <-m.rolled:
			m.flushDue(time.Now())
		case <-flush.C:
			m.flushDue(time.Now())
		case <-checkpoint.C:
			if err := m.WriteCheckpoints(); err != nil {
				m.logger.Error("writing checkpoints", "err", err)
			}
		case <-hwCheckpoint.C:
			if err := m.writeHighWatermarks(); err != nil {
				m.logger.Error("writing the high watermark checkpoint", "err", err)
			}
		case <-producers.C:
			m.RemoveExpiredProducers(time.Now())
		}
	}
}

// RunRetention applies retention to every log now.
func (m *Manager) RunRetention(now time.Time) {
	for _, l := range m.Logs() {
		if _, err := l.DeleteRetained(now); err != nil && !errors.Is(err, ErrClosed) {
			m.logger.Error("retention", "dir", l.dir, "err", err)
		}
	}
}

// RemoveExpiredProducers applies producer.id.expiration.ms to every log now.
func (m *Manager) RemoveExpiredProducers(now time.Time) {
	expiration := m.cfg.ProducerIDExpiration()
	for _, l := range m.Logs() {
		if n := l.RemoveExpiredProducers(now, expiration); n > 0 {
			m.logger.Debug("expired producer ids", "dir", l.dir, "count", n)
		}
	}
}

func (m *Manager) flushDue(now time.Time) {
	for _, l := range m.Logs() {
		if err := l.FlushIfDue(now); err != nil && !errors.Is(err, ErrClosed) {
			m.logger.Error("flush", "dir", l.dir, "err", err)
		}
	}
}

// WriteCheckpoints records every log's recovery point, log start offset and cleaner
// checkpoint.
func (m *Manager) WriteCheckpoints() error {
	recovery := map[TopicPartition]int64{}
	starts := map[TopicPartition]int64{}
	for _, l := range m.Logs() {
		tp := TopicPartition{Topic: l.topic, Partition: l.partition}
		recovery[tp] = l.RecoveryPoint()
		starts[tp] = l.LogStartOffset()
	}
	return errors.Join(
		m.writeHighWatermarks(),
		writeCheckpoint(filepath.Join(m.cfg.Dir, recoveryPointFile), recovery),
		writeCheckpoint(filepath.Join(m.cfg.Dir, logStartOffsetFile), starts),
		m.writeCleanerCheckpoint(),
	)
}

// writeHighWatermarks writes every log's high watermark to the
// replication-offset-checkpoint (Kafka's format and name).
func (m *Manager) writeHighWatermarks() error {
	hws := map[TopicPartition]int64{}
	for _, l := range m.Logs() {
		hws[TopicPartition{Topic: l.topic, Partition: l.partition}] = l.HighWatermark()
	}
	return writeCheckpoint(filepath.Join(m.cfg.Dir, highWatermarkFile), hws)
}

// Close stops the background work, flushes and closes every log, writes the checkpoints
// and, if all of that succeeded, the clean shutdown marker.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	if m.cancel != nil {
		m.cancel()
	}
	m.wg.Wait()
	err := m.closeLogs()
	if err == nil {
		err = m.WriteCheckpoints()
	}
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(m.cfg.Dir, cleanShutdownFile), nil)
}

func (m *Manager) closeLogs() error {
	var errs []error
	for _, l := range m.Logs() {
		if err := l.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", l.dir, err))
		}
	}
	return errors.Join(errs...)
}

// CloseLog closes the partition's log and forgets it, keeping its files: the partition
// is assigned to other brokers now. Its checkpoint entries go with it, so if a later
// start opens the directory again, that log is recovered from its segments.
func (m *Manager) CloseLog(tp TopicPartition) error {
	l, ok := m.forget(tp)
	if !ok {
		return nil
	}
	if err := l.Close(); err != nil {
		return fmt.Errorf("close log %s: %w", tp, err)
	}
	return nil
}

// forget removes the partition's log from the manager and returns it, if it had one.
func (m *Manager) forget(tp TopicPartition) (*Log, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.logs[tp]
	delete(m.logs, tp)
	return l, ok
}
