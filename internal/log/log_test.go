package log

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nagare-dev/nagare/internal/compress"
)

func TestAppendAssignsOffsetsAndReadsBack(t *testing.T) {
	l := openTestLog(t, t.TempDir(), smallConfig(), true)
	defer l.Close()
	bases := appendN(t, l, 200, 3, 40, testNow.UnixMilli())
	for i, b := range bases {
		if want := int64(i * 3); b != want {
			t.Fatalf("batch %d base offset %d, want %d", i, b, want)
		}
	}
	if l.LogEndOffset() != 600 {
		t.Fatalf("log end offset %d, want 600", l.LogEndOffset())
	}
	if l.NumSegments() < 3 {
		t.Fatalf("expected several segments with segment.bytes=8KiB, got %d", l.NumSegments())
	}
	// Every offset, including ones inside a batch, reads from the batch holding it.
	for off := int64(0); off < 600; off += 7 {
		got := readBatches(t, l, off)
		if len(got) == 0 || got[0].BaseOffset != off-off%3 {
			t.Fatalf("read at %d starts at %v, want batch %d", off, got, off-off%3)
		}
		if last := got[len(got)-1].LastOffset(); last != 599 {
			t.Fatalf("read at %d ended at %d, want 599", off, last)
		}
	}
}

func TestReadRespectsMaxBytesAndHighWatermark(t *testing.T) {
	cfg := smallConfig()
	cfg.SegmentBytes = 1 << 20
	l := openTestLog(t, t.TempDir(), cfg, true)
	defer l.Close()
	appendN(t, l, 50, 2, 100, 0)
	batchSize := int64(len(testBatch(2, 100, 0)))
	res, err := l.Read(0, ReadOptions{MaxBytes: int(batchSize*5 + 10)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Range.Length != batchSize*5 {
		t.Fatalf("range %d bytes, want 5 whole batches (%d)", res.Range.Length, batchSize*5)
	}
	res.Range.Release()
	// A first batch larger than MaxBytes comes back only with MinOneBatch.
	res, _ = l.Read(10, ReadOptions{MaxBytes: 10})
	if res.Range.Length != 0 {
		t.Fatalf("without MinOneBatch got %d bytes", res.Range.Length)
	}
	res, _ = l.Read(10, ReadOptions{MaxBytes: 10, MinOneBatch: true})
	if res.Range.Length != batchSize {
		t.Fatalf("with MinOneBatch got %d bytes, want %d", res.Range.Length, batchSize)
	}
	res.Range.Release()
	// Nothing at or above the high watermark is returned.
	l.SetHighWatermark(20)
	res, _ = l.Read(0, ReadOptions{MaxBytes: 1 << 20})
	if res.Range.Length != batchSize*10 || res.HighWatermark != 20 || res.LogEndOffset != 100 {
		t.Fatalf("hw-bounded read: %d bytes hw %d leo %d", res.Range.Length, res.HighWatermark, res.LogEndOffset)
	}
	res.Range.Release()
	res, _ = l.Read(0, ReadOptions{MaxBytes: 1 << 20, MaxOffset: 100})
	if res.Range.Length != batchSize*50 {
		t.Fatalf("follower read: %d bytes, want %d", res.Range.Length, batchSize*50)
	}
	res.Range.Release()
	if _, err := l.Read(101, ReadOptions{MaxBytes: 100}); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read past end: %v", err)
	}
	if res, err := l.Read(100, ReadOptions{MaxBytes: 100, MaxOffset: 100}); err != nil || res.Range.Length != 0 {
		t.Fatalf("read at end: %v, %d bytes", err, res.Range.Length)
	}
}

func TestFailedAppendLeavesLogUnchanged(t *testing.T) {
	cfg := smallConfig()
	cfg.MaxMessageBytes = 500
	l := openTestLog(t, t.TempDir(), cfg, true)
	defer l.Close()
	appendN(t, l, 3, 1, 10, 0)
	size := l.Size()
	bad := testBatch(2, 10, 0)
	bad[len(bad)-1] ^= 1
	for _, b := range [][]byte{bad, testBatch(10, 100, 0), append(testBatch(1, 1, 0), 1, 2, 3)} {
		if _, err := l.Append(b, AppendOptions{LeaderEpoch: -1}); err == nil {
			t.Fatal("invalid append succeeded")
		}
	}
	if l.LogEndOffset() != 3 || l.Size() != size {
		t.Fatalf("log changed by failed appends: leo %d size %d (was %d)", l.LogEndOffset(), l.Size(), size)
	}
}

func TestLogAppendTimeAndLeaderEpoch(t *testing.T) {
	cfg := smallConfig()
	cfg.LogAppendTime = true
	l := openTestLog(t, t.TempDir(), cfg, true)
	defer l.Close()
	now := time.UnixMilli(1_800_000_000_000)
	res, err := l.Append(testBatch(4, 10, 5), AppendOptions{LeaderEpoch: 7, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if res.LogAppendTime != now.UnixMilli() {
		t.Fatalf("log append time %d", res.LogAppendTime)
	}
	l.SetHighWatermark(l.LogEndOffset())
	h := readBatches(t, l, 0)[0] // readBatches checks the rewritten CRC
	if !h.LogAppendTime() || h.MaxTimestamp != now.UnixMilli() || h.LeaderEpoch != 7 {
		t.Fatalf("header %+v", h)
	}
}

func TestReopenCleanKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	l := openTestLog(t, dir, smallConfig(), true)
	appendN(t, l, 120, 2, 50, testNow.UnixMilli())
	segs, leo := l.NumSegments(), l.LogEndOffset()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Index files of a closed log hold exactly their entries.
	matches, _ := filepath.Glob(filepath.Join(dir, "*.index"))
	for _, m := range matches {
		st, _ := os.Stat(m)
		if st.Size()%offsetEntrySize != 0 || st.Size() >= int64(smallConfig().SegmentIndexBytes) {
			t.Fatalf("index %s not trimmed: %d bytes", m, st.Size())
		}
	}
	l = openTestLog(t, dir, smallConfig(), true)
	defer l.Close()
	if l.NumSegments() != segs || l.LogEndOffset() != leo {
		t.Fatalf("reopened with %d segments, leo %d; want %d, %d", l.NumSegments(), l.LogEndOffset(), segs, leo)
	}
	if got := readBatches(t, l, 0); len(got) != 120 {
		t.Fatalf("read %d batches after reopen", len(got))
	}
	appendN(t, l, 1, 1, 1, 0)
	if l.LogEndOffset() != leo+1 {
		t.Fatalf("append after reopen landed at %d", l.LogEndOffset())
	}
}

func TestRetention(t *testing.T) {
	t.Run("bytes", func(t *testing.T) {
		l := openTestLog(t, t.TempDir(), smallConfig(), true)
		defer l.Close()
		appendN(t, l, 200, 2, 50, testNow.UnixMilli())
		before := l.NumSegments()
		cfg := smallConfig()
		cfg.RetentionBytes = 20 << 10
		l.SetConfig(cfg)
		n, err := l.DeleteRetained(testNow)
		if err != nil || n == 0 {
			t.Fatalf("deleted %d segments: %v", n, err)
		}
		if l.Size() > 20<<10+int64(cfg.SegmentBytes) || l.NumSegments() != before-n {
			t.Fatalf("size %d after retention, %d segments", l.Size(), l.NumSegments())
		}
		if l.LogStartOffset() == 0 {
			t.Fatal("log start offset did not move")
		}
		if _, err := l.Read(0, ReadOptions{MaxBytes: 100}); !errors.Is(err, ErrOffsetOutOfRange) {
			t.Fatalf("read below log start: %v", err)
		}
		if got := readBatches(t, l, l.LogStartOffset()); got[len(got)-1].LastOffset() != 399 {
			t.Fatal("tail lost")
		}
	})
	t.Run("time rolls the active segment", func(t *testing.T) {
		l := openTestLog(t, t.TempDir(), smallConfig(), true)
		defer l.Close()
		appendN(t, l, 100, 2, 50, testNow.UnixMilli())
		cfg := smallConfig()
		cfg.RetentionTime = time.Hour
		l.SetConfig(cfg)
		if n, _ := l.DeleteRetained(testNow.Add(30 * time.Minute)); n != 0 {
			t.Fatalf("deleted %d segments within retention", n)
		}
		if _, err := l.DeleteRetained(testNow.Add(2 * time.Hour)); err != nil {
			t.Fatal(err)
		}
		if l.NumSegments() != 1 || l.Size() != 0 || l.LogStartOffset() != 200 || l.LogEndOffset() != 200 {
			t.Fatalf("after expiry: %d segments, %d bytes, start %d end %d", l.NumSegments(), l.Size(), l.LogStartOffset(), l.LogEndOffset())
		}
		appendN(t, l, 1, 1, 1, testNow.UnixMilli())
		if l.LogEndOffset() != 201 {
			t.Fatal("append after full expiry")
		}
	})
	t.Run("pinned read survives deletion", func(t *testing.T) {
		l := openTestLog(t, t.TempDir(), smallConfig(), true)
		defer l.Close()
		appendN(t, l, 100, 2, 50, testNow.UnixMilli())
		res, err := l.Read(0, ReadOptions{MaxBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		defer res.Range.Release()
		cfg := smallConfig()
		cfg.RetentionBytes = 0
		l.SetConfig(cfg)
		if n, err := l.DeleteRetained(testNow); err != nil || n == 0 {
			t.Fatalf("retention: %d, %v", n, err)
		}
		buf := make([]byte, res.Range.Length)
		if _, err := res.Range.File.ReadAt(buf, res.Range.Position); err != nil {
			t.Fatalf("pinned range unreadable after deletion: %v", err)
		}
		if err := ValidateBatch(buf[:len(testBatch(2, 50, 0))], 0); err != nil {
			t.Fatal(err)
		}
	})
}

func TestDeleteRecordsBefore(t *testing.T) {
	l := openTestLog(t, t.TempDir(), smallConfig(), true)
	defer l.Close()
	appendN(t, l, 100, 2, 50, 0)
	if _, err := l.DeleteRecordsBefore(500); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("past hw: %v", err)
	}
	start, err := l.DeleteRecordsBefore(101)
	if err != nil || start != 101 {
		t.Fatalf("DeleteRecordsBefore = %d, %v", start, err)
	}
	if _, err := l.Read(100, ReadOptions{MaxBytes: 100}); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below new start: %v", err)
	}
	before := l.NumSegments()
	if _, err := l.DeleteRetained(testNow); err != nil {
		t.Fatal(err)
	}
	if l.NumSegments() >= before || l.LogStartOffset() != 101 {
		t.Fatalf("segments %d -> %d, start %d", before, l.NumSegments(), l.LogStartOffset())
	}
}

func TestOffsetForTimestamp(t *testing.T) {
	l := openTestLog(t, t.TempDir(), smallConfig(), true)
	defer l.Close()
	// Batch i has records at timestamps 1000+10i .. 1000+10i+2, offsets 3i .. 3i+2.
	appendN(t, l, 150, 3, 30, 1000)
	cases := []struct {
		ts, offset, timestamp int64
		found                 bool
	}{
		{0, 0, 1000, true},
		{1000, 0, 1000, true},
		{1001, 1, 1001, true},
		{1003, 3, 1010, true},
		{1000 + 10*77 + 2, 77*3 + 2, 1000 + 10*77 + 2, true},
		{1000 + 10*149 + 2, 449, 1000 + 10*149 + 2, true},
		{1000 + 10*149 + 3, 0, 0, false},
	}
	for _, c := range cases {
		off, ts, found, err := l.OffsetForTimestamp(c.ts)
		if err != nil || found != c.found || found && (off != c.offset || ts != c.timestamp) {
			t.Errorf("OffsetForTimestamp(%d) = %d, %d, %v, %v; want %d, %d, %v", c.ts, off, ts, found, err, c.offset, c.timestamp, c.found)
		}
	}
	off, ts, found, err := l.MaxTimestamp()
	if err != nil || !found || off != 449 || ts != 1000+10*149+2 {
		t.Fatalf("MaxTimestamp = %d, %d, %v, %v", off, ts, found, err)
	}
}

func TestTruncate(t *testing.T) {
	dir := t.TempDir()
	l := openTestLog(t, dir, smallConfig(), true)
	appendN(t, l, 100, 2, 50, 0)
	segs := l.NumSegments()
	// Mid-batch offset: the whole batch holding it goes.
	if err := l.Truncate(51); err != nil {
		t.Fatal(err)
	}
	if l.LogEndOffset() != 50 || l.HighWatermark() != 50 || l.NumSegments() >= segs {
		t.Fatalf("after truncate: leo %d hw %d segments %d", l.LogEndOffset(), l.HighWatermark(), l.NumSegments())
	}
	appendN(t, l, 10, 2, 50, 0)
	if got := readBatches(t, l, 0); len(got) != 35 || got[34].LastOffset() != 69 {
		t.Fatalf("read %d batches after truncate+append", len(got))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openTestLog(t, dir, smallConfig(), false)
	defer l.Close()
	if l.LogEndOffset() != 70 || len(readBatches(t, l, 0)) != 35 {
		t.Fatalf("after reopen: leo %d", l.LogEndOffset())
	}
	if err := l.Truncate(0); err != nil {
		t.Fatal(err)
	}
	if l.LogEndOffset() != 0 || l.NumSegments() != 1 || l.Size() != 0 {
		t.Fatalf("after full truncate: leo %d segments %d size %d", l.LogEndOffset(), l.NumSegments(), l.Size())
	}
	appendN(t, l, 2, 1, 1, 0)
	if l.LogEndOffset() != 2 {
		t.Fatal("append after full truncate")
	}
}

func TestWaitForAppendWakes(t *testing.T) {
	l := openTestLog(t, t.TempDir(), smallConfig(), true)
	defer l.Close()
	ch := l.WaitForAppend()
	select {
	case <-ch:
		t.Fatal("woke before any append")
	default:
	}
	go func() {
		if _, err := l.Append(testBatch(1, 1, 0), AppendOptions{LeaderEpoch: -1}); err != nil {
			t.Error(err)
		}
	}()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("append did not wake the waiter")
	}
}

func TestConcurrentAppendAndRead(t *testing.T) {
	l := openTestLog(t, t.TempDir(), smallConfig(), true)
	defer l.Close()
	const batches = 400
	var wg sync.WaitGroup
	done := make(chan struct{})
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				// scanLog checks CRCs and continuity; retention may move the start meanwhile.
				if _, err := scanLog(l, l.LogStartOffset()); err != nil && !errors.Is(err, ErrOffsetOutOfRange) {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		cfg := smallConfig()
		cfg.RetentionBytes = 32 << 10
		l.SetConfig(cfg)
		for i := 0; i < 20; i++ {
			time.Sleep(time.Millisecond)
			if _, err := l.DeleteRetained(testNow); err != nil {
				t.Error(err)
			}
		}
	}()
	for i := 0; i < batches; i++ {
		if _, err := l.Append(testBatch(2, 40, int64(i)), AppendOptions{LeaderEpoch: -1}); err != nil {
			t.Fatal(err)
		}
		l.SetHighWatermark(l.LogEndOffset())
	}
	close(done)
	wg.Wait()
	if l.LogEndOffset() != batches*2 {
		t.Fatalf("leo %d", l.LogEndOffset())
	}
}

func TestFlushAdvancesRecoveryPoint(t *testing.T) {
	cfg := smallConfig()
	cfg.FlushMessages = 10
	l := openTestLog(t, t.TempDir(), cfg, true)
	defer l.Close()
	appendN(t, l, 4, 2, 1, 0)
	if l.RecoveryPoint() != 0 {
		t.Fatalf("recovery point %d before flush.messages reached", l.RecoveryPoint())
	}
	appendN(t, l, 1, 2, 1, 0)
	if l.RecoveryPoint() != 10 {
		t.Fatalf("recovery point %d after 10 records with flush.messages=10", l.RecoveryPoint())
	}
	cfg.FlushMessages = 0
	cfg.FlushInterval = time.Millisecond
	l.SetConfig(cfg)
	appendN(t, l, 1, 2, 1, 0)
	if err := l.FlushIfDue(time.Now().Add(time.Second)); err != nil || l.RecoveryPoint() != 12 {
		t.Fatalf("flush.ms: recovery point %d, %v", l.RecoveryPoint(), err)
	}
}

// TestOffsetForTimestampInsideCompressedBatch: the answer is the exact record, not the
// batch's first, even when the batch is compressed.
func TestOffsetForTimestampInsideCompressedBatch(t *testing.T) {
	for _, codec := range []compress.Codec{1, 2, 3, 4} {
		l := openTestLog(t, t.TempDir(), smallConfig(), true)
		appendN(t, l, 1, 3, 10, 1000)    // offsets 0-2, timestamps 1000-1002
		plain := testBatch(10, 20, 5000) // offsets 3-12, timestamps 5000-5009
		body, err := compress.AppendCompressed(nil, codec, plain[BatchHeaderSize:])
		if err != nil {
			t.Fatal(err)
		}
		b := append(append([]byte(nil), plain[:BatchHeaderSize]...), body...)
		binary.BigEndian.PutUint32(b[offBatchLength:], uint32(len(b)-logOverhead))
		binary.BigEndian.PutUint16(b[offAttributes:], uint16(codec))
		fixCRC(b)
		if _, err := l.Append(b, AppendOptions{LeaderEpoch: -1}); err != nil {
			t.Fatalf("%v: %v", codec, err)
		}
		l.SetHighWatermark(l.LogEndOffset())
		off, ts, found, err := l.OffsetForTimestamp(5004)
		if err != nil || !found || off != 7 || ts != 5004 {
			t.Fatalf("%v: OffsetForTimestamp(5004) = %d, %d, %v, %v; want 7, 5004", codec, off, ts, found, err)
		}
		l.Close()
	}
}
