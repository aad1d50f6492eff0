package log

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
)

// Producer state (Kafka's ProducerStateManager): per producer id, its epoch, the last
// batches it wrote and its ongoing transaction. The leader checks every idempotent batch
// against it before assigning offsets, so a retried batch is answered with its original
// offsets instead of being written twice; followers and recovery replay the same updates
// without checks, so a new leader after a failover de-duplicates as the old one did.

// numBatchesToRetain is how many recent batches per producer are kept for duplicate
// detection: a producer has at most five requests in flight (Kafka's
// ProducerStateEntry.NUM_BATCHES_TO_RETAIN).
const numBatchesToRetain = 5

// Sentinels of the batch header and of producer state, Kafka's values.
const (
	noProducerID    int64 = -1
	noProducerEpoch int16 = -1
	noSequence      int32 = -1
	noCoordinator   int32 = -1
	noTxn           int64 = -1
)

// Origin says who wrote a batch, which decides the checks it gets (Kafka's AppendOrigin).
type Origin uint8

const (
	// OriginClient is a produce request: epochs, sequences and duplicates are checked.
	OriginClient Origin = iota
	// OriginCoordinator is a coordinator on this broker (transaction markers, the group
	// coordinator's transactional offset commits): epochs are checked, sequences not.
	OriginCoordinator
	// originReplication is a follower copying its leader, or recovery replaying the log:
	// nothing is checked, the log is the truth.
	originReplication
)

// batchMetadata is one retained batch (Kafka's BatchMetadata).
type batchMetadata struct {
	lastSeq     int32
	offsetDelta int32 // lastOffset - firstOffset
	lastOffset  int64
	timestamp   int64 // the batch's max timestamp
}

func (b *batchMetadata) firstSeq() int32    { return decrementSequence(b.lastSeq, b.offsetDelta) }
func (b *batchMetadata) firstOffset() int64 { return b.lastOffset - int64(b.offsetDelta) }

// producerEntry is one producer's state on this partition (Kafka's ProducerStateEntry).
// A fixed ring of batches, so updating it allocates nothing.
type producerEntry struct {
	epoch            int16
	count, head      uint8 // batches[head] is the oldest of count retained
	coordinatorEpoch int32
	txnFirstOffset   int64 // first offset of the ongoing transaction; noTxn when none
	lastTimestamp    int64
	batches          [numBatchesToRetain]batchMetadata
}

func newProducerEntry() producerEntry {
	return producerEntry{epoch: noProducerEpoch, coordinatorEpoch: noCoordinator, txnFirstOffset: noTxn, lastTimestamp: -1}
}

// last is the newest retained batch; ok is false when there is none.
func (e *producerEntry) last() (*batchMetadata, bool) {
	if e.count == 0 {
		return nil, false
	}
	return &e.batches[(int(e.head)+int(e.count)-1)%numBatchesToRetain], true
}

func (e *producerEntry) lastSeq() int32 {
	if b, ok := e.last(); ok {
		return b.lastSeq
	}
	return noSequence
}

// setEpoch moves the entry to epoch; batches of another epoch are forgotten, since
// sequences restart with each epoch.
func (e *producerEntry) setEpoch(epoch int16) {
	if e.epoch != epoch {
		e.epoch, e.count, e.head = epoch, 0, 0
	}
}

func (e *producerEntry) addBatch(epoch int16, b batchMetadata) {
	e.setEpoch(epoch)
	if e.count == numBatchesToRetain {
		e.head = (e.head + 1) % numBatchesToRetain
		e.count--
	}
	e.batches[(int(e.head)+int(e.count))%numBatchesToRetain] = b
	e.count++
	e.lastTimestamp = b.timestamp
}

// duplicateOf finds a retained batch with exactly this epoch and sequence range.
func (e *producerEntry) duplicateOf(epoch int16, firstSeq, lastSeq int32) (batchMetadata, bool) {
	if epoch != e.epoch {
		return batchMetadata{}, false
	}
	for i := range int(e.count) {
		b := &e.batches[(int(e.head)+i)%numBatchesToRetain]
		if b.lastSeq == lastSeq && b.firstSeq() == firstSeq {
			return *b, true
		}
	}
	return batchMetadata{}, false
}

