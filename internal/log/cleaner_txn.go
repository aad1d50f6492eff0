package log

import (
	"fmt"
	"slices"
)

// Transactions in compaction (Kafka's CleanedTransactionMetadata): the cleaner walks a
// range of the log with the aborted transactions its transaction indexes list, so that
//
//   - records of aborted transactions are neither mapped nor kept: a consumer of a
//     compacted topic must never see them, and they must not shadow a committed value;
//   - a commit marker stays while the cleaner still meets batches of its transaction,
//     an abort marker while batches of its aborted transaction are left; after that
//     the marker gets a delete horizon (now + delete.retention.ms) like a tombstone, and
//     goes once the horizon passed, so a consumer that read the transaction's data
//     still sees its marker;
//   - the cleaned segment gets a transaction index listing the aborted transactions
//     whose abort marker it keeps, the same entries as before.

// abortedInRange is an aborted transaction the walk has entered; observed says a batch
// of it was met since, which keeps its abort marker.
type abortedInRange struct {
	txn      AbortedTxn
	observed bool
}

// cleanedTxns is the transaction state of one walk over a range of the log.
type cleanedTxns struct {
	upcoming  []AbortedTxn // not yet entered, by first offset
	aborted   map[int64]*abortedInRange
	committed map[int64]bool // producers with an ongoing transaction not in upcoming/aborted
	// index receives the aborted transactions whose abort marker is kept; nil while
	// building the offset map.
	index *txnIndex
}

func newCleanedTxns(aborted []AbortedTxn, index *txnIndex) *cleanedTxns {
	t := &cleanedTxns{aborted: map[int64]*abortedInRange{}, committed: map[int64]bool{}, index: index}
	t.add(aborted)
	return t
}

// add queues more aborted transactions (the next segment's), skipping ones already
// known: Kafka collects per segment and ranges overlap.
func (t *cleanedTxns) add(txns []AbortedTxn) {
	for _, a := range txns {
		if !slices.Contains(t.upcoming, a) {
			t.upcoming = append(t.upcoming, a)
		}
	}
	slices.SortStableFunc(t.upcoming, func(a, b AbortedTxn) int { return cmpInt64(a.FirstOffset, b.FirstOffset) })
}

// enterUpTo makes the aborted transactions that began at or before offset ongoing.
func (t *cleanedTxns) enterUpTo(offset int64) {
	n := 0
	for n < len(t.upcoming) && t.upcoming[n].FirstOffset <= offset {
		a := t.upcoming[n]
		if _, ok := t.aborted[a.ProducerID]; !ok {
			t.aborted[a.ProducerID] = &abortedInRange{txn: a}
		}
		n++
	}
	t.upcoming = t.upcoming[n:]
}

// onBatch updates the walk with the next batch and reports whether the batch may be
// discarded (Kafka's shouldDiscardBatch): a data batch of an aborted transaction, or a
// marker whose transaction has no batch left in the range walked.
func (t *cleanedTxns) onBatch(batch []byte, h *BatchHeader) (bool, error) {
	t.enterUpTo(h.LastOffset())
	if !h.Control() {
		return t.onData(h), nil
	}
	return t.onControl(batch, h)
}

func (t *cleanedTxns) onData(h *BatchHeader) bool {
	if !h.Transactional() {
		return false
	}
	if a, ok := t.aborted[h.ProducerID]; ok {
		a.observed = true
		return true
	}
	t.committed[h.ProducerID] = true
	return false
}

// onControl handles a control batch. An emptied one (cleaned before) may go; one of an
// unknown control type stays.
func (t *cleanedTxns) onControl(batch []byte, h *BatchHeader) (bool, error) {
	if h.RecordCount == 0 {
		return true, nil
	}
	m, ok, err := parseControlRecord(batch)
	if err != nil || !ok {
		return false, err
	}
	if m.commit {
		ongoing := t.committed[h.ProducerID]
		delete(t.committed, h.ProducerID)
		return !ongoing, nil
	}
	a, ok := t.aborted[h.ProducerID]
	delete(t.aborted, h.ProducerID)
	if !ok || !a.observed {
		return true, nil
	}
	if err := t.index.appendIfNew(a.txn); err != nil {
		return false, fmt.Errorf("index aborted transaction of the cleaned segment: %w", err)
	}
	return false, nil
}

// lastRecord is what the cleaner must keep of an active producer (Kafka's
// LastRecord): the batch holding its last sequence, or, when its state holds no batch
// (its last write was a marker that bumped its epoch), its markers of that epoch.
type lastRecord struct {
	dataOffset int64 // last offset of its last data batch; -1 when none
	epoch      int16
}

// lastRecordsOfActiveProducers snapshots, per producer the partition tracks, what the
// cleaner must keep so idempotence and fencing survive compaction (Kafka's
// lastRecordsOfActiveProducers). Producers expired by producer.id.expiration.ms are
// not protected.
func (l *Log) lastRecordsOfActiveProducers() map[int64]lastRecord {
	ps := l.producers
	ps.mu.Lock()
	defer ps.mu.Unlock()
	out := make(map[int64]lastRecord, len(ps.producers))
	for id, e := range ps.producers {
		r := lastRecord{dataOffset: -1, epoch: e.epoch}
		if b, ok := e.last(); ok {
			r.dataOffset = b.lastOffset
		}
		out[id] = r
	}
	return out
}

// isLastOfProducer reports whether batch h must survive, emptied if need be, for its
// producer's sake: it holds the producer's last sequence, or it is a marker of the
// producer's current epoch when its last write was a marker.
func isLastOfProducer(producers map[int64]lastRecord, h *BatchHeader) bool {
	if h.ProducerID < 0 {
		return false
	}
	r, ok := producers[h.ProducerID]
	if !ok {
		return false
	}
	if r.dataOffset >= 0 {
		return h.LastOffset() == r.dataOffset
	}
	return h.Control() && h.ProducerEpoch == r.epoch
}
