package log

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"time"
)

// errCleaningAborted: the log changed under the cleaner (truncated, segments deleted by
// retention, closed) or the cleaner is stopping; nothing was swapped in for the group
// being cleaned, and the log is as valid as before.
var errCleaningAborted = errors.New("log: cleaning aborted")

// cleaner is one cleaner thread's state, reused from log to log: the offset map (its
// share of the dedupe buffer) and scratch buffers.
type cleaner struct {
	logger      *slog.Logger
	throttle    *throttle
	bufferBytes int64
	// persist makes the log's cleaner checkpoint durable (the Manager's
	// cleaner-offset-checkpoint file); nil when nobody keeps one (tests).
	persist func(*Log) error
	// maxRecordsBytes bounds a batch's decompressed records (maxDecompressedBatch).
	maxRecordsBytes int
	// fault, in tests, is called at each step of a swap; true stops the cleaner right
	// there, leaving the files as a crash at that point would.
	fault func(step string) bool

	offsets *offsetMap // allocated on first use
	reader  *bufio.Reader
	batch   []byte // the batch being read
	records []byte // its records, decompressed
	output  []byte // cleaned batches not yet written
	kept    []v2Record
	builder batchBuilder
}

func newCleaner(logger *slog.Logger, t *throttle, bufferBytes int64) *cleaner {
	return &cleaner{logger: logger, throttle: t, bufferBytes: bufferBytes, maxRecordsBytes: maxDecompressedBatch}
}

// cleanable is a log's split into a clean and a dirty section (Kafka's LogToClean), from
// one snapshot of its segments.
type cleanable struct {
	log              *Log
	segs             []*segment
	firstDirty       int64 // offsets below are clean (the cleaner checkpoint)
	firstUncleanable int64 // a segment base offset: the end of what may be cleaned now
	cleanBytes       int64 // bytes of segments starting below firstDirty
	dirtyBytes       int64 // bytes of segments from firstDirty's to firstUncleanable
	mustClean        bool  // max.compaction.lag.ms has passed for a dirty record
	truncations      int64 // the log's Truncate count when this was computed
}

// ratio is the dirty ratio min.cleanable.dirty.ratio is compared with.
func (c *cleanable) ratio() float64 {
	if c.cleanBytes+c.dirtyBytes == 0 {
		return 0
	}
	return float64(c.dirtyBytes) / float64(c.cleanBytes+c.dirtyBytes)
}

// eligible is Kafka's rule: dirty bytes exist, and the dirty ratio is above
// min.cleanable.dirty.ratio or max.compaction.lag.ms forces a clean.
func (c *cleanable) eligible(cfg *Config) bool {
	return c.dirtyBytes > 0 && (c.mustClean || c.ratio() > cfg.MinCleanableDirtyRatio)
}

// cleanableSection computes the log's clean and dirty sections now, as Kafka's
// LogCleanerManager.cleanableOffsets does: the dirty section starts at the cleaner
// checkpoint (reset to the log start when outside the log) and ends at the base of the
// segment holding the first offset that may not be cleaned: the last stable offset (an
// open transaction may still abort, and its records must not shadow committed ones),
// the active segment, or the first segment holding a record younger than
// min.compaction.lag.ms.
func (l *Log) cleanableSection(now time.Time) cleanable {
	cfg := l.config.Load()
	sec := cleanable{log: l, truncations: l.truncations.Load()}
	segs := *l.segments.Load()
	sec.segs = segs
	first := l.cleanerCheckpoint.Load()
	if first < l.LogStartOffset() || first > l.LogEndOffset() {
		first = l.LogStartOffset()
	}
	sec.firstDirty = first
	last := len(segs) - 1
	bound := min(l.LastStableOffset(), segs[last].baseOffset)
	dirtyFrom := segmentIndexFor(segs, first)
	if lag := cfg.MinCompactionLag.Milliseconds(); lag > 0 {
		for _, s := range segs[min(dirtyFrom, last):last] {
			if s.maxTimestamp.Load() > now.UnixMilli()-lag {
				bound = min(bound, s.baseOffset)
				break
			}
		}
	}
	sec.firstUncleanable = segs[segmentIndexFor(segs, bound)].baseOffset
	for i, s := range segs {
		if s.baseOffset < first {
			sec.cleanBytes += s.size.Load()
		}
		if i >= dirtyFrom && s.baseOffset < sec.firstUncleanable {
			sec.dirtyBytes += s.size.Load()
		}
	}
	if lag := cfg.MaxCompactionLag.Milliseconds(); lag > 0 && sec.dirtyBytes > 0 {
		earliest := int64(math.MaxInt64)
		for _, s := range segs[dirtyFrom:last] {
			if ts := s.firstBatchTimestamp(); ts > 0 {
				earliest = min(earliest, ts)
			}
		}
		sec.mustClean = earliest < now.UnixMilli()-lag
	}
	return sec
}

