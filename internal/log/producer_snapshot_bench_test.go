package log

import (
	"testing"
)

// BenchmarkRollWithProducers is an append followed by a segment roll on a log with 100
// idempotent producers: the time a roll holds the append lock, most of it the producer
// snapshot (written, and before it moved to the flusher, fsynced with its directory).
func BenchmarkRollWithProducers(b *testing.B) {
	l := openTestLog(b, b.TempDir(), DefaultConfig(), true)
	defer l.Close()
	const producers = 100
	seqs := make([]int32, producers)
	appendOne := func(i int) {
		p := i % producers
		if _, err := l.Append(idemBatch(int64(p+1), 0, seqs[p], 1, false), AppendOptions{LeaderEpoch: -1}); err != nil {
			b.Fatal(err)
		}
		seqs[p]++
	}
	for i := range producers {
		appendOne(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		appendOne(i)
		if err := l.Roll(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRollSnapshot is the producer-snapshot step of a roll with 100 producers, the
// part of the roll the append lock waits for: "written" is what a roll did before (write
// a temporary file, fsync, rename, fsync the directory), "copied" what it does now (the
// flusher writes the copy later).
func BenchmarkRollSnapshot(b *testing.B) {
	dir := b.TempDir()
	l := openTestLog(b, dir, DefaultConfig(), true)
	defer l.Close()
	for p := range 100 {
		if _, err := l.Append(idemBatch(int64(p+1), 0, 0, 1, false), AppendOptions{LeaderEpoch: -1}); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("written", func(b *testing.B) {
		b.ReportAllocs()
		for i := range b.N {
			if err := l.producers.writeSnapshot(dir, int64(1000+i)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("copied", func(b *testing.B) {
		b.ReportAllocs()
		for i := range b.N {
			l.takeRollSnapshotLocked(int64(1000 + i))
			if len(l.rollSnapshots.pending) > 1000 {
				l.rollSnapshots.pending = l.rollSnapshots.pending[:0] // the flusher's part, not timed here
			}
		}
	})
}
