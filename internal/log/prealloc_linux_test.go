package log

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// allocated is the disk a file holds (st_blocks), which fallocate with KEEP_SIZE grows
// and the file size does not show.
func allocated(t *testing.T, path string) (size, blocks int64) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size(), fi.Sys().(*syscall.Stat_t).Blocks * 512
}

// requirePreallocation skips the test where dir's file system cannot fallocate; the
// tests' assertions then hold strictly.
func requirePreallocation(t *testing.T, dir string) {
	t.Helper()
	f, err := os.CreateTemp(dir, "probe")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := allocateKeepSize(f, 0, 1<<20); err != nil {
		t.Skipf("no fallocate on %s: %v", dir, err)
	}
}

func openPreallocLog(t *testing.T, dir string, cfg Config, ahead int64, clean bool) *Log {
	t.Helper()
	l, err := Open(OpenOptions{Dir: dir, Topic: "t", Partition: 0, Config: cfg, Logger: quietLogger(), Clean: clean,
		PreallocateAhead: ahead})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// preallocTest opens a log in a new directory that preallocates ahead bytes, with small
// segments; it skips where the file system cannot preallocate.
func preallocTest(t *testing.T, ahead int64) (string, Config, *Log) {
	t.Helper()
	dir := t.TempDir()
	requirePreallocation(t, t.TempDir())
	cfg := smallConfig()
	cfg.SegmentBytes = 64 << 10
	return dir, cfg, openPreallocLog(t, dir, cfg, ahead, true)
}

func TestPreallocateAheadKeepsSizeAndIsGivenBack(t *testing.T) {
	const ahead = 1 << 20
	dir, cfg, l := preallocTest(t, ahead)
	defer l.Close()
	appendN(t, l, 5, 2, 100, 0)
	first := filepath.Join(dir, "00000000000000000000.log")
	size, blocks := allocated(t, first)
	if want := l.activeSegment().size.Load(); size != want {
		t.Fatalf("file size %d, want the data's %d: preallocation must not change it", size, want)
	}
	if blocks < ahead {
		t.Fatalf("%d bytes allocated for %d of data, want at least %d ahead", blocks, size, ahead)
	}
	before := readBatches(t, l, 0)

	if err := l.Roll(); err != nil {
		t.Fatal(err)
	}
	if size2, blocks2 := allocated(t, first); size2 != size || blocks2 >= ahead {
		t.Fatalf("sealed segment: size %d (was %d), %d bytes allocated; the preallocation must be given back", size2, size, blocks2)
	}
	if got := readBatches(t, l, 0); len(got) != len(before) {
		t.Fatalf("read %d batches after the roll, %d before", len(got), len(before))
	}

	// The new active segment preallocates on its first append; off means none.
	appendN(t, l, 1, 1, 100, 100)
	if _, b := allocated(t, l.activeSegment().logPath); b < ahead {
		t.Fatalf("new active segment holds %d bytes, want at least %d ahead", b, ahead)
	}
	off := openPreallocLog(t, t.TempDir(), cfg, 0, true)
	defer off.Close()
	appendN(t, off, 5, 2, 100, 0)
	if _, b := allocated(t, off.activeSegment().logPath); b >= ahead {
		t.Fatalf("preallocation off, yet %d bytes allocated", b)
	}
}

// TestPreallocatedSegmentRecovers: a crash leaves the active segment's preallocation in
// place; the file's size is still its data, so recovery finds every batch, appends go
// on, and sealing the segment gives the leftover back.
func TestPreallocatedSegmentRecovers(t *testing.T) {
	const ahead = 1 << 20
	dir, cfg, l := preallocTest(t, ahead)
	appendN(t, l, 20, 3, 50, 0)
	want := readBatches(t, l, 0)
	if _, blocks := allocated(t, l.activeSegment().logPath); blocks < ahead {
		t.Fatalf("%d bytes allocated before the crash, want at least %d", blocks, ahead)
	}
	leo := l.LogEndOffset()
	// A crash: the files stay as they are, nothing is sealed or closed cleanly.
	reopened := openPreallocLog(t, dir, cfg, ahead, false)
	defer reopened.Close()
	if reopened.LogEndOffset() != leo {
		t.Fatalf("log end %d after recovery, want %d", reopened.LogEndOffset(), leo)
	}
	reopened.SetHighWatermark(reopened.LogEndOffset())
	if got := readBatches(t, reopened, 0); len(got) != len(want) {
		t.Fatalf("recovered %d batches, want %d", len(got), len(want))
	}
	// Sealed before any append of this process: the blocks the crashed one allocated
	// are given back all the same.
	path := reopened.activeSegment().logPath
	if err := reopened.Roll(); err != nil {
		t.Fatal(err)
	}
	if size, blocks := allocated(t, path); blocks >= ahead {
		t.Fatalf("sealed after recovery: %d bytes allocated for %d of data", blocks, size)
	}
	appendN(t, reopened, 2, 1, 50, 1000)
	if got := readBatches(t, reopened, 0); len(got) != len(want)+2 {
		t.Fatalf("read %d batches after appending 2 to %d", len(got), len(want))
	}
}

// TestTopicPreallocateTakesWholeSegment: Kafka's preallocate=true allocates the segment's
// segment.bytes as it starts.
func TestTopicPreallocateTakesWholeSegment(t *testing.T) {
	requirePreallocation(t, t.TempDir())
	cfg := smallConfig()
	cfg.SegmentBytes = 4 << 20
	cfg.Preallocate = true
	l := openPreallocLog(t, t.TempDir(), cfg, 0, true)
	defer l.Close()
	appendN(t, l, 1, 1, 10, 0)
	size, blocks := allocated(t, l.activeSegment().logPath)
	if blocks < int64(cfg.SegmentBytes) {
		t.Fatalf("%d bytes allocated for %d of data, want the whole segment's %d", blocks, size, cfg.SegmentBytes)
	}
}
