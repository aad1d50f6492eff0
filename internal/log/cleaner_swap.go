package log

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// File suffixes of a cleaned segment on its way in (Kafka's names).
const (
	cleanedSuffix = ".cleaned" // being written; deleted by recovery
	swapSuffix    = ".swap"    // written and fsynced; a .log.swap means the swap was decided
)

// errSimulatedCrash stops a cleaner at a fault point in tests.
var errSimulatedCrash = errors.New("log: simulated crash")

// contiguousOffsets says whether recovery may demand that each batch starts where the
// previous one ended: only for a log that is neither compacted nor was cleaned before.
func (l *Log) contiguousOffsets(cfg *Config) bool {
	return !cfg.Compacted && !l.cleaned.Load()
}

// swap replaces a group of segments with their cleaned form (Kafka's replaceSegments),
// crash-safe at every step:
//
//  1. out's files are written and fsynced as <base>.*.cleaned (cleanGroup).
//  2. Under swapMu, the group is checked to be still in the log, unchanged (no Truncate
//     since the round began, no retention); otherwise the .cleaned files are deleted.
//  3. The index files, then the log file, are renamed to .swap, and the directory is
//     fsynced. The durable <base>.log.swap is the decision: from here on recovery
//     completes the swap.
//  4. Under appendMu, out replaces the group in the segment list. Readers that pinned
//     an old segment keep reading its descriptor.
//  5. The old segments' files are unlinked (one of them has out's final name).
//  6. out's files are renamed from .swap to their final names; the directory is fsynced.
//
// Truncate, DeleteRetained and Close take swapMu too, so none of them interleaves with
// steps 2-6.
func (c *cleaner) swap(l *Log, group []*segment, out *segment, firstDirty, generation int64) error {
	if c.hit("cleaned") {
		return errSimulatedCrash
	}
	l.swapMu.Lock()
	defer l.swapMu.Unlock()
	segs := *l.segments.Load()
	at := slices.Index(segs, group[0])
	if l.closed.Load() || l.truncations.Load() != generation || at < 0 || at+len(group) >= len(segs) ||
		!slices.Equal(segs[at:at+len(group)], group) {
		discardCleaned(out)
		return errCleaningAborted
	}
	if l.cleanerCheckpoint.Load() < 0 {
		// The first swap of this log: record durably that it is compacted, so that a
		// recovery before the partition's config arrives accepts its offset gaps.
		l.cleanerCheckpoint.Store(firstDirty)
		if c.persist != nil {
			if err := c.persist(l); err != nil {
				l.cleanerCheckpoint.Store(-1) // try again next round
				discardCleaned(out)
				return err
			}
		}
	}
	l.cleaned.Store(true)
	// The transaction index goes first: a decided swap (a .log.swap) always has its
	// .txnindex.swap, which recovery cannot rebuild (completeSwaps).
	final := [4]string{out.txns.path, out.offsets.path, out.times.path, out.logPath}
	for i, p := range final {
		final[i] = strings.TrimSuffix(p, cleanedSuffix)
	}
	swaps := [4]string{final[0] + swapSuffix, final[1] + swapSuffix, final[2] + swapSuffix, final[3] + swapSuffix}
	for i, p := range []string{out.txns.path, out.offsets.path, out.times.path, out.logPath} {
		if err := os.Rename(p, swaps[i]); err != nil {
			discardCleaned(out)
			removeQuietly(swaps[:i]...)
			return fmt.Errorf("swap cleaned segment: %w", err)
		}
	}
	if err := syncDir(l.dir); err != nil {
		// Roll back: the live log keeps its old segments, and a stale swap must not
		// be completed by a recovery after a later Truncate.
		out.release()
		removeQuietly(swaps[3], swaps[0], swaps[1], swaps[2])
		return err
	}
	if c.hit("swap") {
		return errSimulatedCrash
	}

	l.appendMu.Lock()
	out.txns.path, out.offsets.path, out.times.path, out.logPath = final[0], final[1], final[2], final[3]
	// Reload: appends may have rolled meanwhile. The group itself cannot have moved:
	// only Truncate and retention remove segments, and they wait for swapMu.
	segs = *l.segments.Load()
	replaced := make([]*segment, 0, len(segs)-len(group)+1)
	replaced = append(append(append(replaced, segs[:at]...), out), segs[at+len(group):]...)
	l.setSegments(replaced)
	l.appendMu.Unlock()

	var errs []error
	for _, s := range group {
		errs = append(errs, s.remove())
	}
	if c.hit("deleted") {
		return errSimulatedCrash
	}
	// The transaction index takes its name before the log does: once the .log.swap is
	// gone, recovery deletes the .swap files left.
	for i, p := range []string{final[0], final[3], final[1], final[2]} {
		if err := os.Rename(p+swapSuffix, p); err != nil {
			errs = append(errs, fmt.Errorf("finish swap: %w", err))
		}
		if i == 1 && c.hit("renamed") {
			return errSimulatedCrash
		}
	}
	errs = append(errs, syncDir(l.dir))
	for _, s := range group {
		s.release()
	}
	return errors.Join(errs...)
}

func (c *cleaner) hit(step string) bool { return c.fault != nil && c.fault(step) }

