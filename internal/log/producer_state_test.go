package log

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// idemBatch is a batch of n records from producer pid at epoch, numbered from seq.
func idemBatch(pid int64, epoch int16, seq int32, n int, txn bool) []byte {
	b := testBatch(n, 8, testNow.UnixMilli())
	binary.BigEndian.PutUint64(b[offProducerID:], uint64(pid))
	binary.BigEndian.PutUint16(b[offProducerEpoch:], uint16(epoch))
	binary.BigEndian.PutUint32(b[offBaseSequence:], uint32(seq))
	if txn {
		binary.BigEndian.PutUint16(b[offAttributes:], attrTransactional)
	}
	binary.BigEndian.PutUint32(b[offCRC:], crc32c(b[offAttributes:]))
	return b
}

func mustAppend(t *testing.T, l *Log, b []byte) AppendResult {
	t.Helper()
	res, err := l.Append(b, AppendOptions{LeaderEpoch: -1})
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	l.SetHighWatermark(l.LogEndOffset())
	return res
}

func appendErr(l *Log, b []byte) error {
	_, err := l.Append(b, AppendOptions{LeaderEpoch: -1})
	return err
}

func TestIdempotentDuplicateAnsweredWithOriginalOffsets(t *testing.T) {
	l := openTestLog(t, t.TempDir(), smallConfig(), true)
	defer l.Close()
	mustAppend(t, l, testBatch(2, 8, 0)) // offsets 0-1, no producer
	first := mustAppend(t, l, idemBatch(7, 0, 0, 3, false))
	mustAppend(t, l, idemBatch(7, 0, 3, 2, false))
	end := l.LogEndOffset()
	for _, retry := range []struct {
		seq, n int
		base   int64
	}{{0, 3, first.BaseOffset}, {3, 2, first.BaseOffset + 3}} {
		res := mustAppend(t, l, idemBatch(7, 0, int32(retry.seq), retry.n, false))
		if !res.Duplicate || res.BaseOffset != retry.base || res.LastOffset != retry.base+int64(retry.n)-1 {
			t.Fatalf("retry of seq %d: %+v, want duplicate at %d", retry.seq, res, retry.base)
		}
	}
	if l.LogEndOffset() != end {
		t.Fatalf("duplicates were appended: log end %d, was %d", l.LogEndOffset(), end)
	}
}