// firstBatchTimestamp is the max timestamp of the segment's first batch (Kafka's
// rolling-based timestamp), or -1.
func (s *segment) firstBatchTimestamp() int64 {
	if !s.acquire() {
		return -1
	}
	defer s.release()
	hs := headerScanner{file: s.file, end: s.size.Load()}
	h, _, err := hs.at(0)
	if err != nil {
		return -1
	}
	return headerMaxTimestamp(h)
}

// cleanStats describe one cleaning round, for the log line.
type cleanStats struct {
	endOffset                int64
	segmentsBefore, groups   int
	bytesRead, bytesWritten  int64
	recordsRead, recordsKept int64
	mapEntries               int
	mapUtilization           float64
}

// roundState is what the groups of a round share; producers and txns are per group.
type roundState struct {
	cfg       *Config
	now       int64                // unix ms: tombstone and marker horizons are set and judged against it
	producers map[int64]lastRecord // active producers' batches to keep (cleaner_txn.go)
	txns      *cleanedTxns         // the group's transactions, and its cleaned transaction index
	stats     *cleanStats
}

// clean runs one cleaning round over sec (Kafka's Cleaner.doClean): map the dirty
// section's keys to their last offsets, then rewrite the segments up to the end of what
// the map covers, group by group, keeping only each key's latest record; finally move
// the cleaner checkpoint. A group already swapped in stays even when a later one aborts.
func (c *cleaner) clean(ctx context.Context, sec cleanable, now time.Time) (cleanStats, error) {
	l := sec.log
	stats := cleanStats{segmentsBefore: len(sec.segs) - 1}
	generation := sec.truncations
	if c.offsets == nil {
		c.offsets = newOffsetMap(c.bufferBytes)
	}
	c.offsets.clear()
	if err := c.buildOffsetMap(ctx, sec, &stats); err != nil {
		return stats, err
	}
	end := c.offsets.latest + 1
	stats.endOffset = end
	stats.mapEntries = c.offsets.size
	stats.mapUtilization = float64(c.offsets.size) / float64(len(c.offsets.offsets))
	if end <= sec.firstDirty {
		return stats, nil
	}
	cfg := l.config.Load()
	st := &roundState{cfg: cfg, now: now.UnixMilli(), stats: &stats}
	var toClean []*segment
	for _, s := range sec.segs[:len(sec.segs)-1] {
		if s.baseOffset < end {
			toClean = append(toClean, s)
		}
	}
	for _, group := range groupSegments(toClean, int64(cfg.SegmentBytes), int64(cfg.SegmentIndexBytes), sec.firstUncleanable) {
		stats.groups++
		st.producers = l.lastRecordsOfActiveProducers()
		out, err := c.cleanGroup(ctx, l, group, nextBaseAfter(sec.segs, group), st)
		if err != nil {
			return stats, err
		}
		if err := c.swap(l, group, out, sec.firstDirty, generation); err != nil {
			return stats, err
		}
	}
	l.swapMu.Lock()
	moved := !l.closed.Load() && l.truncations.Load() == generation
	if moved {
		l.cleanerCheckpoint.Store(end)
	}
	l.swapMu.Unlock()
	if !moved {
		return stats, errCleaningAborted
	}
	if c.persist != nil {
		return stats, c.persist(l)
	}
	return stats, nil
}