// completeSwaps finishes swaps a crash interrupted, as Kafka's log loader does: a
// <base>.log.swap replaces every segment whose base offset is in [base, its next
// offset), then takes the final name. Its offset and time indexes are dropped and
// rebuilt by the load that follows; its transaction index cannot be rebuilt from the
// segment alone (an entry's first offset may lie in an earlier segment), so it is
// moved into place: a <base>.txnindex.swap replaces the old <base>.txnindex; without
// one, a <base>.txnindex is already the cleaned one unless the old <base>.log is still
// there (swap renames the transaction index only after deleting the old segments). It
// reports whether it completed any.
func completeSwaps(dir string, logger *slog.Logger) (bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, fmt.Errorf("list %s: %w", dir, err)
	}
	var swaps, logs []int64
	for _, e := range entries {
		if stem, ok := strings.CutSuffix(e.Name(), ".log"+swapSuffix); ok {
			if base, err := strconv.ParseInt(stem, 10, 64); err == nil && len(stem) == 20 {
				swaps = append(swaps, base)
			}
		}
		if stem, ok := strings.CutSuffix(e.Name(), ".log"); ok {
			if base, err := strconv.ParseInt(stem, 10, 64); err == nil && len(stem) == 20 {
				logs = append(logs, base)
			}
		}
	}
	slices.Sort(swaps)
	for _, base := range swaps {
		path := segmentPath(dir, base, ".log"+swapSuffix)
		next, err := nextOffsetOfFile(path, base)
		if err != nil {
			return false, err
		}
		if err := replaceSwappedSegments(dir, base, next, logs); err != nil {
			return false, err
		}
		removeQuietly(segmentPath(dir, base, ".index"+swapSuffix), segmentPath(dir, base, ".timeindex"+swapSuffix))
		if err := os.Rename(path, segmentPath(dir, base, ".log")); err != nil {
			return false, fmt.Errorf("complete swap of %s: %w", path, err)
		}
		logger.Warn("completed an interrupted swap of a cleaned segment", "dir", dir, "base_offset", base, "next_offset", next)
	}
	if len(swaps) == 0 {
		return false, nil
	}
	return true, syncDir(dir)
}

// replaceSwappedSegments deletes the segments a swap at base replaces (those in logs
// with a base offset in [base, next)) and moves its transaction index into place.
func replaceSwappedSegments(dir string, base, next int64, logs []int64) error {
	txnSwap := segmentPath(dir, base, ".txnindex"+swapSuffix)
	_, err := os.Stat(txnSwap)
	haveTxnSwap := err == nil
	oldTxnIndexStale := haveTxnSwap || slices.Contains(logs, base)
	for _, old := range logs {
		if old < base || old >= max(next, base+1) {
			continue
		}
		if old != base {
			if err := removeSegmentFiles(dir, old); err != nil {
				return err
			}
			continue
		}
		for _, ext := range []string{".log", ".index", ".timeindex"} {
			if err := os.Remove(segmentPath(dir, old, ext)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("remove segment file: %w", err)
			}
		}
	}
	if oldTxnIndexStale && !haveTxnSwap {
		if err := os.Remove(segmentPath(dir, base, ".txnindex")); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove stale transaction index: %w", err)
		}
	}
	if haveTxnSwap {
		if err := os.Rename(txnSwap, segmentPath(dir, base, ".txnindex")); err != nil {
			return fmt.Errorf("complete swap of %s: %w", txnSwap, err)
		}
	}
	return nil
}

// nextOffsetOfFile is the offset after the last whole batch of a segment file (base
// when it has none). A swap file was fsynced before it got its name, so it is whole; a
// torn tail would only shorten the range it replaces, and recovery checks it next.
func nextOffsetOfFile(path string, base int64) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	next := base
	var buf []byte
	for {
		buf, err = readBatch(r, buf)
		if err != nil {
			return next, nil
		}
		h := ParseBatchHeader(buf)
		next = max(next, h.LastOffset()+1)
	}
}

// createSegmentWithSuffix is createSegment for files named <base>.<ext><suffix>.
func createSegmentWithSuffix(dir string, baseOffset int64, indexBytes int, suffix string) (*segment, error) {
	s := &segment{baseOffset: baseOffset, logPath: segmentPath(dir, baseOffset, ".log"+suffix), created: time.Now(), rollingTimestamp: -1}
	f, err := os.OpenFile(s.logPath, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create segment %s: %w", s.logPath, err)
	}
	s.file = f
	if s.offsets, err = createIndex(segmentPath(dir, baseOffset, ".index"+suffix), offsetEntrySize, indexBytes); err != nil {
		f.Close()
		os.Remove(s.logPath)
		return nil, err
	}
	if s.times, err = createIndex(segmentPath(dir, baseOffset, ".timeindex"+suffix), timeEntrySize, indexBytes); err != nil {
		f.Close()
		s.offsets.close()
		removeQuietly(s.logPath, s.offsets.path)
		return nil, err
	}
	if s.txns, err = createTxnIndexFile(segmentPath(dir, baseOffset, ".txnindex"+suffix)); err != nil {
		f.Close()
		s.offsets.close()
		s.times.close()
		removeQuietly(s.logPath, s.offsets.path, s.times.path)
		return nil, err
	}
	s.init()
	return s, nil
}

// createTxnIndexFile creates an empty transaction index file at path, unlike a live
// segment's, which appears with its first entry: a cleaned segment always has one, so
// that recovery knows an interrupted swap's index from the old one (completeSwaps).
func createTxnIndexFile(path string) (*txnIndex, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return &txnIndex{path: path, file: f, dirty: true}, nil
}

// discardCleaned closes and deletes a cleaned segment that will not be swapped in.
func discardCleaned(s *segment) {
	s.release()
	removeQuietly(s.logPath, s.offsets.path, s.times.path, s.txns.path)
}

func removeQuietly(paths ...string) {
	for _, p := range paths {
		_ = os.Remove(p)
	}
}

func setModTime(path string, t time.Time) error { return os.Chtimes(path, t, t) }
