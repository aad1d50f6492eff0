package log

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// OpenOptions say how to open a partition's log.
type OpenOptions struct {
	Dir       string // <data-dir>/<topic>-<partition>
	Topic     string
	Partition int32
	Config    Config
	Logger    *slog.Logger
	// RecoveryPoint is the checkpointed offset below which data was fsynced.
	RecoveryPoint int64
	// LogStartOffset is the checkpointed log start offset (DeleteRecords survives restart).
	LogStartOffset int64
	// Clean says the previous shutdown was clean: no rescan past the recovery point.
	Clean bool
	// OnRoll is called (under the append lock, so it must not block) when a segment is
	// sealed and needs an fsync off the append path.
	OnRoll func(*Log)
	// PreallocateAhead is nagare.log.preallocate.ahead.bytes: disk the active segment
	// keeps allocated past its end (prealloc.go); 0 turns it off.
	PreallocateAhead int64
	// Cleaned says the log was compacted before (the Manager knows it from its
	// cleaner-offset-checkpoint): recovery accepts offset gaps even if Config.Compacted
	// is not set yet.
	Cleaned bool
}

// Open opens or creates a partition's log, recovering it when the last shutdown was not
// clean: segments from the one holding the recovery point onwards are rescanned, their
// CRCs checked, a torn or corrupt tail cut off and their indexes rebuilt.
func Open(opts OpenOptions) (*Log, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create log dir %s: %w", opts.Dir, err)
	}
	l := &Log{dir: opts.Dir, topic: opts.Topic, partition: opts.Partition, logger: opts.Logger, onRoll: opts.OnRoll,
		preallocateAhead: opts.PreallocateAhead,
		producers:        newProducerState()}
	epochs, err := loadEpochCache(opts.Dir)
	if err != nil {
		return nil, err
	}
	l.epochs = epochs
	cfg := opts.Config
	l.config.Store(&cfg)
	l.cleanerCheckpoint.Store(-1)
	l.cleaned.Store(opts.Cleaned)
	segs, err := l.loadSegments(opts)
	if err != nil {
		for _, s := range segs {
			s.release()
		}
		return nil, err
	}
	l.setSegments(segs)
	last := segs[len(segs)-1]
	end, err := last.scanTail(cfg.IndexIntervalBytes)
	if err != nil {
		l.setSegments(nil)
		for _, s := range segs {
			s.release()
		}
		return nil, fmt.Errorf("open %s: %w", opts.Dir, err)
	}
	l.logEndOffset.Store(end)
	start := max(opts.LogStartOffset, segs[0].baseOffset)
	l.logStartOffset.Store(min(start, end))
	if err := l.reconcileEpochs(segs[0]); err != nil {
		l.setSegments(nil)
		for _, s := range segs {
			s.release()
		}
		return nil, fmt.Errorf("open %s: %w", opts.Dir, err)
	}
	// After a crash only snapshots below the recovery point are known to sit under
	// fsynced data and transaction index entries; the replay from there restores both.
	snapshotBound := end
	if !opts.Clean {
		snapshotBound = max(opts.RecoveryPoint, 0)
	}
	if err := l.reloadProducerStateLocked(snapshotBound); err != nil {
		l.setSegments(nil)
		for _, s := range segs {
			s.release()
		}
		return nil, fmt.Errorf("open %s: %w", opts.Dir, err)
	}
	l.highWatermark.Store(end)
	l.recoveryPoint.Store(min(max(opts.RecoveryPoint, 0), end))
	if !opts.Clean {
		l.recoveryPoint.Store(end) // everything was just rescanned and is what we trust
	}
	return l, nil
}

