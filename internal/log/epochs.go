package log

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// leaderEpochCheckpointFile is Kafka's name for a partition's epoch history.
const leaderEpochCheckpointFile = "leader-epoch-checkpoint"

// UndefinedEpoch and UndefinedOffset are Kafka's answers for an epoch the log cannot place
// (OffsetForLeaderEpoch's UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET).
const (
	UndefinedEpoch  int32 = -1
	UndefinedOffset int64 = -1
)

// EpochEntry is one leader epoch and the first offset written in it.
type EpochEntry struct {
	Epoch       int32
	StartOffset int64
}

// epochCache is the partition's leader epoch history (Kafka's LeaderEpochFileCache):
// which offset each leadership began at. A follower asks the leader where its last epoch
// ended (OffsetForLeaderEpoch) and truncates what it wrote past that point, so replicas
// never diverge after a failover (KIP-101, KIP-279). Entries are strictly increasing in
// both epoch and start offset.
//
// Durability: the checkpoint file is rewritten (atomically, fsynced) before the recovery
// point moves, at truncation and at close. Entries for data past the recovery point are
// rebuilt from the batches themselves when a crash makes recovery rescan that data.
type epochCache struct {
	path string

	mu      sync.RWMutex
	entries []EpochEntry // guarded by mu
	dirty   bool         // guarded by mu; changed since the checkpoint was written
}

// loadEpochCache reads dir's checkpoint; a missing file is an empty history.
func loadEpochCache(dir string) (*epochCache, error) {
	c := &epochCache{path: filepath.Join(dir, leaderEpochCheckpointFile)}
	f, err := os.Open(c.path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", c.path, err)
	}
	defer f.Close()
	entries, err := parseEpochCheckpoint(bufio.NewScanner(f))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", c.path, err)
	}
	for _, e := range entries {
		c.assignLocked(e.Epoch, e.StartOffset)
	}
	c.dirty = false
	return c, nil
}

// parseEpochCheckpoint reads Kafka's checkpoint text: a version line (0), a count line,
// then "epoch startOffset" per line.
func parseEpochCheckpoint(sc *bufio.Scanner) ([]EpochEntry, error) {
	line := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		return strings.TrimSpace(sc.Text()), true
	}
	version, ok := line()
	if !ok || version != "0" {
		return nil, fmt.Errorf("unsupported checkpoint version %q", version)
	}
	countText, _ := line()
	count, err := strconv.Atoi(countText)
	if err != nil || count < 0 {
		return nil, fmt.Errorf("bad entry count %q", countText)
	}
	entries := make([]EpochEntry, 0, min(count, 1024))
	for range count {
		text, ok := line()
		epochText, offsetText, found := strings.Cut(text, " ")
		if !ok || !found {
			return nil, fmt.Errorf("expected %d entries, got %d", count, len(entries))
		}
		epoch, err1 := strconv.ParseInt(epochText, 10, 32)
		offset, err2 := strconv.ParseInt(strings.TrimSpace(offsetText), 10, 64)
		if err1 != nil || err2 != nil || epoch < 0 || offset < 0 {
			return nil, fmt.Errorf("bad entry %q", text)
		}
		entries = append(entries, EpochEntry{Epoch: int32(epoch), StartOffset: offset})
	}
	return entries, sc.Err()
}

// assign records that epoch began at start, if it is newer than the latest entry. An
// entry that contradicts the history (an epoch not above the latest with a start beyond
// it, or a start before the latest) replaces the conflicting tail, as Kafka's does, so
// the history stays monotonic. It reports whether anything changed.
func (c *epochCache) assign(epoch int32, start int64) bool {
	if epoch < 0 {
		return false
	}
	c.mu.RLock()
	n := len(c.entries)
	current := n > 0 && c.entries[n-1].Epoch >= epoch
	c.mu.RUnlock()
	if current {
		return false // the common case: every append of the current leadership
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.assignLocked(epoch, start)
}

func (c *epochCache) assignLocked(epoch int32, start int64) bool {
	if n := len(c.entries); n > 0 {
		last := c.entries[n-1]
		if last.Epoch >= epoch && last.StartOffset <= start {
			return false // an epoch we already have, or an older one seen again
		}
	}
	c.entries = slices.DeleteFunc(c.entries, func(e EpochEntry) bool {
		return e.Epoch >= epoch || e.StartOffset >= start
	})
	c.entries = append(c.entries, EpochEntry{Epoch: epoch, StartOffset: start})
	c.dirty = true
	return true
}

// latest is the newest epoch, or UndefinedEpoch for an empty history.
func (c *epochCache) latest() int32 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if n := len(c.entries); n > 0 {
		return c.entries[n-1].Epoch
	}
	return UndefinedEpoch
}

// endOffsetFor answers OffsetForLeaderEpoch for epoch on a log ending at logEnd: the
// largest epoch not above it that the log knows, and the offset where that epoch's
// writes end (the next epoch's start, or logEnd for the latest). Kafka's
// LeaderEpochFileCache.endOffsetFor.
func (c *epochCache) endOffsetFor(epoch int32, logEnd int64) (int32, int64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n := len(c.entries)
	switch {
	case epoch == UndefinedEpoch || n == 0:
		return UndefinedEpoch, UndefinedOffset
	case c.entries[n-1].Epoch == epoch:
		return epoch, logEnd
	}
	higher, _ := slices.BinarySearchFunc(c.entries, epoch+1, func(e EpochEntry, t int32) int {
		return int(e.Epoch) - int(t)
	})
	if higher == n {
		return UndefinedEpoch, UndefinedOffset // newer than anything this log has
	}
	if higher == 0 {
		return epoch, c.entries[0].StartOffset // older than the whole history
	}
	return c.entries[higher-1].Epoch, c.entries[higher].StartOffset
}

