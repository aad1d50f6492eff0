package share

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nagare-dev/nagare/internal/log"
)

// Records given back after a cut are available again without a spent delivery; those
// another member holds are untouched.
func TestUnacquireUndoesDelivery(t *testing.T) {
	lim := Limits{LockDuration: time.Minute, DeliveryLimit: 2, MaxInFlight: 100}
	var w window
	now := time.Now()
	batches := []Batch{{BaseOffset: 0, LastOffset: 4}, {BaseOffset: 5, LastOffset: 9}}
	got := w.acquire(batches, "a", 5, lim, now, nil) // whole batches: the first
	w.acquire(batches, "b", 5, lim, now, nil)
	if len(got) != 1 || got[0].LastOffset != 4 {
		t.Fatalf("acquired %v", got)
	}
	if !w.unacquire("a", []AcquiredRange{{FirstOffset: 2, LastOffset: 7, DeliveryCount: 1}}) {
		t.Fatal("nothing given back")
	}
	for o := int64(0); o < 10; o++ {
		r := w.at(o)
		wantState, wantDeliveries := Acquired, int16(1)
		if o == 2 || o == 3 || o == 4 {
			wantState, wantDeliveries = Available, 0
		}
		if r.state != wantState || r.deliveries != wantDeliveries {
			t.Fatalf("offset %d: %v/%d, want %v/%d", o, r.state, r.deliveries, wantState, wantDeliveries)
		}
	}
}

// WholeBatches stops before a batch that does not fit, and reads nothing past the range.
func TestWholeBatches(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "seg"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := range 4 {
		if _, err := f.Write(fakeBatch(int64(i*10), 10, 100)); err != nil {
			t.Fatal(err)
		}
	}
	r := log.FileRange{File: f, Position: 0, Length: 400}
	for _, c := range []struct{ max, length, last int64 }{{99, 0, -1}, {100, 100, 9}, {350, 300, 29}, {1000, 400, 39}} {
		n, last, err := WholeBatches(r, c.max)
		if err != nil || n != c.length || last != c.last {
			t.Fatalf("WholeBatches(%d) = %d, %d, %v; want %d, %d", c.max, n, last, err, c.length, c.last)
		}
	}
}

// fakeBatch is a record batch header of size bytes holding count offsets from base,
// zero-padded: all Scan.Read and WholeBatches read.
func fakeBatch(base int64, count int32, size int) []byte {
	b := make([]byte, size)
	binary.BigEndian.PutUint64(b[0:], uint64(base))
	binary.BigEndian.PutUint32(b[8:], uint32(size-12))
	b[16] = 2 // magic
	binary.BigEndian.PutUint32(b[23:], uint32(count-1))
	return b
}
