package log

import (
	"math/rand/v2"
	"testing"
)

// TestWindowHoldsRead checks, for reads at many offsets and sizes, that the window
// computed from the index alone covers the range the Read returns.
func TestWindowHoldsRead(t *testing.T) {
	cfg := smallConfig()
	cfg.SegmentBytes = 256 << 10
	l := openTestLog(t, t.TempDir(), cfg, true)
	defer l.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 600 {
		if _, err := l.Append(testBatch(1+rng.IntN(8), 10+rng.IntN(300), int64(i)), AppendOptions{LeaderEpoch: -1}); err != nil {
			t.Fatal(err)
		}
	}
	l.SetHighWatermark(l.LogEndOffset())
	for range 2000 {
		offset := rng.Int64N(l.LogEndOffset())
		maxBytes := 3000 + rng.IntN(20000) // above any one batch: no KIP-74 overshoot
		w, ok := l.Window(offset, maxBytes)
		if !ok {
			t.Fatalf("no window at %d below the log end %d", offset, l.LogEndOffset())
		}
		res, err := l.Read(offset, ReadOptions{MaxBytes: maxBytes})
		if err != nil {
			t.Fatal(err)
		}
		r := res.Range
		if r.Length == 0 || r.File != w.File || r.Position < w.Position || r.Position+r.Length > w.Position+w.Length {
			t.Fatalf("read at %d within %d: range [%d, +%d) outside window [%d, +%d) (same file: %t)",
				offset, maxBytes, r.Position, r.Length, w.Position, w.Length, r.File == w.File)
		}
		if w.Length > int64(maxBytes)+int64(cfg.IndexIntervalBytes)+2*4096+4096 {
			t.Fatalf("window at %d within %d is %d bytes: more than the read plus an index interval and a scan buffer", offset, maxBytes, w.Length)
		}
		r.Release()
		w.Release()
	}
	if _, ok := l.Window(l.LogEndOffset(), 1000); ok {
		t.Fatal("a window at the log end")
	}
	if _, ok := l.Window(0, 0); ok {
		t.Fatal("a window of no bytes")
	}
}