// incrementSequence is base+delta wrapping past MaxInt32 to 0, as producers number
// their records (Kafka's DefaultRecordBatch.incrementSequence).
func incrementSequence(seq, delta int32) int32 {
	if seq > math.MaxInt32-delta {
		return delta - (math.MaxInt32 - seq) - 1
	}
	return seq + delta
}

func decrementSequence(seq, delta int32) int32 {
	if seq-delta < 0 {
		return math.MaxInt32 - (delta - seq) + 1
	}
	return seq - delta
}

// inSequence: next follows last, wrapping from MaxInt32 to 0.
func inSequence(last, next int32) bool {
	return int64(next) == int64(last)+1 || (next == 0 && last == math.MaxInt32)
}

// txnSpan is a transaction this partition saw start: ongoing while lastOffset is noTxn,
// then completed at its marker's offset. A completed one still holds the last stable
// offset back until the high watermark passes its marker (Kafka's unreplicatedTxns).
type txnSpan struct {
	producerID  int64
	firstOffset int64
	lastOffset  int64
}

// producerState is a log's producer state. Writers hold Log.appendMu and mu; the
// appender reads without mu (it is the only writer), everyone else reads under mu.
type producerState struct {
	mu        sync.Mutex
	producers map[int64]*producerEntry // guarded by mu (writes also hold appendMu)
	txns      []txnSpan                // by first offset; guarded by mu
	txnCount  atomic.Int32             // len(txns): lets reads skip mu when no transaction exists
	// txnVersion changes (under mu) whenever txns gain a transaction or a marker, or
	// are replaced; lso is the last stable offset computed for one high watermark at
	// one txnVersion. Every consumer fetch asks for the LSO (Kafka returns it in each
	// partition of each answer), so while transactions are open, reads between two
	// appends or high watermark moves share one computation instead of each taking mu.
	txnVersion atomic.Int64
	lso        atomic.Pointer[lsoMemo]
}

// lsoMemo is a computed last stable offset, valid for its high watermark and
// txnVersion. Immutable once published.
type lsoMemo struct {
	hw, txnVersion, lso int64
}

func newProducerState() *producerState {
	return &producerState{producers: map[int64]*producerEntry{}}
}

// reset empties the state (before a reload). Caller holds appendMu.
func (ps *producerState) reset() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	clear(ps.producers)
	ps.txns = ps.txns[:0]
	ps.txnCount.Store(0)
	ps.txnVersion.Add(1)
}

// pendingProducer is a producer's entry as an append will leave it, committed to the
// map only once the batches are written.
type pendingProducer struct {
	id    int64
	entry producerEntry
}

// completedTxn is a transaction ended by a marker in the batches being appended.
type completedTxn struct {
	producerID  int64
	firstOffset int64
	lastOffset  int64 // the marker's offset
	aborted     bool
}

// appendInfo collects what an append does to producer state (Kafka's
// ProducerAppendInfo), reused across appends so the hot path allocates nothing. Guarded
// by Log.appendMu.
type appendInfo struct {
	pending   []pendingProducer
	started   []txnSpan
	completed []completedTxn
}

func (a *appendInfo) reset() {
	a.pending, a.started, a.completed = a.pending[:0], a.started[:0], a.completed[:0]
}

// entryFor returns the pending entry for id, copying it from the state on first use.
func (a *appendInfo) entryFor(ps *producerState, id int64) *producerEntry {
	for i := range a.pending {
		if a.pending[i].id == id {
			return &a.pending[i].entry
		}
	}
	e := newProducerEntry()
	if cur, ok := ps.producers[id]; ok {
		e = *cur
	}
	a.pending = append(a.pending, pendingProducer{id: id, entry: e})
	return &a.pending[len(a.pending)-1].entry
}

