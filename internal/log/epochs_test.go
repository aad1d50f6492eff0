package log

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestEpochCacheEndOffsetFor(t *testing.T) {
	c := &epochCache{}
	for _, e := range []EpochEntry{{1, 0}, {3, 100}, {5, 250}} {
		c.assign(e.Epoch, e.StartOffset)
	}
	const leo = 300
	for _, tc := range []struct {
		epoch      int32
		wantEpoch  int32
		wantOffset int64
	}{
		{UndefinedEpoch, UndefinedEpoch, UndefinedOffset},
		{0, 0, 0},                            // older than the history: its end is where the history starts
		{1, 1, 100},                          // ends where epoch 3 began
		{2, 1, 100},                          // unknown epoch between: the floor epoch and the next start
		{3, 3, 250},                          //
		{4, 3, 250},                          //
		{5, 5, leo},                          // the latest runs to the log end
		{6, UndefinedEpoch, UndefinedOffset}, // newer than the log knows
	} {
		gotEpoch, gotOffset := c.endOffsetFor(tc.epoch, leo)
		if gotEpoch != tc.wantEpoch || gotOffset != tc.wantOffset {
			t.Errorf("endOffsetFor(%d) = (%d, %d), want (%d, %d)", tc.epoch, gotEpoch, gotOffset, tc.wantEpoch, tc.wantOffset)
		}
	}
}

func TestEpochCacheStaysMonotonic(t *testing.T) {
	c := &epochCache{}
	c.assign(1, 0)
	c.assign(1, 50) // same epoch again: ignored
	c.assign(0, 60) // older epoch: ignored
	c.assign(2, 100)
	c.assign(3, 200)
	if got := c.snapshot(); !slices.Equal(got, []EpochEntry{{1, 0}, {2, 100}, {3, 200}}) {
		t.Fatalf("history %v", got)
	}
	// A newer epoch starting before the latest start replaces the conflicting tail.
	c.assign(4, 150)
	if got := c.snapshot(); !slices.Equal(got, []EpochEntry{{1, 0}, {2, 100}, {4, 150}}) {
		t.Fatalf("after a conflicting assign: %v", got)
	}
	c.truncateFromEnd(150)
	if got := c.snapshot(); !slices.Equal(got, []EpochEntry{{1, 0}, {2, 100}}) {
		t.Fatalf("truncateFromEnd(150): %v", got)
	}
	c.truncateFromStart(120)
	if got := c.snapshot(); !slices.Equal(got, []EpochEntry{{2, 120}}) {
		t.Fatalf("truncateFromStart(120): %v", got)
	}
	c.truncateFromStart(50) // below the first start: nothing to do
	if got := c.snapshot(); !slices.Equal(got, []EpochEntry{{2, 120}}) {
		t.Fatalf("truncateFromStart(50): %v", got)
	}
}

func TestEpochCheckpointRoundTripAndRejects(t *testing.T) {
	dir := t.TempDir()
	c, err := loadEpochCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	c.assign(0, 0)
	c.assign(7, 1234)
	if err := c.flush(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, leaderEpochCheckpointFile))
	if string(data) != "0\n2\n0 0\n7 1234\n" {
		t.Fatalf("checkpoint text %q, want Kafka's format", data)
	}
	again, err := loadEpochCache(dir)
	if err != nil || !slices.Equal(again.snapshot(), c.snapshot()) {
		t.Fatalf("reloaded %v (%v), want %v", again.snapshot(), err, c.snapshot())
	}
	for _, bad := range []string{"", "1\n0\n", "0\nx\n", "0\n2\n1 5\n", "0\n1\n-1 5\n", "0\n1\n1\n"} {
		if _, err := parseEpochCheckpoint(bufio.NewScanner(strings.NewReader(bad))); err == nil {
			t.Errorf("checkpoint %q accepted", bad)
		}
	}
}

func appendEpoch(t *testing.T, l *Log, epoch int32, batches int) {
	t.Helper()
	for range batches {
		if _, err := l.Append(testBatch(3, 50, 1000), AppendOptions{LeaderEpoch: epoch}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLogEpochHistoryAcrossTruncateAndRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig()
	l := openTestLog(t, dir, cfg, true)
	appendEpoch(t, l, 1, 20) // offsets 0-59
	l.AssignEpoch(2)         // leadership starts at 60 before any write
	appendEpoch(t, l, 2, 20) // 60-119
	appendEpoch(t, l, 4, 20) // 120-179
	want := []EpochEntry{{1, 0}, {2, 60}, {4, 120}}
	if got := l.EpochHistory(); !slices.Equal(got, want) {
		t.Fatalf("history %v, want %v", got, want)
	}
	if e, off := l.EndOffsetForEpoch(3); e != 2 || off != 120 {
		t.Fatalf("EndOffsetForEpoch(3) = %d, %d; want 2, 120", e, off)
	}
	// A follower told epoch 2 ended at 120 truncates there, then copies epoch 5's data.
	if err := l.Truncate(120); err != nil {
		t.Fatal(err)
	}
	if got := l.EpochHistory(); !slices.Equal(got, want[:2]) {
		t.Fatalf("after truncate: %v", got)
	}
	follower := testBatch(3, 50, 1000)
	setLeaderEpoch(follower, 5)
	if _, err := l.Append(follower, AppendOptions{LeaderEpoch: -1}); err != nil {
		t.Fatal(err)
	}
	want = []EpochEntry{{1, 0}, {2, 60}, {5, 120}}
	if got := l.EpochHistory(); !slices.Equal(got, want) {
		t.Fatalf("after the follower append: %v, want %v", got, want)
	}

	// A crash before any checkpoint of epoch 5: recovery rebuilds it from the batches.
	crashed := crashCopy(t, dir)
	rl := openTestLog(t, crashed, cfg, false)
	if got := rl.EpochHistory(); !slices.Equal(got, want) {
		t.Fatalf("after a crash: %v, want %v", got, want)
	}
	rl.Close()

	// A clean close writes the checkpoint; DeleteRecords moves the first epoch's start.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openTestLog(t, dir, cfg, true)
	defer l.Close()
	if got := l.EpochHistory(); !slices.Equal(got, want) {
		t.Fatalf("after a clean restart: %v, want %v", got, want)
	}
	l.SetHighWatermark(l.LogEndOffset())
	if _, err := l.DeleteRecordsBefore(90); err != nil {
		t.Fatal(err)
	}
	if got := l.EpochHistory(); !slices.Equal(got, []EpochEntry{{2, 90}, {5, 120}}) {
		t.Fatalf("after DeleteRecords(90): %v", got)
	}
	// Truncating below everything empties the history.
	if err := l.Truncate(0); err != nil {
		t.Fatal(err)
	}
	if got := l.EpochHistory(); len(got) != 0 {
		t.Fatalf("after truncating everything: %v", got)
	}
}

func TestLogEpochSeededWithoutCheckpoint(t *testing.T) {
	dir := t.TempDir()
	l := openTestLog(t, dir, smallConfig(), true)
	appendEpoch(t, l, 3, 5)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// A directory written before the checkpoint existed.
	if err := os.Remove(filepath.Join(dir, leaderEpochCheckpointFile)); err != nil {
		t.Fatal(err)
	}
	l = openTestLog(t, dir, smallConfig(), true)
	defer l.Close()
	if got := l.EpochHistory(); !slices.Equal(got, []EpochEntry{{3, 0}}) {
		t.Fatalf("seeded history %v, want [{3 0}]", got)
	}
}
