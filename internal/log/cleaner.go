package log

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"time"
)

// cleanerCheckpointFile is Kafka's per-dir file of each compacted log's first dirty
// offset, in the checkpoint format of the others.
const cleanerCheckpointFile = "cleaner-offset-checkpoint"

// Cleaner defaults, Kafka's.
const (
	defaultCleanerBackoff     = 15 * time.Second
	defaultCleanerDedupeBytes = 128 << 20
)

// cleanerManager is the Manager's log cleaner (Kafka's LogCleaner and
// LogCleanerManager): which logs are being cleaned, which failed, and the throttle the
// cleaner threads share.
type cleanerManager struct {
	throttle *throttle

	mu          sync.Mutex
	inProgress  map[*Log]bool // guarded by mu
	uncleanable map[*Log]bool // failed with an error other than an abort; guarded by mu
	fileMu      sync.Mutex    // serializes writes of cleaner-offset-checkpoint
}

// startCleaner starts log.cleaner.threads goroutines when log.cleaner.enable is set.
func (m *Manager) startCleaner(ctx context.Context) {
	m.clean.throttle = newThrottle(m.cfg.CleanerIOMaxBytesPerSecond)
	if !m.cfg.CleanerEnable {
		return
	}
	for range m.cfg.CleanerThreads {
		m.wg.Add(1)
		go m.cleanerLoop(ctx, m.newCleaner())
	}
}

func (m *Manager) newCleaner() *cleaner {
	c := newCleaner(m.logger, m.clean.throttle, m.cfg.CleanerDedupeBufferSize/int64(max(m.cfg.CleanerThreads, 1)))
	c.persist = func(*Log) error { return m.writeCleanerCheckpoint() }
	return c
}

// cleanerLoop cleans the filthiest log, again and again, and sleeps log.cleaner.backoff.ms
// when none needs cleaning (Kafka's CleanerThread.doWork).
func (m *Manager) cleanerLoop(ctx context.Context, c *cleaner) {
	defer m.wg.Done()
	for ctx.Err() == nil {
		if m.cleanFilthiest(ctx, c, time.Now(), nil) {
			continue
		}
		t := time.NewTimer(m.cfg.CleanerBackoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// RunCleaner cleans now, one after another, each compacted log that needs it (at most
// once each), and returns how many it cleaned. The background cleaner runs the same
// code; this is for tests and tools.
func (m *Manager) RunCleaner(now time.Time) int {
	c := m.newCleaner()
	done := map[*Log]bool{}
	n := 0
	for m.cleanFilthiest(context.Background(), c, now, done) {
		n++
	}
	return n
}

// cleanFilthiest picks the eligible compacted log with the highest dirty ratio that no
// other thread is cleaning (and not in skip), cleans it, and reports whether it picked
// one.
func (m *Manager) cleanFilthiest(ctx context.Context, c *cleaner, now time.Time, skip map[*Log]bool) bool {
	sec, ok := m.grabFilthiest(now, skip)
	if !ok {
		return false
	}
	l := sec.log
	if skip != nil {
		skip[l] = true
	}
	start := time.Now()
	stats, err := c.clean(ctx, sec, now)
	m.clean.mu.Lock()
	delete(m.clean.inProgress, l)
	l.cleaning.Store(false)
	switch {
	case err == nil:
		m.logger.Info("cleaned log", "dir", l.dir, "first_dirty", sec.firstDirty, "end_offset", stats.endOffset,
			"dirty_ratio", sec.ratio(), "groups", stats.groups, "bytes_read", stats.bytesRead,
			"bytes_written", stats.bytesWritten, "records_read", stats.recordsRead, "records_kept", stats.recordsKept,
			"map_entries", stats.mapEntries, "map_utilization", stats.mapUtilization, "took", time.Since(start))
	case errors.Is(err, errCleaningAborted):
		m.logger.Info("cleaning aborted", "dir", l.dir, "first_dirty", sec.firstDirty)
	default:
		// Kafka marks the partition uncleanable rather than retrying it in a loop.
		m.logger.Error("cleaning failed; log marked uncleanable", "dir", l.dir, "err", err)
		if m.clean.uncleanable == nil {
			m.clean.uncleanable = map[*Log]bool{}
		}
		m.clean.uncleanable[l] = true
	}
	m.clean.mu.Unlock()
	return true
}

// grabFilthiest is Kafka's grabFilthiestCompactedLog: among compacted logs that are not
// being cleaned, not failed and not skipped, the eligible one with the highest dirty
// ratio, marked in progress.
func (m *Manager) grabFilthiest(now time.Time, skip map[*Log]bool) (cleanable, bool) {
	m.clean.mu.Lock()
	defer m.clean.mu.Unlock()
	var best cleanable
	found := false
	for _, l := range m.Logs() {
		cfg := l.config.Load()
		if !cfg.Compacted || l.closed.Load() || m.clean.inProgress[l] || m.clean.uncleanable[l] || skip[l] {
			continue
		}
		sec := l.cleanableSection(now)
		if !sec.eligible(cfg) {
			continue
		}
		if !found || sec.ratio() > best.ratio() {
			best, found = sec, true
		}
	}
	if found {
		if m.clean.inProgress == nil {
			m.clean.inProgress = map[*Log]bool{}
		}
		m.clean.inProgress[best.log] = true
		best.log.cleaning.Store(true)
	}
	return best, found
}

// writeCleanerCheckpoint records every log's cleaner checkpoint that exists.
func (m *Manager) writeCleanerCheckpoint() error {
	m.clean.fileMu.Lock()
	defer m.clean.fileMu.Unlock()
	offsets := map[TopicPartition]int64{}
	for _, l := range m.Logs() {
		if cp := l.cleanerCheckpoint.Load(); cp >= 0 {
			offsets[TopicPartition{Topic: l.topic, Partition: l.partition}] = cp
		}
	}
	return writeCheckpoint(filepath.Join(m.cfg.Dir, cleanerCheckpointFile), offsets)
}
