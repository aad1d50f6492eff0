package partition

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nagare-dev/nagare/internal/config"
	"github.com/nagare-dev/nagare/internal/log"
)

// ErrNotEnoughReplicas: acks=all and fewer in-sync replicas than min.insync.replicas.
var ErrNotEnoughReplicas = errors.New("partition: not enough in-sync replicas")

// ErrNotLeader: the partition is led by another broker (or by none) now. Checked again at
// the append itself, so a request that found this broker leading just before leadership
// moved cannot write under the old leadership.
var ErrNotLeader = errors.New("partition: this broker does not lead the partition")

// ErrInvalidTimestamp: a batch's timestamps fall outside message.timestamp.*.max.ms.
var ErrInvalidTimestamp = errors.New("partition: timestamp out of range")

// Partition is one partition replica on this broker.
type Partition struct {
	topic       string
	topicID     [16]byte
	index       int32
	log         *log.Log
	leaderEpoch atomic.Int32
	leader      atomic.Int32 // node id of the partition's leader (metadata.NoLeader: none)
	isLeader    atomic.Bool  // this broker leads the partition: it alone serves clients
	replicas    atomic.Int32 // number of in-sync replicas, for min.insync.replicas
	topicConfig atomic.Pointer[config.Topic]
	traffic     traffic // bytes and records in and out, for metrics (traffic.go)

	// Replication (replication.go).
	self       int32                      // this broker's node id
	set        atomic.Pointer[replicaSet] // replicas, ISR, partition epoch, followers' progress
	soleISR    atomic.Bool                // leading with an ISR of this broker alone: the HW follows the log end
	soleHWMu   sync.RWMutex               // sole-ISR HW moves (read) vs. an ISR expansion's check (write)
	epochStart atomic.Int64               // log end offset when this broker's leadership began
	followMu   sync.Mutex                 // a follower's appends and truncations vs. becoming leader
	isrNotify  func()                     // tells the ISR keeper a follower can rejoin; may be nil
}

// Topic is the partition's topic name.
func (p *Partition) Topic() string { return p.topic }

// TopicID is the partition's topic ID.
func (p *Partition) TopicID() [16]byte { return p.topicID }

// Index is the partition number.
func (p *Partition) Index() int32 { return p.index }

// Log is the partition's log, for reads and offsets.
func (p *Partition) Log() *log.Log { return p.log }

// LeaderEpoch is the epoch of the current leadership.
func (p *Partition) LeaderEpoch() int32 { return p.leaderEpoch.Load() }

// Leader is the node id of the partition's leader as of the last metadata image applied.
func (p *Partition) Leader() int32 { return p.leader.Load() }

// IsLeader says whether this broker leads the partition: only the leader takes produce
// requests and serves consumers (followers will serve replica fetches).
func (p *Partition) IsLeader() bool { return p.isLeader.Load() }

// Config is the partition's resolved topic configuration.
func (p *Partition) Config() config.Topic { return *p.topicConfig.Load() }

// Append validates and appends a produce request's records for this partition. acks is
// the request's acks (0, 1 or -1); with -1 it checks min.insync.replicas first, as Kafka
// does, so an under-replicated partition refuses rather than acknowledging.
func (p *Partition) Append(records []byte, acks int16, now time.Time) (log.AppendResult, error) {
	if !p.isLeader.Load() {
		return log.AppendResult{}, fmt.Errorf("%w: %s-%d (leader: %d)", ErrNotLeader, p.topic, p.index, p.leader.Load())
	}
	cfg := p.topicConfig.Load()
	if acks == -1 && int(p.replicas.Load()) < cfg.MinInsyncReplicas {
		return log.AppendResult{}, fmt.Errorf("%w: %d in sync, min.insync.replicas=%d", ErrNotEnoughReplicas, p.replicas.Load(), cfg.MinInsyncReplicas)
	}
	if cfg.MessageTimestampType == config.CreateTime {
		if err := checkTimestamps(records, cfg, now); err != nil {
			return log.AppendResult{}, err
		}
	}
	res, err := p.log.Append(records, log.AppendOptions{LeaderEpoch: p.LeaderEpoch(), Now: now})
	if err != nil {
		return res, err
	}
	p.commitIfSoleISR()
	p.countAppended(len(records), res.RecordCount)
	return res, nil
}