// loadSegments opens every segment in the directory, oldest first, recovering the
// unflushed ones, and creates the first segment of an empty log.
func (l *Log) loadSegments(opts OpenOptions) ([]*segment, error) {
	swapped, err := completeSwaps(opts.Dir, l.logger)
	if err != nil {
		return nil, err
	}
	if swapped {
		l.cleaned.Store(true)
	}
	bases, err := listSegments(opts.Dir)
	if err != nil {
		return nil, err
	}
	cfg := opts.Config
	var segs []*segment
	for i, base := range bases {
		s, rebuild, err := openSegment(opts.Dir, base, cfg.SegmentIndexBytes)
		if err != nil {
			return segs, err
		}
		segs = append(segs, s)
		nextBase := int64(-1)
		if i+1 < len(bases) {
			nextBase = bases[i+1]
		}
		unflushed := !opts.Clean && (nextBase < 0 || nextBase > opts.RecoveryPoint)
		if !rebuild && !unflushed {
			rebuild = !s.sane(nextBase)
		}
		if unflushed {
			// Entries past the recovery point may be torn or missing; the producer-state
			// replay writes them again from the markers that survived.
			if err := s.txns.truncateTo(max(opts.RecoveryPoint, 0)); err != nil {
				return segs, err
			}
		}
		if !rebuild && !unflushed {
			continue
		}
		rules := recoveryRules{indexInterval: cfg.IndexIntervalBytes, contiguous: l.contiguousOffsets(&cfg), limit: nextBase, logger: l.logger,
			epochs: l.epochs}
		_, truncated, err := s.recover(rules, i == len(bases)-1)
		if err != nil {
			return segs, fmt.Errorf("recover %s: %w", s.logPath, err)
		}
		if truncated && i+1 < len(bases) {
			// Everything after a cut is unreachable: drop the later segments.
			l.logger.Warn("truncated corrupt segment; deleting later segments", "segment", s.logPath, "dropped", len(bases)-i-1)
			for _, later := range bases[i+1:] {
				if err := removeSegmentFiles(opts.Dir, later); err != nil {
					return segs, err
				}
			}
			break
		}
	}
	if len(segs) == 0 {
		s, err := createSegment(opts.Dir, max(opts.LogStartOffset, 0), cfg.SegmentIndexBytes)
		if err != nil {
			return nil, err
		}
		segs = append(segs, s)
	} else if err := segs[len(segs)-1].unseal(); err != nil {
		return segs, err
	}
	return segs, nil
}