// buildOffsetMap maps each key in the dirty section [firstDirty, firstUncleanable) to
// its last offset, stopping early when the map is full (Kafka's buildOffsetMap): then
// offsets.latest is the last offset mapped, and only the log up to it is cleaned now.
// Records of aborted transactions are not mapped: they must not shadow older values.
func (c *cleaner) buildOffsetMap(ctx context.Context, sec cleanable, stats *cleanStats) error {
	segs, start, end := sec.segs, sec.firstDirty, sec.firstUncleanable
	txns := newCleanedTxns(sec.log.AbortedTransactions(start, end), nil)
	for i := segmentIndexFor(segs, start); i < len(segs)-1 && segs[i].baseOffset < end; i++ {
		s := segs[i]
		next := end
		if segs[i+1].baseOffset < end {
			next = segs[i+1].baseOffset
		}
		pos := int64(0)
		if s.baseOffset < start {
			var err error
			if pos, err = s.lookupPosition(start); err != nil {
				return err
			}
		}
		full := false
		err := c.forEachBatch(ctx, sec.log, s, pos, stats, func(batch []byte) (bool, error) {
			h := ParseBatchHeader(batch)
			aborted, err := txns.onBatch(batch, &h)
			if err != nil {
				return false, err
			}
			if h.LastOffset() < start {
				return false, nil
			}
			if !h.Control() && !aborted { // markers have no keys
				var records []byte
				var err error
				if records, c.records, err = recordsOf(batch, &h, c.records, c.maxRecordsBytes); err != nil {
					return false, err
				}
				err = forEachRecord(&h, records, func(r *v2Record) error {
					if r.hasKey && r.offset >= start && !c.offsets.put(r.key, r.offset) {
						full = true
						return errMapFull
					}
					return nil
				})
				if full {
					return true, nil
				}
				if err != nil {
					return false, err
				}
			}
			c.offsets.latest = max(c.offsets.latest, h.LastOffset())
			return false, nil
		})
		if err != nil || full {
			return err
		}
		// Offsets up to the next segment are covered even where cleaning left a gap.
		c.offsets.latest = max(c.offsets.latest, next-1)
	}
	return nil
}

var errMapFull = errors.New("log: cleaner offset map full")

// forEachBatch reads the whole batches of segment s from pos, checking each one's magic
// and CRC, throttled, and calls fn with each (valid until the next call) until fn says
// stop. It aborts when ctx ends or the log closes.
func (c *cleaner) forEachBatch(ctx context.Context, l *Log, s *segment, pos int64, stats *cleanStats,
	fn func(batch []byte) (stop bool, err error)) error {
	if !s.acquire() {
		return errCleaningAborted
	}
	defer s.release()
	section := io.NewSectionReader(s.file, pos, s.size.Load()-pos)
	if c.reader == nil {
		c.reader = bufio.NewReaderSize(section, 1<<20)
	} else {
		c.reader.Reset(section)
	}
	defer c.reader.Reset(nil)
	for {
		var err error
		c.batch, err = readBatch(c.reader, c.batch)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("clean %s at %d: %w", s.logPath, pos, err)
		}
		if ctx.Err() != nil || l.closed.Load() {
			return errCleaningAborted
		}
		if err := validateStoredBatch(c.batch); err != nil {
			return fmt.Errorf("clean %s at %d: %w", s.logPath, pos, err)
		}
		stats.bytesRead += int64(len(c.batch))
		if err := c.throttle.wait(ctx, len(c.batch)); err != nil {
			return errCleaningAborted
		}
		pos += int64(len(c.batch))
		stop, err := fn(c.batch)
		if err != nil || stop {
			return err
		}
	}
}

// validateStoredBatch checks what the log guarantees of a stored batch, a weaker
// check than ValidateBatch: a stored batch may have been compacted, so its
// record count may be below lastOffsetDelta+1, down to zero.
func validateStoredBatch(b []byte) error {
	size, err := batchSpan(b)
	if err != nil {
		return err
	}
	if size != len(b) {
		return fmt.Errorf("%w: batch length says %d bytes, have %d", ErrCorruptBatch, size, len(b))
	}
	if magic := int8(b[offMagic]); magic != 2 {
		return fmt.Errorf("%w: magic %d", ErrCorruptBatch, magic)
	}
	if want, got := binary.BigEndian.Uint32(b[offCRC:]), crc32c(b[offAttributes:]); want != got {
		return fmt.Errorf("%w: crc %08x, computed %08x", ErrCorruptBatch, want, got)
	}
	h := ParseBatchHeader(b)
	if h.LastOffsetDelta < 0 || h.RecordCount < 0 || h.RecordCount > h.LastOffsetDelta+1 {
		return fmt.Errorf("%w: %d records for last offset delta %d", ErrCorruptBatch, h.RecordCount, h.LastOffsetDelta)
	}
	return nil
}

