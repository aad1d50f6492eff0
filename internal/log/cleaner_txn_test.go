package log

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// txnKV appends one transactional batch of producer pid (epoch 3, as keyedBatch sets).
func txnKV(t *testing.T, l *Log, pid int64, seq int32, recs ...kv) AppendResult {
	t.Helper()
	b := keyedBatch(t, batchOpts{ts: testNow.UnixMilli(), pid: pid, sequence: seq}, recs...)
	binary.BigEndian.PutUint16(b[offAttributes:], binary.BigEndian.Uint16(b[offAttributes:])|attrTransactional)
	binary.BigEndian.PutUint32(b[offCRC:], crc32c(b[offAttributes:]))
	return mustAppend(t, l, b)
}

func endTxn(t *testing.T, l *Log, pid int64, commit bool) int64 {
	t.Helper()
	res, err := l.AppendTxnMarker(TxnMarker{ProducerID: pid, ProducerEpoch: 3, CoordinatorEpoch: 1, Commit: commit},
		AppendOptions{LeaderEpoch: -1, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	l.SetHighWatermark(l.LogEndOffset())
	return res.BaseOffset
}

// txnView is the log as consumers see it: every data record (read_uncommitted), the
// records a read_committed consumer keeps given the aborted transactions the log lists,
// and the control batches.
type txnView struct {
	all, committed []readRecord
	markers        []BatchHeader
}

// readTxnView reads l like a read_committed consumer (Kafka's Fetcher): an aborted
// transaction listed for the range drops its producer's transactional batches from its
// first offset until that producer's abort marker.
func readTxnView(t *testing.T, l *Log) txnView {
	t.Helper()
	headers, recs := consume(t, l)
	aborted := l.AbortedTransactions(l.LogStartOffset(), l.HighWatermark())
	slices.SortFunc(aborted, func(a, b AbortedTxn) int { return cmpInt64(a.FirstOffset, b.FirstOffset) })
	var v txnView
	open := map[int64]bool{}
	skipped := map[int64]bool{} // batch base offsets dropped
	control := map[int64]bool{}
	for _, h := range headers {
		for len(aborted) > 0 && aborted[0].FirstOffset <= h.LastOffset() {
			open[aborted[0].ProducerID] = true
			aborted = aborted[1:]
		}
		switch {
		case h.Control():
			control[h.BaseOffset] = true
			v.markers = append(v.markers, h)
			if open[h.ProducerID] {
				delete(open, h.ProducerID) // an abort marker ends it; consumers check the type too
			}
		case h.Transactional() && open[h.ProducerID]:
			skipped[h.BaseOffset] = true
		}
	}
	for _, r := range recs {
		base := batchOf(headers, r.offset).BaseOffset
		if control[base] {
			continue
		}
		v.all = append(v.all, r)
		if !skipped[base] {
			v.committed = append(v.committed, r)
		}
	}
	return v
}

func batchOf(headers []BatchHeader, offset int64) BatchHeader {
	i, _ := slices.BinarySearchFunc(headers, offset, func(h BatchHeader, o int64) int { return cmpInt64(h.LastOffset(), o) })
	return headers[i]
}

// TestCleanerDropsAbortedTransactions: records of an aborted transaction are neither
// kept nor allowed to shadow an older committed value; the read_committed view is the
// same before and after cleaning, and after it even read_uncommitted sees no aborted
// record. The abort marker stays, indexed in the cleaned segment's .txnindex (also
// after a restart), while its producer's emptied last batch is kept.
func TestCleanerDropsAbortedTransactions(t *testing.T) {
	dir := t.TempDir()
	l := openTestLog(t, dir, compactedConfig(), true)
	m := model{}
	appendKV(t, l, m, batchOpts{ts: testNow.UnixMilli(), pid: -1}, rec("a", "plain"), rec("b", "plain"))
	txnKV(t, l, 11, 0, rec("a", "aborted"), rec("c", "aborted"))
	txnKV(t, l, 12, 0, rec("b", "committed"))
	m.apply(rec("b", "committed"))
	txnKV(t, l, 11, 2, rec("d", "aborted"))
	abortAt := endTxn(t, l, 11, false)
	endTxn(t, l, 12, true)
	appendKV(t, l, m, batchOpts{ts: testNow.UnixMilli(), pid: -1}, rec("e", "plain"))
	l.Roll()
	appendKV(t, l, m, batchOpts{ts: testNow.UnixMilli(), pid: -1}, rec("f", "active"))

	before := readTxnView(t, l)
	checkModel(t, before.committed, m)
	cleanLog(t, l, nil, testNow)
	after := readTxnView(t, l)
	checkModel(t, after.committed, m)
	checkModel(t, after.all, m)
	for _, r := range after.all {
		if r.value == "aborted" {
			t.Fatalf("aborted record %+v survived cleaning", r)
		}
	}
	if len(after.markers) != 2 {
		t.Fatalf("markers after cleaning: %+v", after.markers)
	}
	want := []AbortedTxn{{ProducerID: 11, FirstOffset: 2, LastOffset: abortAt, LastStableOffset: 4}} // 12's transaction was open at 4
	// Producer 11's last batch (offset 5) stays, emptied, so the transaction's entry
	// stays in the cleaned segment's index.
	if got := l.AbortedTransactions(0, l.HighWatermark()); !slices.Equal(got, want) {
		t.Fatalf("aborted after cleaning %+v, want %+v", got, want)
	}
	if b := fileBytes(t, segmentPath(dir, 0, ".txnindex")); len(b) != txnEntrySize {
		t.Fatalf("cleaned segment's .txnindex has %d bytes", len(b))
	}
	if h := batchOf(consumeHeaders(t, l), 5); h.ProducerID != 11 || h.RecordCount != 0 || h.BaseSequence != 2 {
		t.Fatalf("producer 11's last batch: %+v", h)
	}
	l.Close()
	l = openTestLog(t, dir, compactedConfig(), true)
	defer l.Close()
	if got := l.AbortedTransactions(0, l.HighWatermark()); !slices.Equal(got, want) {
		t.Fatalf("aborted after restart %+v, want %+v", got, want)
	}
}

func consumeHeaders(t *testing.T, l *Log) []BatchHeader {
	t.Helper()
	h, _ := consume(t, l)
	return h
}

// TestCleanerRemovesMarkersAfterTheirTransactions follows Kafka's rules for markers:
// an abort marker stays while batches of its transaction are left, a commit marker
// while its transaction has data; then the marker gets a delete horizon and goes once
// delete.retention.ms passed. Producers here are expired, so nothing is kept for them.
func TestCleanerRemovesMarkersAfterTheirTransactions(t *testing.T) {
	dir := t.TempDir()
	l := openTestLog(t, dir, compactedConfig(), true)
	defer l.Close()
	m := model{}
	txnKV(t, l, 11, 0, rec("a", "aborted"))
	abortAt := endTxn(t, l, 11, false)
	txnKV(t, l, 12, 0, rec("b", "committed"))
	commitAt := endTxn(t, l, 12, true)
	m.apply(rec("b", "committed"))
	appendKV(t, l, m, batchOpts{ts: testNow.UnixMilli(), pid: -1}, rec("x", "1"))
	l.Roll()
	l.RemoveExpiredProducers(testNow.Add(time.Hour), time.Millisecond)

	round := func(now time.Time, recs ...kv) {
		t.Helper()
		appendKV(t, l, m, batchOpts{ts: testNow.UnixMilli(), pid: -1}, recs...)
		l.Roll()
		cleanLog(t, l, nil, now)
	}
	markerAt := func(offset int64) (BatchHeader, bool) {
		for _, h := range readTxnView(t, l).markers {
			if h.BaseOffset == offset {
				return h, true
			}
		}
		return BatchHeader{}, false
	}
	// Round 1: the aborted record goes; both markers stay (their batches were met).
	round(testNow, rec("y", "1"))
	for _, at := range []int64{abortAt, commitAt} {
		if h, ok := markerAt(at); !ok || h.Attributes&attrDeleteHorizon != 0 {
			t.Fatalf("round 1: marker at %d: %+v %v", at, h, ok)
		}
	}
	if got := l.AbortedTransactions(0, l.HighWatermark()); len(got) != 1 {
		t.Fatalf("round 1: aborted %+v", got)
	}
	// Round 2: the abort marker's transaction is gone: it gets a horizon and leaves the
	// index. The committed record is superseded now, so its batch goes; the commit
	// marker still saw it this round.
	round(testNow, rec("b", "plain"), rec("z", "1"))
	if h, ok := markerAt(abortAt); !ok || h.Attributes&attrDeleteHorizon == 0 ||
		h.BaseTimestamp != testNow.Add(time.Hour).UnixMilli() {
		t.Fatalf("round 2: abort marker %+v %v, want a delete horizon", h, ok)
	}
	if got := l.AbortedTransactions(0, l.HighWatermark()); len(got) != 0 {
		t.Fatalf("round 2: aborted %+v, want none", got)
	}
	if h, ok := markerAt(commitAt); !ok || h.Attributes&attrDeleteHorizon != 0 {
		t.Fatalf("round 2: commit marker %+v %v", h, ok)
	}
	// Round 3, before the horizon: the abort marker stays; the commit marker gets one.
	round(testNow.Add(time.Minute), rec("w", "1"))
	if _, ok := markerAt(abortAt); !ok {
		t.Fatal("round 3: abort marker removed before its horizon")
	}
	if h, ok := markerAt(commitAt); !ok || h.Attributes&attrDeleteHorizon == 0 {
		t.Fatalf("round 3: commit marker %+v %v, want a delete horizon", h, ok)
	}
	// Round 4, past every horizon: both markers are gone.
	round(testNow.Add(3*time.Hour), rec("v", "1"))
	if v := readTxnView(t, l); len(v.markers) != 0 {
		t.Fatalf("round 4: markers %+v", v.markers)
	}
	checkModel(t, readTxnView(t, l).committed, m)
}

// TestCleanerKeepsActiveProducerState: compaction keeps each active producer's last
// batch (emptied) and, for a producer whose last write was an epoch-bumping marker,
// that marker; so after a crash without snapshots, replay still answers a retried
// batch as a duplicate and still fences the old epoch.
func TestCleanerKeepsActiveProducerState(t *testing.T) {
	dir := t.TempDir()
	l := openTestLog(t, dir, compactedConfig(), true)
	m := model{}
	appendKV(t, l, m, batchOpts{ts: testNow.UnixMilli(), pid: 7, sequence: 0}, rec("a", "1"))
	retry := keyedBatch(t, batchOpts{ts: testNow.UnixMilli(), pid: 7, sequence: 1}, rec("a", "2"), rec("b", "2"))
	last := mustAppend(t, l, retry)
	m.apply(rec("a", "2"), rec("b", "2"))
	txnKV(t, l, 8, 0, rec("c", "aborted"))
	// The coordinator bumps producer 8's epoch when aborting (a timeout, KIP-360).
	if _, err := l.AppendTxnMarker(TxnMarker{ProducerID: 8, ProducerEpoch: 4, CoordinatorEpoch: 1},
		AppendOptions{LeaderEpoch: -1, Now: testNow}); err != nil {
		t.Fatal(err)
	}
	l.SetHighWatermark(l.LogEndOffset())
	appendKV(t, l, m, batchOpts{ts: testNow.UnixMilli(), pid: -1}, rec("a", "3"), rec("b", "3"), rec("x", "1"))
	l.Roll()
	appendKV(t, l, m, batchOpts{ts: testNow.UnixMilli(), pid: -1}, rec("y", "1"))
	cleanLog(t, l, nil, testNow)
	headers := consumeHeaders(t, l)
	if h := batchOf(headers, last.LastOffset); h.ProducerID != 7 || h.RecordCount != 0 || h.BaseOffset != last.BaseOffset {
		t.Fatalf("producer 7's last batch: %+v", h)
	}
	if h := headers[0]; h.BaseOffset == 0 {
		t.Fatalf("producer 7's earlier, superseded batch kept: %+v", h)
	}
	if v := readTxnView(t, l); len(v.markers) != 1 || v.markers[0].ProducerEpoch != 4 {
		t.Fatalf("producer 8's marker of its current epoch: %+v", v.markers)
	}
	checkModel(t, readTxnView(t, l).committed, m)

	crashed := crashCopy(t, dir)
	l.Close()
	snaps, _ := filepath.Glob(filepath.Join(crashed, "*.snapshot"))
	for _, s := range snaps {
		os.Remove(s)
	}
	r := openTestLog(t, crashed, compactedConfig(), false)
	defer r.Close()
	if res := mustAppend(t, r, retry); !res.Duplicate || res.BaseOffset != last.BaseOffset {
		t.Fatalf("retry after compaction and crash: %+v, want a duplicate at %d", res, last.BaseOffset)
	}
	if err := appendErr(r, idemBatch(8, 3, 0, 1, false)); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("producer 8's old epoch after compaction and crash: %v", err)
	}
}

// TestCleanerCrashKeepsTxnIndex: a crash at any step of a swap leaves the cleaned
// segment, once recovered, with the transaction index of the segment it replaced.
func TestCleanerCrashKeepsTxnIndex(t *testing.T) {
	for _, step := range []string{"cleaned", "swap", "deleted", "renamed"} {
		t.Run(step, func(t *testing.T) {
			l := openTestLog(t, t.TempDir(), compactedConfig(), true)
			m := model{}
			appendKV(t, l, m, batchOpts{ts: testNow.UnixMilli(), pid: -1}, rec("a", "plain"))
			txnKV(t, l, 11, 0, rec("a", "aborted"))
			endTxn(t, l, 11, false)
			appendKV(t, l, m, batchOpts{ts: testNow.UnixMilli(), pid: -1}, rec("b", "plain"))
			l.Roll()
			appendKV(t, l, m, batchOpts{ts: testNow.UnixMilli(), pid: -1}, rec("c", "active"))
			want := l.AbortedTransactions(0, l.HighWatermark())
			c := newCleaner(quietLogger(), nil, 1<<20)
			c.fault = func(s string) bool { return s == step }
			if _, err := runClean(l, c, testNow); !errors.Is(err, errSimulatedCrash) {
				t.Fatalf("clean: %v, want the simulated crash", err)
			}
			dir := crashCopy(t, l.dir)
			l.Close()
			r := openTestLog(t, dir, compactedConfig(), false)
			defer r.Close()
			r.SetHighWatermark(r.LogEndOffset())
			if got := r.AbortedTransactions(0, r.HighWatermark()); !slices.Equal(got, want) {
				t.Fatalf("aborted after recovery %+v, want %+v", got, want)
			}
			checkModel(t, readTxnView(t, r).committed, m)
			left, _ := filepath.Glob(filepath.Join(dir, "*.*.*"))
			if len(left) > 0 {
				t.Fatalf("recovery left %v", left)
			}
		})
	}
}

// TestCleanerStopsAtOpenTransaction: the dirty section ends below the last stable
// offset, so an open transaction's records are not cleaned (they may still abort).
func TestCleanerStopsAtOpenTransaction(t *testing.T) {
	l := openTestLog(t, t.TempDir(), compactedConfig(), true)
	defer l.Close()
	appendKV(t, l, nil, batchOpts{ts: testNow.UnixMilli(), pid: -1}, rec("a", "1"))
	l.Roll()
	txnKV(t, l, 11, 0, rec("a", "open"))
	l.Roll()
	appendKV(t, l, nil, batchOpts{ts: testNow.UnixMilli(), pid: -1}, rec("b", "1"))
	l.Roll()
	sec := l.cleanableSection(testNow)
	if sec.firstUncleanable != 1 {
		t.Fatalf("first uncleanable offset %d, want 1 (the open transaction's segment)", sec.firstUncleanable)
	}
	endTxn(t, l, 11, false)
	if sec := l.cleanableSection(testNow); sec.firstUncleanable <= 2 {
		t.Fatalf("first uncleanable offset %d after the abort", sec.firstUncleanable)
	}
}
