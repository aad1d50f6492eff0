package share

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nagare-dev/nagare/internal/log"
)

// A scan lists each batch of a range once; cutting it afterwards reads nothing (the
// file is closed by then) and keeps the batches up to the one holding the offset.
func TestScanReadThenCut(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "seg"))
	if err != nil {
		t.Fatal(err)
	}
	for i, size := range []int{100, 250, 60, 300} {
		if _, err := f.Write(fakeBatch(int64(100+i*10), 10, size)); err != nil {
			t.Fatal(err)
		}
	}
	r := log.FileRange{File: f, Position: 100, Length: 610} // the last three batches
	var s Scan
	if err := s.Read(r); err != nil {
		t.Fatal(err)
	}
	if len(s.Batches) != 3 || s.Batches[0].BaseOffset != 110 || s.Batches[2].LastOffset != 139 {
		t.Fatalf("batches %+v", s.Batches)
	}
	f.Close()
	for _, c := range []struct{ last, length int64 }{{110, 250}, {119, 250}, {120, 310}, {139, 610}, {500, 610}} {
		if got := s.Cut(r, c.last).Length; got != c.length {
			t.Errorf("Cut(%d) length %d, want %d", c.last, got, c.length)
		}
	}
}

// A range ending inside a batch is an error, and a reused Scan holds only the last read.
func TestScanOverrunAndReuse(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "seg"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := range 3 {
		if _, err := f.Write(fakeBatch(int64(i*5), 5, 100)); err != nil {
			t.Fatal(err)
		}
	}
	var s Scan
	if err := s.Read(log.FileRange{File: f, Position: 0, Length: 300}); err != nil || len(s.Batches) != 3 {
		t.Fatalf("whole range: %d batches, %v", len(s.Batches), err)
	}
	if err := s.Read(log.FileRange{File: f, Position: 100, Length: 150}); err == nil {
		t.Fatal("a range ending inside a batch scanned without an error")
	}
	if err := s.Read(log.FileRange{File: f, Position: 200, Length: 100}); err != nil || len(s.Batches) != 1 || s.Batches[0].BaseOffset != 10 {
		t.Fatalf("reused scan: %+v, %v", s.Batches, err)
	}
}

// A scan marks control batches (attributes bit 5) and only those: a transactional
// data batch (bit 4) is not one.
func TestScanControlBatches(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "seg"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i, attrs := range []byte{0x00, 0x10, 0x30} { // plain, transactional, transaction marker
		b := fakeBatch(int64(i*5), 5, 100)
		b[22] = attrs // attributes, int16 at 21
		if _, err := f.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	var s Scan
	if err := s.Read(log.FileRange{File: f, Position: 0, Length: 300}); err != nil {
		t.Fatal(err)
	}
	if len(s.Batches) != 3 || s.Batches[0].Control || s.Batches[1].Control || !s.Batches[2].Control {
		t.Fatalf("batches %+v, want only the last a control batch", s.Batches)
	}
}