func TestIdempotentSequenceAndEpochChecks(t *testing.T) {
	l := openTestLog(t, t.TempDir(), smallConfig(), true)
	defer l.Close()
	mustAppend(t, l, idemBatch(1, 2, 0, 2, false))
	cases := []struct {
		name  string
		batch []byte
		want  error
	}{
		{"gap", idemBatch(1, 2, 5, 1, false), ErrOutOfOrderSequence},
		{"older epoch", idemBatch(1, 1, 2, 1, false), ErrInvalidProducerEpoch},
		{"new epoch not at 0", idemBatch(1, 3, 2, 1, false), ErrOutOfOrderSequence},
		{"overlapping retry", idemBatch(1, 2, 1, 1, false), ErrOutOfOrderSequence},
		{"no sequence", idemBatch(1, 2, -1, 1, false), ErrInvalidRecord},
	}
	for _, c := range cases {
		if err := appendErr(l, c.batch); !errors.Is(err, c.want) {
			t.Fatalf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	mustAppend(t, l, idemBatch(1, 2, 2, 1, false)) // in sequence
	mustAppend(t, l, idemBatch(1, 3, 0, 1, false)) // a bumped epoch starts at 0
	// A producer the partition does not know may start anywhere (Kafka since 2.5).
	mustAppend(t, l, idemBatch(2, 0, 42, 1, false))
	mustAppend(t, l, idemBatch(2, 0, 43, 1, false))
}

func TestIdempotentSequenceWrapsAndForgetsOldBatches(t *testing.T) {
	l := openTestLog(t, t.TempDir(), smallConfig(), true)
	defer l.Close()
	mustAppend(t, l, idemBatch(1, 0, math.MaxInt32-1, 2, false)) // last sequence MaxInt32
	mustAppend(t, l, idemBatch(1, 0, 0, 1, false))
	for seq := int32(1); seq <= 5; seq++ {
		mustAppend(t, l, idemBatch(1, 0, seq, 1, false))
	}
	// Six batches later the first is no longer retained: a retry is out of order (Kafka).
	if err := appendErr(l, idemBatch(1, 0, math.MaxInt32-1, 2, false)); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("retry of a forgotten batch: %v", err)
	}
	if res := mustAppend(t, l, idemBatch(1, 0, 1, 1, false)); !res.Duplicate {
		t.Fatalf("retained batch not found: %+v", res)
	}
}

func TestProducerStateSurvivesCleanRestart(t *testing.T) {
	dir := t.TempDir()
	l := openTestLog(t, dir, smallConfig(), true)
	last := mustAppend(t, l, idemBatch(9, 1, 0, 4, false))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(snapshotPath(dir, last.LastOffset+1)); err != nil {
		t.Fatalf("no snapshot at close: %v", err)
	}
	l = openTestLog(t, dir, smallConfig(), true)
	defer l.Close()
	if res := mustAppend(t, l, idemBatch(9, 1, 0, 4, false)); !res.Duplicate || res.BaseOffset != last.BaseOffset {
		t.Fatalf("after restart: %+v, want duplicate at %d", res, last.BaseOffset)
	}
	mustAppend(t, l, idemBatch(9, 1, 4, 1, false))
}

// TestProducerStateCrashRecovery appends across many rolls (snapshots), crashes with the
// active segment torn, and checks the recovered state follows exactly the kept batches.
func TestProducerStateCrashRecovery(t *testing.T) {
	dir := t.TempDir()
	l := openTestLog(t, dir, smallConfig(), true)
	defer l.Close()
	seq := int32(0)
	for i := 0; i < 300; i++ {
		mustAppend(t, l, idemBatch(3, 0, seq, 5, false))
		seq += 5
	}
	// The flusher writes the roll snapshots (woken by each roll); recovery after a crash
	// trusts only those below the recovery point, which a flush moves after writing them.
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	crashed := crashCopy(t, dir)
	snaps, _ := listSnapshots(crashed)
	if len(snaps) < 2 {
		t.Fatalf("expected snapshots from rolls, have %v", snaps)
	}
	// Tear the active segment in the middle of its last batch.
	segsOnDisk, _ := listSegments(crashed)
	active := segmentPath(crashed, segsOnDisk[len(segsOnDisk)-1], ".log")
	st, _ := os.Stat(active)
	if err := os.Truncate(active, st.Size()-20); err != nil {
		t.Fatal(err)
	}
	r, err := Open(OpenOptions{Dir: crashed, Config: smallConfig(), Logger: quietLogger(), RecoveryPoint: snaps[len(snaps)-2]})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	kept := int32(r.LogEndOffset()) // one record per sequence, from offset 0
	if kept != seq-5 {
		t.Fatalf("recovered %d records, want %d", kept, seq-5)
	}
	if res := mustAppend(t, r, idemBatch(3, 0, kept-5, 5, false)); !res.Duplicate {
		t.Fatalf("last kept batch not a duplicate after recovery: %+v", res)
	}
	// The torn batch was lost: its retry is appended, in sequence.
	if res := mustAppend(t, r, idemBatch(3, 0, kept, 5, false)); res.Duplicate || res.BaseOffset != int64(kept) {
		t.Fatalf("retry of the lost batch: %+v", res)
	}
}

func TestProducerStateFollowsTruncation(t *testing.T) {
	dir := t.TempDir()
	l := openTestLog(t, dir, smallConfig(), true)
	defer l.Close()
	seq := int32(0)
	for i := 0; i < 40; i++ {
		mustAppend(t, l, idemBatch(5, 0, seq, 4, false))
		seq += 4
	}
	if err := l.Truncate(60); err != nil {
		t.Fatal(err)
	}
	if l.LogEndOffset() != 60 {
		t.Fatalf("log end %d", l.LogEndOffset())
	}
	if err := appendErr(l, idemBatch(5, 0, seq, 4, false)); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("sequence past the truncation accepted: %v", err)
	}
	if res := mustAppend(t, l, idemBatch(5, 0, 56, 4, false)); !res.Duplicate {
		t.Fatalf("last kept batch not a duplicate: %+v", res)
	}
	mustAppend(t, l, idemBatch(5, 0, 60, 4, false))
	if snaps, _ := listSnapshots(dir); len(snaps) > 0 && snaps[len(snaps)-1] > 64 {
		t.Fatalf("snapshots past the truncation kept: %v", snaps)
	}
}