// groupSegments splits the segments to clean into runs that each become one cleaned
// segment (Kafka's groupSegmentsBySize): a run's log bytes stay within segment.bytes,
// each of its index files within segment.index.bytes, and its offsets within the int32
// range of relative offsets. limit is the first uncleanable offset, bounding the last
// segment's offsets.
func groupSegments(segs []*segment, maxBytes, maxIndexBytes, limit int64) [][]*segment {
	var groups [][]*segment
	for len(segs) > 0 {
		group := segs[:1]
		logBytes, offsetBytes, timeBytes := segs[0].size.Load(), segs[0].offsets.sizeBytes(), segs[0].times.sizeBytes()
		for len(group) < len(segs) {
			next := segs[len(group)]
			lastOffset := limit - 1
			if len(group)+1 < len(segs) {
				lastOffset = segs[len(group)+1].baseOffset - 1
			}
			if logBytes+next.size.Load() > maxBytes ||
				offsetBytes+next.offsets.sizeBytes() > maxIndexBytes ||
				timeBytes+next.times.sizeBytes() > maxIndexBytes ||
				(next.size.Load() > 0 && lastOffset-group[0].baseOffset > math.MaxInt32) {
				break
			}
			logBytes += next.size.Load()
			offsetBytes += next.offsets.sizeBytes()
			timeBytes += next.times.sizeBytes()
			group = segs[:len(group)+1]
		}
		groups = append(groups, group)
		segs = segs[len(group):]
	}
	return groups
}

// sizeBytes is the index's size in entries' bytes: in memory when loaded, else the
// (trimmed) file's size.
func (ix *index) sizeBytes() int64 {
	ix.mu.RLock()
	loaded, n := ix.loaded, len(ix.buf)
	ix.mu.RUnlock()
	if loaded {
		return int64(n)
	}
	st, err := ix.file.Stat()
	if err != nil {
		return 0
	}
	return st.Size()
}

// cleanGroup writes the cleaned form of a group of segments into a new segment with
// the first one's base offset, in .cleaned files, fsynced (Kafka's cleanSegments). The
// group's last batch always survives, emptied if need be, so the cleaned segment ends
// where the group ended: recovery of an interrupted swap relies on it to know which
// segments the cleaned one replaces. next is the base offset of the segment after the
// group: the aborted transactions overlapping [group base, next) are collected, segment
// by segment as Kafka does, to drop their records and index the markers kept.
func (c *cleaner) cleanGroup(ctx context.Context, l *Log, group []*segment, next int64, st *roundState) (out *segment, err error) {
	out, err = createSegmentWithSuffix(l.dir, group[0].baseOffset, st.cfg.SegmentIndexBytes, cleanedSuffix)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			discardCleaned(out)
		}
	}()
	c.output = c.output[:0]
	var trailing [BatchHeaderSize]byte // header of the group's last batch when it was dropped
	dropped := false
	st.txns = newCleanedTxns(nil, out.txns)
	for i, s := range group {
		upper := next
		if i+1 < len(group) {
			upper = group[i+1].baseOffset
		}
		st.txns.add(l.AbortedTransactions(s.baseOffset, upper))
		err := c.forEachBatch(ctx, l, s, 0, st.stats, func(batch []byte) (bool, error) {
			before := len(c.output)
			var err error
			if c.output, err = c.filterBatch(c.output, batch, st); err != nil {
				return false, err
			}
			if dropped = len(c.output) == before; dropped {
				copy(trailing[:], batch)
			}
			if len(c.output) >= 1<<20 {
				return false, c.writeOutput(ctx, out, st)
			}
			return false, nil
		})
		if err != nil {
			return out, err
		}
	}
	if dropped {
		c.output = appendEmptyBatch(c.output, trailing[:])
	}
	if err := c.writeOutput(ctx, out, st); err != nil {
		return out, err
	}
	if err := out.seal(); err != nil {
		return out, err
	}
	// Keep the replaced files' modification time, as Kafka does: it is the age of a
	// segment without record timestamps.
	if st, err := group[len(group)-1].file.Stat(); err == nil {
		_ = setModTime(out.logPath, st.ModTime())
		out.created = st.ModTime()
	}
	return out, out.flush()
}