// duplicate reports whether the client's batch h repeats one of the producer's
// retained batches, and which (Kafka's findDuplicateBatch, against the stored state).
func (ps *producerState) duplicate(h *BatchHeader) (batchMetadata, bool) {
	e, ok := ps.producers[h.ProducerID]
	if !ok {
		return batchMetadata{}, false
	}
	return e.duplicateOf(h.ProducerEpoch, h.BaseSequence, incrementSequence(h.BaseSequence, h.LastOffsetDelta))
}

// addData checks and applies a data batch at its assigned offsets (Kafka's
// appendDataBatch): the epoch must not go back, and from a client the sequence must
// follow the producer's last one, or start at 0 in a new epoch; a producer this
// partition does not know may start anywhere (Kafka since 2.5, KIP-360).
func (a *appendInfo) addData(ps *producerState, h *BatchHeader, origin Origin) error {
	e := a.entryFor(ps, h.ProducerID)
	if h.ProducerEpoch < e.epoch && origin != originReplication {
		return fmt.Errorf("%w: producer %d epoch %d at offset %d is older than its current epoch %d",
			ErrInvalidProducerEpoch, h.ProducerID, h.ProducerEpoch, h.BaseOffset, e.epoch)
	}
	if origin == OriginClient {
		if err := checkSequence(e, h); err != nil {
			return err
		}
	}
	lastSeq := incrementSequence(h.BaseSequence, h.LastOffsetDelta)
	e.addBatch(h.ProducerEpoch, batchMetadata{lastSeq: lastSeq, offsetDelta: h.LastOffsetDelta, lastOffset: h.LastOffset(), timestamp: h.MaxTimestamp})
	switch {
	case e.txnFirstOffset != noTxn && !h.Transactional() && origin != originReplication:
		return fmt.Errorf("%w: producer %d wrote a non-transactional batch at offset %d inside its transaction",
			ErrInvalidTxnState, h.ProducerID, h.BaseOffset)
	case e.txnFirstOffset == noTxn && h.Transactional():
		e.txnFirstOffset = h.BaseOffset
		a.started = append(a.started, txnSpan{producerID: h.ProducerID, firstOffset: h.BaseOffset, lastOffset: noTxn})
	}
	return nil
}

// checkSequence is Kafka's ProducerAppendInfo.checkSequence.
func checkSequence(e *producerEntry, h *BatchHeader) error {
	if h.ProducerEpoch != e.epoch {
		if h.BaseSequence != 0 && e.epoch != noProducerEpoch {
			return fmt.Errorf("%w: producer %d starts epoch %d at sequence %d, not 0 (current epoch %d)",
				ErrOutOfOrderSequence, h.ProducerID, h.ProducerEpoch, h.BaseSequence, e.epoch)
		}
		return nil
	}
	if e.epoch == noProducerEpoch {
		return nil
	}
	if last := e.lastSeq(); !inSequence(last, h.BaseSequence) {
		return fmt.Errorf("%w: producer %d sent sequence %d after %d", ErrOutOfOrderSequence, h.ProducerID, h.BaseSequence, last)
	}
	return nil
}

// addMarker checks and applies a transaction marker (Kafka's appendEndTxnMarker): the
// producer's epoch and the coordinator's epoch must not go back. A marker for a
// producer without an ongoing transaction changes nothing but its epochs.
func (a *appendInfo) addMarker(ps *producerState, h *BatchHeader, m controlRecord, origin Origin) error {
	e := a.entryFor(ps, h.ProducerID)
	if origin != originReplication {
		if h.ProducerEpoch < e.epoch {
			return fmt.Errorf("%w: marker for producer %d has epoch %d, older than %d",
				ErrInvalidProducerEpoch, h.ProducerID, h.ProducerEpoch, e.epoch)
		}
		if m.coordinatorEpoch < e.coordinatorEpoch {
			return fmt.Errorf("%w: marker for producer %d from coordinator epoch %d, already saw %d",
				ErrTxnCoordinatorFenced, h.ProducerID, m.coordinatorEpoch, e.coordinatorEpoch)
		}
	}
	if e.txnFirstOffset != noTxn {
		a.completed = append(a.completed, completedTxn{producerID: h.ProducerID, firstOffset: e.txnFirstOffset,
			lastOffset: h.BaseOffset, aborted: !m.commit})
	}
	e.setEpoch(h.ProducerEpoch)
	e.coordinatorEpoch, e.lastTimestamp, e.txnFirstOffset = m.coordinatorEpoch, h.MaxTimestamp, noTxn
	return nil
}