func TestFollowerMirrorsProducerState(t *testing.T) {
	leader := openTestLog(t, t.TempDir(), smallConfig(), true)
	defer leader.Close()
	follower := openTestLog(t, t.TempDir(), smallConfig(), true)
	defer follower.Close()
	mustAppend(t, leader, idemBatch(4, 0, 0, 2, false))
	mustAppend(t, leader, idemBatch(4, 0, 2, 2, false))
	data, _, err := leader.ReadBytes(0, ReadOptions{MaxBytes: 1 << 20, MaxOffset: leader.LogEndOffset()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := follower.AppendAsFollower(data); err != nil {
		t.Fatal(err)
	}
	// The follower becomes leader and gets the client's retry.
	if res := mustAppend(t, follower, idemBatch(4, 0, 2, 2, false)); !res.Duplicate || res.BaseOffset != 2 {
		t.Fatalf("new leader appended a retry: %+v", res)
	}
}

func TestTransactionLSOAndAbortedIndex(t *testing.T) {
	dir := t.TempDir()
	l := openTestLog(t, dir, smallConfig(), true)
	mustAppend(t, l, testBatch(2, 8, 0))           // 0-1
	mustAppend(t, l, idemBatch(11, 0, 0, 3, true)) // 2-4, txn of 11
	mustAppend(t, l, testBatch(1, 8, 0))           // 5
	mustAppend(t, l, idemBatch(12, 0, 0, 1, true)) // 6, txn of 12
	if lso := l.LastStableOffset(); lso != 2 {
		t.Fatalf("LSO %d, want 2", lso)
	}
	if err := appendErr(l, idemBatch(11, 0, 3, 1, false)); !errors.Is(err, ErrInvalidTxnState) {
		t.Fatalf("non-transactional batch inside a transaction: %v", err)
	}
	abort := TxnMarker{ProducerID: 11, ProducerEpoch: 0, CoordinatorEpoch: 4}
	res, err := l.AppendTxnMarker(abort, AppendOptions{LeaderEpoch: -1}) // 7
	if err != nil {
		t.Fatal(err)
	}
	if lso := l.LastStableOffset(); lso != 2 {
		t.Fatalf("LSO %d before the marker is replicated, want 2", lso)
	}
	l.SetHighWatermark(l.LogEndOffset())
	if lso := l.LastStableOffset(); lso != 6 {
		t.Fatalf("LSO %d, want 6 (txn of 12 still open)", lso)
	}
	if _, err := l.AppendTxnMarker(TxnMarker{ProducerID: 11, CoordinatorEpoch: 3}, AppendOptions{LeaderEpoch: -1}); !errors.Is(err, ErrTxnCoordinatorFenced) {
		t.Fatalf("stale coordinator: %v", err)
	}
	if _, err := l.AppendTxnMarker(TxnMarker{ProducerID: 12, ProducerEpoch: -1, CoordinatorEpoch: 4}, AppendOptions{LeaderEpoch: -1}); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("old producer epoch: %v", err)
	}
	if _, err := l.AppendTxnMarker(TxnMarker{ProducerID: 12, CoordinatorEpoch: 4, Commit: true}, AppendOptions{LeaderEpoch: -1}); err != nil {
		t.Fatal(err)
	}
	l.SetHighWatermark(l.LogEndOffset())
	if lso := l.LastStableOffset(); lso != l.LogEndOffset() {
		t.Fatalf("LSO %d, want the high watermark %d", lso, l.LogEndOffset())
	}
	want := AbortedTxn{ProducerID: 11, FirstOffset: 2, LastOffset: res.BaseOffset, LastStableOffset: 6}
	check := func(l *Log) {
		t.Helper()
		got := l.AbortedTransactions(0, l.LogEndOffset())
		if len(got) != 1 || got[0] != want {
			t.Fatalf("aborted %+v, want %+v", got, want)
		}
		if got := l.AbortedTransactions(res.BaseOffset+1, l.LogEndOffset()); len(got) != 0 {
			t.Fatalf("aborted after the marker: %+v", got)
		}
	}
	check(l)
	if err := appendErr(l, idemBatch(11, 0, 3, 1, false)); err != nil {
		t.Fatalf("after the abort, plain batches are fine: %v", err)
	}
	crashed := crashCopy(t, dir)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openTestLog(t, dir, smallConfig(), true)
	check(l)
	l.Close()
	// After a crash with no snapshot and an empty transaction index, replay rebuilds both.
	for _, name := range []string{"00000000000000000000.txnindex"} {
		os.Remove(filepath.Join(crashed, name))
	}
	r := openTestLog(t, crashed, smallConfig(), false)
	defer r.Close()
	check(r)
}

func TestExpiredProducersAreForgotten(t *testing.T) {
	l := openTestLog(t, t.TempDir(), smallConfig(), true)
	defer l.Close()
	mustAppend(t, l, idemBatch(1, 0, 0, 1, false))
	mustAppend(t, l, idemBatch(2, 0, 0, 1, true)) // open transaction: kept
	if n := l.RemoveExpiredProducers(testNow.Add(25*3600e9), 24*3600e9); n != 1 {
		t.Fatalf("expired %d producers, want 1", n)
	}
	ps := l.ActiveProducers()
	if len(ps) != 1 || ps[0].ProducerID != 2 || ps[0].CurrentTxnStartOffset != 1 {
		t.Fatalf("active producers %+v", ps)
	}
}

func FuzzDecodeSnapshot(f *testing.F) {
	f.Add(encodeSnapshot([]snapshotEntry{{producerID: 1, epoch: 2, lastSeq: 3, lastOffset: 4, txnFirstOffset: -1}}))
	f.Add(encodeSnapshot(nil))
	f.Add([]byte{0, 1, 0, 0, 0, 0, 255, 255, 255, 255})
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := decodeSnapshot(b)
		if err != nil {
			return
		}
		again := encodeSnapshot(entries)
		if _, err := decodeSnapshot(again); err != nil {
			t.Fatalf("re-encoded snapshot does not decode: %v", err)
		}
		ps := newProducerState()
		ps.load(entries)
	})
}
