package log

import (
	"encoding/binary"
	"testing"
	"time"
)

// BenchmarkAppendProducer compares appending plain batches with appending an idempotent
// producer's batches (sequence checked, producer state updated under the append lock),
// for the same shapes as BenchmarkAppend. Idempotent batches come from a pool built
// with the timer stopped: each needs its own sequence and so its own CRC.
func BenchmarkAppendProducer(b *testing.B) {
	for _, shape := range batchShapes {
		for _, idempotent := range []bool{false, true} {
			name := shape.name + "/plain"
			if idempotent {
				name = shape.name + "/idempotent"
			}
			b.Run(name, func(b *testing.B) { benchAppendProducer(b, shape.records, idempotent) })
		}
	}
}

func benchAppendProducer(b *testing.B, records int, idempotent bool) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = chunkBytes
	cfg.RetentionBytes = 0
	l := openTestLog(b, b.TempDir(), cfg, true)
	defer l.Close()
	now := time.Now().UnixMilli() // recent: old timestamps would roll by segment.ms
	plain := testBatch(records, recordValueBytes, now)
	// Both cases cycle through a pool of distinct buffers, so both copy from memory
	// that is not in the CPU cache; only the producer fields differ.
	pool := make([][]byte, max(8, (16<<20)/len(plain)))
	pid, used := int64(0), len(pool)
	refill := func() {
		pid++
		for i := range pool {
			if idempotent {
				pool[i] = producerBatch(plain, pid, 0, int32(i*records))
			} else {
				pool[i] = append(pool[i][:0], plain...)
			}
		}
		used = 0
	}
	perChunk := max(1, chunkBytes/len(plain))
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if used == len(pool) {
			b.StopTimer()
			refill()
			b.StartTimer()
		}
		batch := pool[used]
		used++
		if _, err := l.Append(batch, AppendOptions{LeaderEpoch: -1}); err != nil {
			b.Fatal(err)
		}
		if (i+1)%perChunk == 0 {
			b.StopTimer()
			if _, err := l.DeleteRetained(time.Now()); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	}
}

// producerBatch is a copy of batch from producer pid at epoch, numbered from seq.
func producerBatch(batch []byte, pid int64, epoch int16, seq int32) []byte {
	b := append([]byte(nil), batch...)
	binary.BigEndian.PutUint64(b[offProducerID:], uint64(pid))
	binary.BigEndian.PutUint16(b[offProducerEpoch:], uint16(epoch))
	binary.BigEndian.PutUint32(b[offBaseSequence:], uint32(seq))
	binary.BigEndian.PutUint32(b[offCRC:], crc32c(b[offAttributes:]))
	return b
}