// truncateFromEnd forgets epochs that began at or after end (the log was truncated there).
func (c *epochCache) truncateFromEnd(end int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	before := len(c.entries)
	c.entries = slices.DeleteFunc(c.entries, func(e EpochEntry) bool { return e.StartOffset >= end })
	c.dirty = c.dirty || len(c.entries) != before
}

// truncateFromStart drops epochs wholly below start (the log start moved there) and
// moves the first remaining epoch's start up to it, as Kafka's does.
func (c *epochCache) truncateFromStart(start int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	keep := 0
	for keep+1 < len(c.entries) && c.entries[keep+1].StartOffset <= start {
		keep++
	}
	if keep == 0 && (len(c.entries) == 0 || c.entries[0].StartOffset >= start) {
		return
	}
	c.entries = slices.Delete(c.entries, 0, keep)
	c.entries[0].StartOffset = max(c.entries[0].StartOffset, start)
	c.dirty = true
}

// snapshot copies the history.
func (c *epochCache) snapshot() []EpochEntry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return slices.Clone(c.entries)
}

// flush rewrites the checkpoint if the history changed since it was last written.
func (c *epochCache) flush() error {
	c.mu.Lock()
	if !c.dirty {
		c.mu.Unlock()
		return nil
	}
	entries := slices.Clone(c.entries)
	c.dirty = false
	c.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "0\n%d\n", len(entries))
	for _, e := range entries {
		fmt.Fprintf(&b, "%d %d\n", e.Epoch, e.StartOffset)
	}
	if err := writeFileAtomic(c.path, []byte(b.String())); err != nil {
		c.mu.Lock()
		c.dirty = true
		c.mu.Unlock()
		return err
	}
	return nil
}

// assignEpochs records the epochs of batches just appended at base: the leader's epoch
// when it stamped them (one check), else each batch's own, as a follower copies them.
// Caller holds appendMu.
func (l *Log) assignEpochs(records []byte, base int64, leaderEpoch int32) {
	if leaderEpoch >= 0 {
		l.epochs.assign(leaderEpoch, base)
		return
	}
	for pos := 0; pos+BatchHeaderSize <= len(records); {
		h := ParseBatchHeader(records[pos:])
		if h.Size() <= 0 {
			return
		}
		if h.Magic >= 2 && h.LeaderEpoch > l.epochs.latest() {
			l.epochs.assign(h.LeaderEpoch, h.BaseOffset)
		}
		pos += h.Size()
	}
}

// reconcileEpochs fits the loaded history to the recovered log: epochs that began past
// its end are forgotten, the first is moved up to the log start, and a log with data but
// no history (a directory from before the checkpoint existed) is seeded with its first
// batch's epoch.
func (l *Log) reconcileEpochs(first *segment) error {
	l.epochs.truncateFromEnd(l.LogEndOffset())
	l.epochs.truncateFromStart(l.LogStartOffset())
	if l.epochs.latest() == UndefinedEpoch && first.size.Load() >= BatchHeaderSize {
		var head [BatchHeaderSize]byte
		if _, err := first.file.ReadAt(head[:], 0); err != nil {
			return fmt.Errorf("read first batch of %s: %w", first.logPath, err)
		}
		if h := ParseBatchHeader(head[:]); h.Magic >= 2 && h.LeaderEpoch >= 0 {
			l.epochs.assign(h.LeaderEpoch, max(h.BaseOffset, l.LogStartOffset()))
		}
	}
	return nil
}

// truncateEpochs forgets epochs from end on and writes the history at once: a truncated
// follower appends a newer epoch's data next, and a stale checkpoint naming the old
// epochs past end would then contradict its log after a crash. Caller holds appendMu.
func (l *Log) truncateEpochs(end int64) error {
	l.epochs.truncateFromEnd(end)
	if end <= l.LogStartOffset() && l.activeSegment().size.Load() == 0 {
		l.epochs.clear() // an empty log has no history (Kafka's truncateFullyAndStartAt)
	}
	return l.epochs.flush()
}

// AssignEpoch records that epoch begins at the current log end: a new leader does this
// when its leadership starts (Kafka's maybeAssignEpochStartOffset), before any append.
func (l *Log) AssignEpoch(epoch int32) {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	l.epochs.assign(epoch, l.LogEndOffset())
}

// LatestEpoch is the newest leader epoch in the log's history, or UndefinedEpoch.
func (l *Log) LatestEpoch() int32 { return l.epochs.latest() }

// EndOffsetForEpoch answers OffsetForLeaderEpoch: the largest epoch not above epoch that
// the log knows and the offset where its writes end (the log end for the latest epoch),
// or UndefinedEpoch and UndefinedOffset when the log cannot place it.
func (l *Log) EndOffsetForEpoch(epoch int32) (int32, int64) {
	return l.epochs.endOffsetFor(epoch, l.LogEndOffset())
}

// EpochHistory returns the leader epoch history, oldest first.
func (l *Log) EpochHistory() []EpochEntry { return l.epochs.snapshot() }

// clear forgets the whole history.
func (c *epochCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dirty = c.dirty || len(c.entries) > 0
	c.entries = nil
}
