package log

import (
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Config is a partition log's settings, named after Kafka's topic configs.
type Config struct {
	SegmentBytes       int           // segment.bytes: roll when the active segment would exceed it
	SegmentAge         time.Duration // segment.ms: roll when the first batch is this old (0 = never)
	RetentionTime      time.Duration // retention.ms: delete segments older than this (< 0 = keep)
	RetentionBytes     int64         // retention.bytes: delete oldest segments past this (< 0 = keep)
	MaxMessageBytes    int           // max.message.bytes: largest batch accepted
	IndexIntervalBytes int           // index.interval.bytes: bytes between offset index entries
	SegmentIndexBytes  int           // segment.index.bytes: preallocated size of each index file
	FlushMessages      int64         // flush.messages: fsync after this many records (<= 0 = never)
	FlushInterval      time.Duration // flush.ms: fsync when data is this old (0 = never)
	LogAppendTime      bool          // message.timestamp.type=LogAppendTime
	Preallocate        bool          // preallocate: allocate each segment's segment.bytes when it starts
	Compacted          bool          // cleanup.policy includes compact: offsets may have gaps

	// Compaction (cleaner*.go); they matter only when Compacted is set.
	MinCleanableDirtyRatio float64       // min.cleanable.dirty.ratio: clean when the dirty share is above it
	DeleteRetention        time.Duration // delete.retention.ms: how long cleaned tombstones stay readable
	MinCompactionLag       time.Duration // min.compaction.lag.ms: records younger stay uncleaned
	MaxCompactionLag       time.Duration // max.compaction.lag.ms: records older force a clean (0 = never)
}

// DefaultConfig is Kafka's default topic configuration.
func DefaultConfig() Config {
	return Config{
		SegmentBytes:       1 << 30,
		SegmentAge:         7 * 24 * time.Hour,
		RetentionTime:      7 * 24 * time.Hour,
		RetentionBytes:     -1,
		MaxMessageBytes:    1048588,
		IndexIntervalBytes: 4096,
		SegmentIndexBytes:  10 << 20,
		FlushMessages:      math.MaxInt64,
		FlushInterval:      0,

		MinCleanableDirtyRatio: 0.5,
		DeleteRetention:        24 * time.Hour,
	}
}

// Log is one partition's log. It is safe for one appender and many readers at once.
type Log struct {
	dir       string
	topic     string
	partition int32
	logger    *slog.Logger
	config    atomic.Pointer[Config]

	segments       atomic.Pointer[[]*segment] // immutable snapshot, oldest first; replaced whole
	logEndOffset   atomic.Int64               // next offset to assign; published after the data
	logStartOffset atomic.Int64               // first readable offset
	highWatermark  atomic.Int64               // last committed offset + 1, set by the partition
	recoveryPoint  atomic.Int64               // every offset below it is fsynced
	closed         atomic.Bool
	epochs         *epochCache    // leader epoch history (epochs.go)
	producers      *producerState // idempotence and transactions (producer_state.go)
	pending        appendInfo     // an append's staged producer updates; guarded by appendMu
	rollSnapshots  rollSnapshots  // producer snapshots taken at rolls, for the flusher to write (producer_snapshot.go)

	appendMu     sync.Mutex           // serializes appends and every change to the segment list
	unflushed    int64                // records appended since the last flush; guarded by appendMu
	lastFlush    atomic.Int64         // unix ms of the last flush
	flushMu      sync.Mutex           // serializes flushes, and held by Truncate so a flush never straddles one; taken after appendMu
	waitMu       sync.Mutex           // guards appendWait
	appendWait   chan struct{}        // closed and replaced by the next append if observed
	waitObserved atomic.Bool          // someone holds appendWait; Append must close it
	hwWaiters    []*HighWatermarkWait // guarded by waitMu
	hwWaited     atomic.Bool          // hwWaiters may be non-empty
	onRoll       func(*Log)           // tells the owner a sealed segment needs an fsync; may be nil
	// preallocateAhead is the disk the active segment keeps allocated past its end
	// (prealloc.go); the topic's preallocate takes the whole segment instead.
	preallocateAhead int64
	dirtySegments    atomic.Bool // a rolled segment awaits its fsync

	// beforeFlushLock, when set (tests only), runs in Flush after it read the log end
	// and before it takes flushMu: the window in which a truncation can make that read
	// stale, which a test could not otherwise hit on purpose.
	beforeFlushLock func()

	// Compaction (cleaner*.go).
	swapMu            sync.Mutex   // held across a cleaned segment's swap and by Truncate, DeleteRetained and Close; taken before appendMu
	cleaning          atomic.Bool  // a cleaner works on the log: retention waits for the next round
	cleaned           atomic.Bool  // the log was compacted: batches may have offset gaps
	cleanerCheckpoint atomic.Int64 // offsets below it are clean; -1: the log has no cleaner checkpoint
	truncations       atomic.Int64 // bumped by Truncate, so a cleaner never swaps in data from before it
}

// Topic is the log's topic name.
func (l *Log) Topic() string { return l.topic }

// Partition is the log's partition number.
func (l *Log) Partition() int32 { return l.partition }

// Dir is the partition directory.
func (l *Log) Dir() string { return l.dir }

// Config returns the log's current settings.
func (l *Log) Config() Config { return *l.config.Load() }

// SetConfig replaces the log's settings; they apply from the next append or check.
func (l *Log) SetConfig(c Config) { l.config.Store(&c) }

// Closed says whether Close was called: nothing more is appended, and waits end at once.
func (l *Log) Closed() bool { return l.closed.Load() }

// LogEndOffset is the offset the next appended record will get.
func (l *Log) LogEndOffset() int64 { return l.logEndOffset.Load() }

// LogStartOffset is the first offset still readable.
func (l *Log) LogStartOffset() int64 { return l.logStartOffset.Load() }

// HighWatermark is the offset below which records are committed and visible to consumers.
func (l *Log) HighWatermark() int64 { return l.highWatermark.Load() }

// SetHighWatermark moves the high watermark, clamped to [log start, log end]. The
// partition owns the rule for when it moves; on a single replica it follows the log end.
func (l *Log) SetHighWatermark(hw int64) {
	if leo := l.LogEndOffset(); hw > leo {
		hw = leo
	}
	if lso := l.LogStartOffset(); hw < lso {
		hw = lso
	}
	l.highWatermark.Store(hw)
	l.wakeHighWatermark(false)
}

// RecoveryPoint is the offset below which every record is known to be on stable storage.
func (l *Log) RecoveryPoint() int64 { return l.recoveryPoint.Load() }

// Size is the total bytes of the log's segment files.
func (l *Log) Size() int64 {
	var n int64
	for _, s := range *l.segments.Load() {
		n += s.size.Load()
	}
	return n
}

// NumSegments is how many segments the log has.
func (l *Log) NumSegments() int { return len(*l.segments.Load()) }

// WaitForAppend returns a channel closed by the next append (or by Close), for long
// polls. Only appends that someone waits for pay for a new channel.
func (l *Log) WaitForAppend() <-chan struct{} {
	l.waitMu.Lock()
	defer l.waitMu.Unlock()
	if l.appendWait == nil {
		l.appendWait = make(chan struct{})
	}
	l.waitObserved.Store(true)
	return l.appendWait
}

// wakeWaiters closes the wait channel if anyone took it.
func (l *Log) wakeWaiters() {
	if !l.waitObserved.Load() {
		return
	}
	l.waitMu.Lock()
	if l.appendWait != nil {
		close(l.appendWait)
		l.appendWait = nil
	}
	l.waitObserved.Store(false)
	l.waitMu.Unlock()
}

func (l *Log) activeSegment() *segment {
	segs := *l.segments.Load()
	return segs[len(segs)-1]
}

func (l *Log) setSegments(segs []*segment) { l.segments.Store(&segs) }

// Close flushes the log, trims the active segment's indexes and closes its files. Reads
// still pinning a segment keep its descriptor open until they release it.
func (l *Log) Close() error {
	l.swapMu.Lock()
	defer l.swapMu.Unlock()
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if l.closed.Swap(true) {
		return nil
	}
	defer l.wakeHighWatermark(true)
	defer l.wakeWaiters()
	l.waitObserved.Store(true)
	if err := l.flushAllLocked(); err != nil {
		return err
	}
	// Kafka's clean-shutdown snapshot: the next open replays nothing.
	if err := l.producers.writeSnapshot(l.dir, l.LogEndOffset()); err != nil {
		return err
	}
	if err := l.activeSegment().seal(); err != nil {
		return err
	}
	for _, s := range *l.segments.Load() {
		s.release()
	}
	return nil
}

// flushAllLocked fsyncs every segment that may hold unsynced data. Caller holds appendMu.
func (l *Log) flushAllLocked() error {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	return l.flushSegments(l.LogEndOffset())
}