// add applies one batch of any kind. Batches without a producer id change nothing.
func (a *appendInfo) add(ps *producerState, h *BatchHeader, batch []byte, origin Origin) error {
	if h.ProducerID < 0 {
		return nil
	}
	if !h.Control() {
		return a.addData(ps, h, origin)
	}
	m, ok, err := parseControlRecord(batch)
	if err != nil || !ok {
		return err // an empty control batch (compaction) ends nothing
	}
	return a.addMarker(ps, h, m, origin)
}

// commit makes the append's producer updates visible, after its batches were written.
// Caller holds appendMu.
func (ps *producerState) commit(a *appendInfo) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for i := range a.pending {
		p := &a.pending[i]
		if cur, ok := ps.producers[p.id]; ok {
			*cur = p.entry
		} else {
			e := p.entry
			ps.producers[p.id] = &e
		}
	}
	if len(a.started) == 0 && len(a.completed) == 0 {
		return
	}
	ps.txns = append(ps.txns, a.started...)
	for _, c := range a.completed {
		for i := range ps.txns {
			if t := &ps.txns[i]; t.producerID == c.producerID && t.firstOffset == c.firstOffset {
				t.lastOffset = c.lastOffset
			}
		}
	}
	ps.txnCount.Store(int32(len(ps.txns)))
	ps.txnVersion.Add(1)
}

// lastStableOffset is the first offset a read_committed consumer may not read yet: the
// high watermark, or the start of the earliest transaction that is ongoing or whose
// marker the high watermark has not passed. Transactions settled below hw are dropped.
func (ps *producerState) lastStableOffset(hw int64) int64 {
	if ps.txnCount.Load() == 0 {
		return hw
	}
	// Read before the memo: a transaction change after the memo was made shows as a
	// newer version; one after this load is ordered after this read.
	version := ps.txnVersion.Load()
	if m := ps.lso.Load(); m != nil && m.hw == hw && m.txnVersion == version {
		return m.lso
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.txns = slices.DeleteFunc(ps.txns, func(t txnSpan) bool { return t.lastOffset != noTxn && t.lastOffset < hw })
	ps.txnCount.Store(int32(len(ps.txns)))
	lso := hw
	if len(ps.txns) > 0 && ps.txns[0].firstOffset < hw {
		lso = ps.txns[0].firstOffset
	}
	ps.lso.Store(&lsoMemo{hw: hw, txnVersion: ps.txnVersion.Load(), lso: lso})
	return lso
}

// stableOffsetAfter is the last stable offset recorded with an aborted transaction in
// the transaction index: the first offset of the earliest other transaction still open,
// or the offset after the marker (Kafka's ProducerStateManager.lastStableOffset).
func (ps *producerState) stableOffsetAfter(c completedTxn) int64 {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, t := range ps.txns { // by first offset: the first open one is the earliest
		if t.producerID != c.producerID && t.lastOffset == noTxn {
			return min(t.firstOffset, c.lastOffset+1)
		}
	}
	return c.lastOffset + 1
}

// removeExpired forgets producers idle for expirationMs (by their last batch's
// timestamp) that have no transaction open (Kafka's removeExpiredProducers). Caller
// holds appendMu.
func (ps *producerState) removeExpired(nowMs, expirationMs int64) int {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	n := 0
	for id, e := range ps.producers {
		if e.txnFirstOffset == noTxn && nowMs-e.lastTimestamp >= expirationMs {
			delete(ps.producers, id)
			n++
		}
	}
	return n
}
