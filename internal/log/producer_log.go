package log

import (
	"encoding/binary"
	"fmt"
	"time"
)

// The log's side of producer state: staging an append's batches, committing them once
// written, and what readers and operators ask of it.

// stageProducersLocked runs an append's batches through producer state before anything
// is written. base >= 0 is the offset the first batch will get (a leader's append,
// offsets not assigned yet); base < 0 means the batches carry their offsets (a
// follower's). For a client's batch that repeats one of its producer's retained
// batches it returns that batch and dup true: the append must not happen. Caller holds
// appendMu.
func (l *Log) stageProducersLocked(records []byte, base int64, origin Origin) (dup batchMetadata, isDup bool, err error) {
	a := &l.pending
	a.reset()
	next := base
	for pos := 0; pos < len(records); {
		b := records[pos:]
		size := int(binary.BigEndian.Uint32(b[offBatchLength:])) + logOverhead
		pos += size
		offset := next
		if base >= 0 {
			next += int64(int32(binary.BigEndian.Uint32(b[offLastOffsetDelta:]))) + 1
		}
		attrs := binary.BigEndian.Uint16(b[offAttributes:])
		if int64(binary.BigEndian.Uint64(b[offProducerID:])) < 0 && attrs&(attrTransactional|attrControl) == 0 {
			continue // a plain batch: nothing to track
		}
		h := ParseBatchHeader(b)
		if base >= 0 {
			h.BaseOffset = offset
		}
		if origin == OriginClient {
			if err := checkClientBatch(&h); err != nil {
				return dup, false, err
			}
			if dup, ok := l.producers.duplicate(&h); ok {
				return dup, true, nil
			}
		}
		if err := a.add(l.producers, &h, b[:size], origin); err != nil {
			return dup, false, err
		}
	}
	return dup, false, nil
}

// checkClientBatch is what Kafka's LogValidator refuses from a producer: control
// batches (only coordinators write markers), idempotent batches without a sequence, and
// transactional batches without a producer id.
func checkClientBatch(h *BatchHeader) error {
	switch {
	case h.Control():
		return fmt.Errorf("%w: clients may not write control batches", ErrInvalidRecord)
	case h.ProducerID >= 0 && h.BaseSequence < 0:
		return fmt.Errorf("%w: producer %d sent sequence %d", ErrInvalidRecord, h.ProducerID, h.BaseSequence)
	case h.ProducerID < 0 && h.Transactional():
		return fmt.Errorf("%w: transactional batch without a producer id", ErrInvalidRecord)
	}
	return nil
}

// commitProducersLocked applies the staged updates once the batches are written and
// indexes the transactions they aborted in the active segment, which holds the markers.
// Caller holds appendMu.
func (l *Log) commitProducersLocked() {
	a := &l.pending
	if len(a.pending) == 0 {
		return
	}
	l.producers.commit(a)
	l.indexAbortedLocked(a, l.activeSegment())
}

// indexAbortedLocked writes the aborted transactions among a's completed ones to seg's
// transaction index. A failed write is logged: the marker is in the log already, and
// the next recovery that replays it writes the entry again.
func (l *Log) indexAbortedLocked(a *appendInfo, seg *segment) {
	for _, c := range a.completed {
		if !c.aborted {
			continue
		}
		t := AbortedTxn{ProducerID: c.producerID, FirstOffset: c.firstOffset, LastOffset: c.lastOffset,
			LastStableOffset: l.producers.stableOffsetAfter(c)}
		if err := seg.txns.appendIfNew(t); err != nil {
			l.logger.Error("writing the transaction index", "dir", l.dir, "err", err)
		}
	}
}

// duplicateResult answers a retried batch with where it landed the first time, as
// Kafka does (NONE with the original base offset).
func (l *Log) duplicateResult(dup batchMetadata, cfg *Config) AppendResult {
	appendTime := int64(-1)
	if cfg.LogAppendTime {
		appendTime = dup.timestamp
	}
	return AppendResult{BaseOffset: dup.firstOffset(), LastOffset: dup.lastOffset, LogAppendTime: appendTime,
		LogStartOffset: l.LogStartOffset(), Duplicate: true}
}

// AppendTxnMarker writes a transaction's commit or abort marker (a control batch) for
// its producer, as WriteTxnMarkers asks a partition leader to. The producer's epoch and
// the coordinator's epoch must not be older than the ones the partition has seen
// (ErrInvalidProducerEpoch, ErrTxnCoordinatorFenced).
func (l *Log) AppendTxnMarker(m TxnMarker, opts AppendOptions) (AppendResult, error) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
		opts.Now = now
	}
	opts.Origin = OriginCoordinator
	return l.Append(markerBatch(m, now.UnixMilli()), opts)
}

// LastStableOffset is the offset below which every transaction is decided and
// replicated: what read_committed consumers may read up to (Kafka's LSO). Without
// transactions it is the high watermark.
func (l *Log) LastStableOffset() int64 {
	return l.producers.lastStableOffset(l.HighWatermark())
}

// AbortedTransactions lists the aborted transactions that overlap [from, upTo), for a
// read_committed fetch of that range (Kafka's collectAbortedTxns).
func (l *Log) AbortedTransactions(from, upTo int64) []AbortedTxn {
	segs := *l.segments.Load()
	var out []AbortedTxn
	for i := segmentIndexFor(segs, from); i < len(segs); i++ {
		var done bool
		if out, done = segs[i].txns.collect(out, from, upTo); done {
			break
		}
	}
	return out
}

// ProducerInfo is one producer's state on the partition, as DescribeProducers shows it.
type ProducerInfo struct {
	ProducerID       int64
	ProducerEpoch    int16
	LastSequence     int32 // -1: no batch in the current epoch
	LastTimestamp    int64
	CoordinatorEpoch int32
	// CurrentTxnStartOffset is the first offset of its ongoing transaction, or -1.
	CurrentTxnStartOffset int64
}

// ActiveProducers lists the producers the partition tracks.
func (l *Log) ActiveProducers() []ProducerInfo {
	ps := l.producers
	ps.mu.Lock()
	defer ps.mu.Unlock()
	out := make([]ProducerInfo, 0, len(ps.producers))
	for id, e := range ps.producers {
		out = append(out, ProducerInfo{ProducerID: id, ProducerEpoch: e.epoch, LastSequence: e.lastSeq(),
			LastTimestamp: e.lastTimestamp, CoordinatorEpoch: e.coordinatorEpoch, CurrentTxnStartOffset: e.txnFirstOffset})
	}
	return out
}

// RemoveExpiredProducers forgets producers whose last write is older than expiration
// and that have no open transaction (producer.id.expiration.ms). It returns how many.
func (l *Log) RemoveExpiredProducers(now time.Time, expiration time.Duration) int {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if l.closed.Load() {
		return 0
	}
	return l.producers.removeExpired(now.UnixMilli(), expiration.Milliseconds())
}
