package log

import (
	"os"
	"testing"
)

// pendingRollSnapshots lists the roll snapshots the flusher has yet to write.
func pendingRollSnapshots(l *Log) []int64 {
	l.rollSnapshots.mu.Lock()
	defer l.rollSnapshots.mu.Unlock()
	var offsets []int64
	for _, s := range l.rollSnapshots.pending {
		offsets = append(offsets, s.offset)
	}
	return offsets
}

// A roll only copies the producer state; the flush that next moves the recovery point
// writes and fsyncs the snapshot first, so the recovery point never passes a roll
// snapshot that is not on disk, and recovery after a crash uses it.
func TestRollSnapshotWrittenByFlush(t *testing.T) {
	dir := t.TempDir()
	l := openTestLog(t, dir, smallConfig(), true)
	defer l.Close()
	seq := int32(0)
	for range 300 { // several 8 KiB segments
		mustAppend(t, l, idemBatch(4, 0, seq, 5, false))
		seq += 5
	}
	pending := pendingRollSnapshots(l)
	if len(pending) < 2 {
		t.Fatalf("roll snapshots awaiting the flusher: %v, want at least 2", pending)
	}
	for _, off := range pending {
		if _, err := os.Stat(snapshotPath(dir, off)); !os.IsNotExist(err) {
			t.Fatalf("roll snapshot %d on disk before the flush: %v", off, err)
		}
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	newest := pending[len(pending)-1]
	if left := pendingRollSnapshots(l); len(left) != 0 || l.RecoveryPoint() < newest {
		t.Fatalf("after flush: %v still pending, recovery point %d (newest snapshot %d)", left, l.RecoveryPoint(), newest)
	}
	for _, off := range pending {
		if _, err := os.Stat(snapshotPath(dir, off)); err != nil {
			t.Fatalf("roll snapshot %d not written by the flush: %v", off, err)
		}
	}

	// A crash with the newest snapshot torn: it is dropped and the state rebuilt from
	// an older one and the log.
	crashed := crashCopy(t, dir)
	if err := os.Truncate(snapshotPath(crashed, newest), snapshotHeader+3); err != nil {
		t.Fatal(err)
	}
	r, err := Open(OpenOptions{Dir: crashed, Config: smallConfig(), Logger: quietLogger(), RecoveryPoint: l.LogEndOffset()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := os.Stat(snapshotPath(crashed, newest)); !os.IsNotExist(err) {
		t.Fatalf("torn snapshot kept: %v", err)
	}
	if res := mustAppend(t, r, idemBatch(4, 0, seq-5, 5, false)); !res.Duplicate {
		t.Fatalf("last batch not a duplicate after recovery: %+v", res)
	}
	if res := mustAppend(t, r, idemBatch(4, 0, seq, 5, false)); res.Duplicate || res.BaseOffset != int64(seq) {
		t.Fatalf("next batch after recovery: %+v, want appended at %d", res, seq)
	}
}

// A truncation below roll snapshots still waiting for the flusher drops them: written
// later, they would describe producer state of a history the log no longer has.
func TestTruncationDropsPendingRollSnapshots(t *testing.T) {
	dir := t.TempDir()
	l := openTestLog(t, dir, smallConfig(), true)
	defer l.Close()
	seq := int32(0)
	for range 300 {
		mustAppend(t, l, idemBatch(5, 0, seq, 5, false))
		seq += 5
	}
	pending := pendingRollSnapshots(l)
	if len(pending) < 2 {
		t.Fatalf("roll snapshots awaiting the flusher: %v, want at least 2", pending)
	}
	to := pending[0] + 1
	if err := l.Truncate(to); err != nil {
		t.Fatal(err)
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	offsets, err := listSnapshots(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range offsets {
		if off > to {
			t.Fatalf("snapshot %d past the truncated log end %d: %v", off, to, offsets)
		}
	}
	// The producer state is that of the kept batches: the first batch past them is new.
	next := int32(l.LogEndOffset())
	if res := mustAppend(t, l, idemBatch(5, 0, next, 5, false)); res.Duplicate || res.BaseOffset != int64(next) {
		t.Fatalf("append after truncation: %+v, want new at %d", res, next)
	}
}
