package log

import "testing"

// The last stable offset is computed for the reads that ask for it (consumer fetches,
// read_committed ones included) and left at -1 for the others (replica fetches).
func TestReadReportsLSOOnlyWhenAsked(t *testing.T) {
	l := openTestLog(t, t.TempDir(), smallConfig(), true)
	defer l.Close()
	mustAppend(t, l, testBatch(2, 8, 0))           // 0-1
	mustAppend(t, l, idemBatch(11, 0, 0, 3, true)) // 2-4, an open transaction
	mustAppend(t, l, testBatch(1, 8, 0))           // 5
	read := func(opts ReadOptions) ReadResult {
		t.Helper()
		res, err := l.Read(0, opts)
		if err != nil {
			t.Fatal(err)
		}
		res.Range.Release()
		return res
	}
	if res := read(ReadOptions{MaxBytes: 1 << 20, MaxOffset: l.LogEndOffset()}); res.LastStableOffset != -1 || res.HighWatermark != 6 {
		t.Fatalf("replica read: LSO %d, HW %d; want -1, 6", res.LastStableOffset, res.HighWatermark)
	}
	if res := read(ReadOptions{MaxBytes: 1 << 20, LastStableOffset: true}); res.LastStableOffset != 2 {
		t.Fatalf("read_uncommitted consumer read: LSO %d, want 2", res.LastStableOffset)
	}
	all := read(ReadOptions{MaxBytes: 1 << 20}).Range.Length
	res := read(ReadOptions{MaxBytes: 1 << 20, ReadCommitted: true})
	if res.LastStableOffset != 2 || res.Range.Length == 0 || res.Range.Length >= all {
		t.Fatalf("read_committed read: LSO %d, %d of %d bytes; want LSO 2 and only the batch below it", res.LastStableOffset, res.Range.Length, all)
	}
	// The memo follows the transaction's end and the high watermark.
	if _, err := l.AppendTxnMarker(TxnMarker{ProducerID: 11, CoordinatorEpoch: 1, Commit: true}, AppendOptions{LeaderEpoch: -1}); err != nil {
		t.Fatal(err)
	}
	if res := read(ReadOptions{MaxBytes: 1 << 20, LastStableOffset: true}); res.LastStableOffset != 2 {
		t.Fatalf("marker not yet below the HW: LSO %d, want 2", res.LastStableOffset)
	}
	l.SetHighWatermark(l.LogEndOffset())
	if res := read(ReadOptions{MaxBytes: 1 << 20, LastStableOffset: true}); res.LastStableOffset != l.LogEndOffset() {
		t.Fatalf("after the marker: LSO %d, want the HW %d", res.LastStableOffset, l.LogEndOffset())
	}
}

// BenchmarkReadOpenTxn reads the log's tail while a transaction is open, as a parked
// fetch re-reads after each append: a replica fetch no longer computes the last stable
// offset; a consumer's does, from the memo while nothing changed.
func BenchmarkReadOpenTxn(b *testing.B) {
	l := openTestLog(b, b.TempDir(), DefaultConfig(), true)
	defer l.Close()
	for i := range 64 {
		if _, err := l.Append(idemBatch(int64(100+i), 0, 0, 1, true), AppendOptions{LeaderEpoch: -1}); err != nil {
			b.Fatal(err)
		}
	}
	for range 64 {
		if _, err := l.Append(testBatch(4, 250, 0), AppendOptions{LeaderEpoch: -1}); err != nil {
			b.Fatal(err)
		}
	}
	l.SetHighWatermark(l.LogEndOffset())
	from := l.LogEndOffset() - 8
	for _, c := range []struct {
		name string
		opts ReadOptions
	}{
		{"replica", ReadOptions{MaxBytes: 1 << 20, MaxOffset: l.LogEndOffset()}},
		{"consumer", ReadOptions{MaxBytes: 1 << 20, LastStableOffset: true}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				res, err := l.Read(from, c.opts)
				if err != nil {
					b.Fatal(err)
				}
				res.Range.Release()
			}
		})
	}
}
