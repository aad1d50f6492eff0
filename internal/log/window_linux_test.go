package log

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// TestReadTouchesOnlyItsWindow evicts a segment, loads one read's window alone (no
// readahead) and checks that the Read then brought no other page of the file into the
// page cache: everything it reads, batch headers included, is inside the window, so a
// caller that loads the window first never waits for the disk in the Read.
func TestReadTouchesOnlyItsWindow(t *testing.T) {
	cfg := smallConfig()
	cfg.SegmentBytes = 8 << 20
	cfg.IndexIntervalBytes = 4096
	cfg.SegmentIndexBytes = 1 << 20
	l := openTestLog(t, t.TempDir(), cfg, true)
	defer l.Close()
	appendN(t, l, 2000, 10, 100, 0) // about 2.3 MiB
	const maxBytes = 64 << 10
	for _, offset := range []int64{0, 5003, 11111, 19990} {
		w, ok := l.Window(offset, maxBytes)
		if !ok {
			t.Fatalf("no window at %d", offset)
		}
		f := w.File
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		fd := int(f.Fd())
		if err := unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED); err != nil {
			t.Fatal(err)
		}
		if err := unix.Fadvise(fd, 0, 0, unix.FADV_RANDOM); err != nil { // no readahead past what is read
			t.Fatal(err)
		}
		if _, err := f.ReadAt(make([]byte, w.Length), w.Position); err != nil {
			t.Fatal(err)
		}
		before := residentOutside(t, f.Fd(), w)
		res, err := l.Read(offset, ReadOptions{MaxBytes: maxBytes})
		if err != nil || res.Range.Length == 0 {
			t.Fatalf("read at %d: %v (%d bytes)", offset, err, res.Range.Length)
		}
		res.Range.Release()
		if after := residentOutside(t, f.Fd(), w); after > before {
			t.Errorf("read at %d loaded %d pages outside its window [%d, +%d)", offset, after-before, w.Position, w.Length)
		}
		w.Release()
	}
}

// residentOutside counts the file's cached pages outside w (the pages w only partly
// covers count as inside), with cachestat(2); the test is skipped on kernels without it.
func residentOutside(t *testing.T, fd uintptr, w FileRange) uint64 {
	t.Helper()
	page := int64(unix.Getpagesize())
	first, end := w.Position/page*page, (w.Position+w.Length+page-1)/page*page
	var n uint64
	for _, rng := range []unix.CachestatRange{{Off: 0, Len: uint64(first)}, {Off: uint64(end), Len: 0}} { // Len 0: to the end
		if rng.Off == 0 && rng.Len == 0 {
			continue
		}
		var st unix.Cachestat_t
		if err := unix.Cachestat(uint(fd), &rng, &st, 0); err != nil {
			if errors.Is(err, unix.ENOSYS) {
				t.Skip("no cachestat(2) on this kernel")
			}
			t.Fatal(err)
		}
		n += st.Cache
	}
	return n
}
