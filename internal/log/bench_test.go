package log

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Append throughput for 1 KiB records in 16 KiB and 1 MiB batches, beside the machine's
// raw buffered sequential-write throughput for the same bytes (BenchmarkRawWrite): the
// ratio of the two is the figure docs/BENCHMARKS.md records.

var batchShapes = []struct {
	name    string
	records int
}{
	{"batch=16KiB", 16},
	{"batch=1MiB", 1020}, // as many 1 KiB records as fit max.message.bytes
}

const recordValueBytes = 1024 - 8 // ~1 KiB per record with its framing

// BenchmarkAppend alternates, in chunks of 32 MiB, appending to a log and writing the
// same bytes to a plain file, so both see the same page cache and writeback state, and
// reports each rate and their ratio (append-x-raw). Both recycle their files every
// chunk, so the figure is the buffered write path, not the disk's writeback speed.
func BenchmarkAppend(b *testing.B) {
	for _, shape := range batchShapes {
		b.Run(shape.name, func(b *testing.B) {
			batch := testBatch(shape.records, recordValueBytes, time.Now().UnixMilli())
			cfg := DefaultConfig()
			cfg.SegmentBytes = chunkBytes
			cfg.RetentionBytes = 0
			dir := b.TempDir()
			l := openTestLog(b, dir, cfg, true)
			defer l.Close()
			raw, err := os.Create(filepath.Join(dir, "raw"))
			if err != nil {
				b.Fatal(err)
			}
			defer raw.Close()
			perChunk := max(1, chunkBytes/len(batch))
			var logTime, rawTime time.Duration
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; {
				n := min(perChunk, b.N-done)
				logTime += timeIt(func() { appendLoop(b, l, batch, n) })
				b.StopTimer()
				if _, err := l.DeleteRetained(time.Now()); err != nil {
					b.Fatal(err)
				}
				rawTime += timeIt(func() { writeLoop(b, raw, batch, n) })
				b.StartTimer()
				done += n
			}
			total := float64(b.N) * float64(len(batch)) / 1e6
			b.ReportMetric(total/logTime.Seconds(), "append-MB/s")
			b.ReportMetric(total/rawTime.Seconds(), "raw-MB/s")
			b.ReportMetric(rawTime.Seconds()/logTime.Seconds(), "append-x-raw")
		})
	}
}

const chunkBytes = 128 << 20

func timeIt(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}

func appendLoop(b *testing.B, l *Log, batch []byte, n int) {
	for i := 0; i < n; i++ {
		if _, err := l.Append(batch, AppendOptions{LeaderEpoch: -1}); err != nil {
			b.Fatal(err)
		}
	}
}

// writeLoop is the reference: plain buffered writes of the same bytes, the file cut
// back to empty at the end of each chunk as the log's retention does.
func writeLoop(b *testing.B, f *os.File, batch []byte, n int) {
	for i := 0; i < n; i++ {
		if _, err := f.Write(batch); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Truncate(0); err != nil {
		b.Fatal(err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkReadLookup measures finding the range for a random offset in a log of many
// segments (index lookup, short header scan, range end) and releasing it.
func BenchmarkReadLookup(b *testing.B) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 16 << 20
	l := openTestLog(b, b.TempDir(), cfg, true)
	defer l.Close()
	batch := testBatch(4, 250, time.Now().UnixMilli()) // 1 KiB batches: many index entries per segment
	for i := 0; i < 64<<10; i++ {
		if _, err := l.Append(batch, AppendOptions{LeaderEpoch: -1}); err != nil {
			b.Fatal(err)
		}
	}
	l.SetHighWatermark(l.LogEndOffset())
	for _, maxBytes := range []int{64 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("maxBytes=%dKiB", maxBytes>>10), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			end := l.LogEndOffset()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res, err := l.Read(rng.Int64N(end), ReadOptions{MaxBytes: maxBytes, MinOneBatch: true})
				if err != nil || res.Range.Length == 0 {
					b.Fatalf("read: %v, %d bytes", err, res.Range.Length)
				}
				res.Range.Release()
			}
		})
	}
}

func BenchmarkValidateBatch(b *testing.B) {
	batch := testBatch(1020, recordValueBytes, 0)
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, _, err := ValidateBatches(batch, 0); err != nil {
			b.Fatal(err)
		}
	}
}