func (c *cleaner) writeOutput(ctx context.Context, out *segment, st *roundState) error {
	if len(c.output) == 0 {
		return nil
	}
	if err := out.appendBatches(c.output, st.cfg.IndexIntervalBytes, 0, 0); err != nil { // written once, then sealed
		return err
	}
	st.stats.bytesWritten += int64(len(c.output))
	n := len(c.output)
	c.output = c.output[:0]
	if err := c.throttle.wait(ctx, n); err != nil {
		return errCleaningAborted
	}
	return nil
}

// filterBatch appends to dst what survives of batch (Kafka's MemoryRecords.filterTo with
// the cleaner's filter): the batch unchanged when every record survives and it needs no
// new delete horizon; a rebuilt batch of the survivors; an empty batch in place of an
// active producer's last one; or nothing. A batch of an aborted transaction loses all
// its records; a marker whose transaction is gone from the log first gets a delete
// horizon, then goes once it passed (cleaner_txn.go).
func (c *cleaner) filterBatch(dst, batch []byte, st *roundState) ([]byte, error) {
	h := ParseBatchHeader(batch)
	st.stats.recordsRead += int64(h.RecordCount)
	discardable, err := st.txns.onBatch(batch, &h)
	if err != nil {
		return dst, err
	}
	hasHorizon := h.Attributes&attrDeleteHorizon != 0
	discardRecords := discardable
	if h.Control() {
		// Markers piggy-back on the tombstone horizon (Kafka's checkBatchRetention).
		discardRecords = discardable && hasHorizon && h.BaseTimestamp <= st.now
	}
	retainEmpty := isLastOfProducer(st.producers, &h)
	if discardRecords && !retainEmpty {
		return dst, nil
	}
	kept, all, tombstones := c.kept[:0], !discardRecords, false
	if !discardRecords {
		if kept, all, tombstones, err = c.keptRecords(batch, &h, hasHorizon, st.now); err != nil {
			return dst, err
		}
	}
	st.stats.recordsKept += int64(len(kept))
	needHorizon := !hasHorizon && (tombstones || (discardable && h.Control()))
	switch {
	case len(kept) > 0 && all && !needHorizon:
		return append(dst, batch...), nil
	case len(kept) > 0:
		horizon := int64(-1)
		if needHorizon {
			// First time these tombstones or this marker are cleaned: they go after
			// delete.retention.ms.
			horizon = st.now + st.cfg.DeleteRetention.Milliseconds()
		} else if hasHorizon {
			horizon = h.BaseTimestamp
		}
		return c.builder.rebuild(dst, batch, &h, kept, horizon)
	case retainEmpty:
		return appendEmptyBatch(dst, batch), nil
	}
	return dst, nil
}

// keptRecords decodes the batch's records and returns those that survive: all of a
// control batch's, else those retain keeps. all says none was dropped; tombstones that
// a kept one is a tombstone.
func (c *cleaner) keptRecords(batch []byte, h *BatchHeader, hasHorizon bool, now int64) (kept []v2Record, all, tombstones bool, err error) {
	records, buf, err := recordsOf(batch, h, c.records, c.maxRecordsBytes)
	c.records = buf
	if err != nil {
		return nil, false, false, err
	}
	kept, all = c.kept[:0], true
	err = forEachRecord(h, records, func(r *v2Record) error {
		if !h.Control() && !c.retain(r, h, hasHorizon, now) {
			all = false
			return nil
		}
		kept = append(kept, *r)
		tombstones = tombstones || !r.hasValue
		return nil
	})
	c.kept = kept
	return kept, all, tombstones, err
}

// retain is Kafka's Cleaner.shouldRetainRecord: a record past what the map covers
// stays; otherwise a record needs a key, must be its key's latest, and if it is a
// tombstone its batch's delete horizon must not have passed (or not be set yet).
// Records without a key are dropped, as in Kafka (produce rejects them on compacted
// topics).
func (c *cleaner) retain(r *v2Record, h *BatchHeader, hasHorizon bool, now int64) bool {
	if r.offset > c.offsets.latest {
		return true
	}
	if !r.hasKey {
		return false
	}
	if r.offset < c.offsets.get(r.key) {
		return false
	}
	return r.hasValue || !hasHorizon || now < h.BaseTimestamp
}

// nextBaseAfter is the base offset of the segment following group in segs: where the
// group's offsets end.
func nextBaseAfter(segs []*segment, group []*segment) int64 {
	last := group[len(group)-1]
	for i, s := range segs {
		if s == last && i+1 < len(segs) {
			return segs[i+1].baseOffset
		}
	}
	return last.baseOffset
}