// commitIfSoleISR moves the high watermark to the log end when this leader is its ISR
// alone: a lone in-sync replica commits on write; otherwise followers' fetches move the
// mark (replication.go), and acks=all waits for it. The flag is read again under
// soleHWMu so that ExpandingISR, once it has flipped the flag and taken the lock, knows
// no append can still move the mark past a joiner it is about to admit.
func (p *Partition) commitIfSoleISR() {
	if !p.soleISR.Load() {
		return
	}
	p.soleHWMu.RLock()
	if p.soleISR.Load() {
		p.log.AdvanceHighWatermark(p.log.LogEndOffset())
	}
	p.soleHWMu.RUnlock()
}

// checkTimestamps applies message.timestamp.before.max.ms and after.max.ms to each
// batch's base and max timestamps (the log does not decompress to see every record).
func checkTimestamps(records []byte, cfg *config.Topic, now time.Time) error {
	nowMs := now.UnixMilli()
	for pos := 0; pos+log.BatchHeaderSize <= len(records); {
		h := log.ParseBatchHeader(records[pos:])
		if h.Size() <= 0 {
			return nil // framing errors are the log's to report
		}
		if cfg.MessageTimestampBeforeMaxMs < math.MaxInt64 && h.BaseTimestamp >= 0 && nowMs-h.BaseTimestamp > cfg.MessageTimestampBeforeMaxMs {
			return fmt.Errorf("%w: timestamp %d is more than %d ms before now", ErrInvalidTimestamp, h.BaseTimestamp, cfg.MessageTimestampBeforeMaxMs)
		}
		if cfg.MessageTimestampAfterMaxMs < math.MaxInt64 && h.MaxTimestamp-nowMs > cfg.MessageTimestampAfterMaxMs {
			return fmt.Errorf("%w: timestamp %d is more than %d ms after now", ErrInvalidTimestamp, h.MaxTimestamp, cfg.MessageTimestampAfterMaxMs)
		}
		pos += h.Size()
	}
	return nil
}

// LogConfig turns a resolved topic configuration into the log's settings.
func LogConfig(t config.Topic) log.Config {
	c := log.Config{
		SegmentBytes:       t.SegmentBytes,
		SegmentAge:         config.Millis(t.SegmentMs),
		RetentionTime:      -1,
		RetentionBytes:     t.RetentionBytes,
		MaxMessageBytes:    t.MaxMessageBytes,
		IndexIntervalBytes: t.IndexIntervalBytes,
		SegmentIndexBytes:  t.SegmentIndexBytes,
		FlushMessages:      t.FlushMessages,
		LogAppendTime:      t.MessageTimestampType == config.LogAppendTime,
		Preallocate:        t.Preallocate,
		Compacted:          t.CleanupPolicy.Compact,

		MinCleanableDirtyRatio: t.MinCleanableDirtyRatio,
		DeleteRetention:        config.Millis(t.DeleteRetentionMs),
		MinCompactionLag:       config.Millis(t.MinCompactionLagMs),
	}
	if t.MaxCompactionLagMs < math.MaxInt64 {
		c.MaxCompactionLag = config.Millis(t.MaxCompactionLagMs)
	}
	if t.RetentionMs >= 0 {
		c.RetentionTime = config.Millis(t.RetentionMs)
	}
	if t.FlushMs < math.MaxInt64 {
		c.FlushInterval = config.Millis(t.FlushMs)
	}
	if !t.CleanupPolicy.Delete {
		// Without the delete policy, time and size never remove data (compaction does).
		c.RetentionTime, c.RetentionBytes = -1, -1
	}
	return c
}
