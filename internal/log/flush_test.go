package log

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// A follower's truncation landing between Flush reading the log end and taking flushMu
// must not let the flush store that stale log end as the recovery point: it would pass
// the new log end, the segments the follower writes next would count as synced without
// an fsync, and recovery after a crash would not rescan them.
func TestFlushAfterConcurrentTruncationKeepsRecoveryPointInLog(t *testing.T) {
	truncations := map[string]func(*Log) error{
		"Truncate":                func(l *Log) error { return l.Truncate(51) },
		"TruncateFullyAndStartAt": func(l *Log) error { return l.TruncateFullyAndStartAt(10) },
	}
	for name, truncate := range truncations {
		t.Run(name, func(t *testing.T) {
			l := openTestLog(t, t.TempDir(), smallConfig(), true)
			defer l.Close()
			appendN(t, l, 100, 2, 50, 0)
			staleEnd := l.LogEndOffset()
			l.beforeFlushLock = func() {
				l.beforeFlushLock = nil
				if err := truncate(l); err != nil {
					t.Errorf("truncate during flush: %v", err)
				}
			}
			if err := l.Flush(); err != nil {
				t.Fatal(err)
			}
			if rp, leo := l.RecoveryPoint(), l.LogEndOffset(); rp > leo || leo >= staleEnd {
				t.Fatalf("recovery point %d, log end %d after truncating from %d during a flush", rp, leo, staleEnd)
			}
			// The follower writes past the old end, rolling on the way; a flush must
			// then vouch for all of it, which it does only after fsyncing it.
			appendN(t, l, 100, 2, 50, 0)
			if err := l.Flush(); err != nil {
				t.Fatal(err)
			}
			if rp, leo := l.RecoveryPoint(), l.LogEndOffset(); rp != leo {
				t.Fatalf("recovery point %d after the next flush, want the log end %d", rp, leo)
			}
		})
	}
}

// A truncation waits for a flush in progress (flushMu): one that lowered the recovery
// point while the flush ran would have it overwritten by the flush's older log end.
func TestTruncateWaitsForFlushInProgress(t *testing.T) {
	for name, truncate := range map[string]func(*Log) error{
		"Truncate":                func(l *Log) error { return l.Truncate(51) },
		"TruncateFullyAndStartAt": func(l *Log) error { return l.TruncateFullyAndStartAt(10) },
	} {
		t.Run(name, func(t *testing.T) {
			l := openTestLog(t, t.TempDir(), smallConfig(), true)
			defer l.Close()
			appendN(t, l, 100, 2, 50, 0)
			l.flushMu.Lock() // a flush in progress
			done := make(chan error, 1)
			go func() { done <- truncate(l) }()
			select {
			case err := <-done:
				l.flushMu.Unlock()
				t.Fatalf("truncation finished during a flush (err %v)", err)
			case <-time.After(50 * time.Millisecond):
			}
			l.flushMu.Unlock()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Roll snapshots the flusher has not written are bounded: only the newest
// maxPendingRollSnapshots are kept, so a flusher that keeps failing does not hold a full
// copy of the producer state per roll.
func TestPendingRollSnapshotsBounded(t *testing.T) {
	l := openTestLog(t, t.TempDir(), smallConfig(), true)
	defer l.Close()
	var rolls []int64
	for i := range 10 {
		mustAppend(t, l, idemBatch(7, 0, int32(i*5), 5, false))
		if err := l.Roll(); err != nil {
			t.Fatal(err)
		}
		rolls = append(rolls, l.LogEndOffset())
	}
	want := rolls[len(rolls)-maxPendingRollSnapshots:]
	if got := pendingRollSnapshots(l); !slices.Equal(got, want) {
		t.Fatalf("pending roll snapshots %v, want the newest %v", got, want)
	}
}

// The epoch checkpoint failing to write must not keep the roll snapshots pending: they
// are independent of it. They reach the disk, the recovery point stays where it was
// (so recovery does not trust them yet), and the next good flush moves it.
func TestRollSnapshotsWrittenWhenEpochFlushFails(t *testing.T) {
	dir := t.TempDir()
	l := openTestLog(t, dir, smallConfig(), true)
	defer l.Close()
	goodPath := l.epochs.path
	setEpochPath := func(path string) {
		l.epochs.mu.Lock()
		defer l.epochs.mu.Unlock()
		l.epochs.path = path
		l.epochs.dirty = true
	}
	setEpochPath(filepath.Join(dir, "missing", leaderEpochCheckpointFile))
	defer setEpochPath(goodPath) // before Close, which flushes the epochs too
	for i := range 3 {
		mustAppend(t, l, idemBatch(7, 0, int32(i*5), 5, false))
		if err := l.Roll(); err != nil {
			t.Fatal(err)
		}
	}
	pending := pendingRollSnapshots(l)
	if len(pending) == 0 {
		t.Fatal("no roll snapshots pending before the flush")
	}
	before := l.RecoveryPoint()
	if err := l.Flush(); err == nil {
		t.Fatal("flush succeeded with an unwritable epoch checkpoint")
	}
	if left := pendingRollSnapshots(l); len(left) != 0 {
		t.Fatalf("roll snapshots still pending after the flush: %v", left)
	}
	for _, off := range pending {
		if _, err := os.Stat(snapshotPath(dir, off)); err != nil {
			t.Fatalf("roll snapshot %d not written: %v", off, err)
		}
	}
	if rp := l.RecoveryPoint(); rp != before {
		t.Fatalf("recovery point moved from %d to %d by a failed flush", before, rp)
	}
	setEpochPath(goodPath)
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if rp, leo := l.RecoveryPoint(), l.LogEndOffset(); rp != leo {
		t.Fatalf("recovery point %d after a good flush, want %d", rp, leo)
	}
}