// listSegments returns the base offsets of the directory's .log files, ascending, and
// removes leftovers of interrupted operations (Kafka's .deleted, .cleaned, .swap, .tmp;
// a .log.swap was completed by completeSwaps before, so any .swap left is an index's)
// and index files whose log file is gone.
func listSegments(dir string) ([]int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var bases []int64
	logs := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		for _, junk := range []string{".deleted", ".cleaned", ".swap", ".tmp"} {
			if strings.HasSuffix(name, junk) {
				if err := os.Remove(filepath.Join(dir, name)); err != nil {
					return nil, fmt.Errorf("remove leftover %s: %w", name, err)
				}
			}
		}
		if stem, ok := strings.CutSuffix(name, ".log"); ok {
			base, err := strconv.ParseInt(stem, 10, 64)
			if err != nil || len(stem) != 20 {
				continue
			}
			bases = append(bases, base)
			logs[stem] = true
		}
	}
	for _, e := range entries {
		stem, ext, _ := strings.Cut(e.Name(), ".")
		if (ext == "index" || ext == "timeindex" || ext == "txnindex") && !logs[stem] {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	slices.Sort(bases)
	return bases, nil
}

func removeSegmentFiles(dir string, base int64) error {
	for _, ext := range []string{".log", ".index", ".timeindex", ".txnindex"} {
		if err := os.Remove(segmentPath(dir, base, ext)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove segment file: %w", err)
		}
	}
	return nil
}

// sane is Kafka's cheap start-up check of a sealed segment's indexes: sizes are whole
// entries and the last entries point inside the segment. It also loads the segment's max
// timestamp from the time index's last entry.
func (s *segment) sane(nextBase int64) bool {
	var entry [timeEntrySize]byte
	ok, err := s.offsets.lastEntryOnDisk(entry[:])
	if err != nil {
		return false
	}
	if ok {
		rel, pos := offsetEntry(entry[:])
		if rel < 0 || int64(pos) >= s.size.Load() || (nextBase >= 0 && s.baseOffset+int64(rel) >= nextBase) {
			return false
		}
	}
	ok, err = s.times.lastEntryOnDisk(entry[:])
	if err != nil {
		return false
	}
	if ok {
		ts, rel := timeEntry(entry[:])
		if rel < 0 || (nextBase >= 0 && s.baseOffset+int64(rel) >= nextBase) {
			return false
		}
		s.maxTimestamp.Store(ts)
		s.offsetOfMaxTimestamp.Store(s.baseOffset + int64(rel))
	} else if s.size.Load() > 0 {
		return false // a segment with data has at least its final time entry (seal)
	}
	return true
}

// recover rescans the whole segment, checking every batch's framing, magic, CRC and
// offset order; it cuts the file before the first bad batch, rebuilds both indexes and
// the max timestamp, and reports whether it cut anything.
// recoveryRules say what a recovered batch must satisfy beyond its CRC: the offset
// fields are not checksummed, so their plausibility is the only guard against a flipped
// bit there.
type recoveryRules struct {
	indexInterval int
	contiguous    bool  // offsets must follow without gaps (only compaction makes gaps)
	limit         int64 // the next segment's base offset, which no batch may reach; -1: none
	logger        *slog.Logger
	epochs        *epochCache // rebuilt from the batches rescanned; nil: left alone
}

func (s *segment) recover(rules recoveryRules, active bool) (next int64, truncated bool, err error) {
	s.maxTimestamp.Store(-1)
	s.offsetOfMaxTimestamp.Store(s.baseOffset)
	s.bytesSinceIndex = 0
	s.rollingTimestamp = -1
	if err := s.offsets.reset(); err != nil {
		return 0, false, err
	}
	if err := s.times.reset(); err != nil {
		return 0, false, err
	}
	r := bufio.NewReaderSize(io.NewSectionReader(s.file, 0, s.size.Load()), 1<<20)
	var batch []byte
	var entry [timeEntrySize]byte
	pos := int64(0)
	next = s.baseOffset
	for {
		batch, err = readBatch(r, batch)
		if err == io.EOF {
			break
		}
		if err == nil {
			err = checkRecovered(batch, next, rules)
		}
		if err != nil {
			rules.logger.Warn("truncating log segment at first invalid batch", "segment", s.logPath, "position", pos, "cause", err)
			if err := s.truncateFile(pos); err != nil {
				return 0, false, fmt.Errorf("truncate %s at %d: %w", s.logPath, pos, err)
			}
			truncated = true
			break
		}
		h := ParseBatchHeader(batch)
		s.indexBatch(entry[:], h.LastOffset(), h.MaxTimestamp, pos, len(batch), rules.indexInterval)
		if rules.epochs != nil && h.LeaderEpoch > rules.epochs.latest() {
			rules.epochs.assign(h.LeaderEpoch, h.BaseOffset) // as Kafka's segment recovery
		}
		pos += int64(len(batch))
		next = h.LastOffset() + 1
	}
	s.size.Store(pos)
	if !active {
		if err := s.seal(); err != nil {
			return 0, false, err
		}
	}
	// What recovery kept is what the log now trusts: make it durable before saying so.
	return next, truncated, s.flush()
}

// readBatch reads the next whole batch into buf (grown as needed). io.EOF means a clean
// end; any other error means a torn or impossible batch.
func readBatch(r *bufio.Reader, buf []byte) ([]byte, error) {
	var head [logOverhead]byte
	n, err := io.ReadFull(r, head[:])
	if err == io.EOF {
		return buf, io.EOF
	}
	if err != nil {
		return buf, fmt.Errorf("%w: torn batch header (%d bytes)", ErrCorruptBatch, n)
	}
	length := int32(binary.BigEndian.Uint32(head[offBatchLength:]))
	if length < BatchHeaderSize-logOverhead {
		return buf, fmt.Errorf("%w: batch length %d", ErrCorruptBatch, length)
	}
	size := int(length) + logOverhead
	if cap(buf) < size {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	copy(buf, head[:])
	if _, err := io.ReadFull(r, buf[logOverhead:]); err != nil {
		return buf, fmt.Errorf("%w: torn batch of %d bytes", ErrCorruptBatch, size)
	}
	return buf, nil
}

// checkRecovered validates a batch read back from disk: CRC and magic, and offsets that
// follow the previous batch and stay below the next segment.
func checkRecovered(batch []byte, next int64, rules recoveryRules) error {
	if int8(batch[offMagic]) != 2 {
		return fmt.Errorf("%w: magic %d", ErrCorruptBatch, int8(batch[offMagic]))
	}
	if want, got := binary.BigEndian.Uint32(batch[offCRC:]), crc32c(batch[offAttributes:]); want != got {
		return fmt.Errorf("%w: crc %08x, computed %08x", ErrCorruptBatch, want, got)
	}
	h := ParseBatchHeader(batch)
	if h.BaseOffset < next || (rules.contiguous && h.BaseOffset != next) || h.LastOffsetDelta < 0 ||
		(rules.limit >= 0 && h.LastOffset() >= rules.limit) {
		return fmt.Errorf("%w: offset %d (delta %d) where %d was expected", ErrCorruptBatch, h.BaseOffset, h.LastOffsetDelta, next)
	}
	return nil
}

// scanTail finds the active segment's next offset and its max timestamp beyond the last
// index entry, reading only batch headers from there to the end. Called at open, when
// the segment's data is trusted (recovered or cleanly closed).
func (s *segment) scanTail(indexInterval int) (int64, error) {
	if err := s.offsets.ensureLoaded(); err != nil {
		return 0, err
	}
	if err := s.times.ensureLoaded(); err != nil {
		return 0, err
	}
	var entry [timeEntrySize]byte
	pos, next := int64(0), s.baseOffset
	s.bytesSinceIndex = 0
	if s.offsets.last(entry[:]) {
		_, p := offsetEntry(entry[:])
		pos = int64(p)
	}
	hs := headerScanner{file: s.file, end: s.size.Load()}
	if h, _, err := hs.at(0); err == nil {
		s.rollingTimestamp = headerMaxTimestamp(h)
	}
	for {
		h, size, err := hs.at(pos)
		if err == io.EOF {
			return next, nil
		}
		if err != nil {
			return 0, fmt.Errorf("scan tail of %s: %w", s.logPath, err)
		}
		if ts := headerMaxTimestamp(h); ts > s.maxTimestamp.Load() {
			s.maxTimestamp.Store(ts)
			s.offsetOfMaxTimestamp.Store(headerLastOffset(h))
		}
		s.bytesSinceIndex += int(size)
		next = headerLastOffset(h) + 1
		pos += size
	}
}

// truncateAt cuts the segment before the batch holding offset and rebuilds its indexes
// from what remains. It returns the segment's new next offset.
func (s *segment) truncateAt(offset int64, rules recoveryRules) (int64, error) {
	hs := headerScanner{file: s.file, end: s.size.Load()}
	pos, found, err := s.translate(&hs, offset)
	if err != nil {
		return 0, err
	}
	if found {
		if err := s.truncateFile(pos); err != nil {
			return 0, fmt.Errorf("truncate %s at %d: %w", s.logPath, pos, err)
		}
		s.size.Store(pos)
	}
	next, _, err := s.recover(rules, true)
	if err != nil {
		return 0, err
	}
	return next, s.unseal()
}
