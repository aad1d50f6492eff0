package log

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"testing"
	"time"
)

// testBatch builds a valid uncompressed v2 batch of n records with valueSize-byte values
// and timestamps ts, ts+1, ... (base offset 0: Append assigns it).
func testBatch(n, valueSize int, ts int64) []byte {
	var body []byte
	value := make([]byte, valueSize)
	for i := range value {
		value[i] = byte('a' + i%26)
	}
	var rec []byte
	for i := 0; i < n; i++ {
		rec = rec[:0]
		rec = append(rec, 0)                     // attributes
		rec = binary.AppendVarint(rec, int64(i)) // timestamp delta
		rec = binary.AppendVarint(rec, int64(i)) // offset delta
		rec = binary.AppendVarint(rec, -1)       // null key
		rec = binary.AppendVarint(rec, int64(len(value)))
		rec = append(rec, value...)
		rec = binary.AppendVarint(rec, 0) // no headers
		body = binary.AppendVarint(body, int64(len(rec)))
		body = append(body, rec...)
	}
	b := make([]byte, BatchHeaderSize, BatchHeaderSize+len(body))
	binary.BigEndian.PutUint32(b[offBatchLength:], uint32(BatchHeaderSize-logOverhead+len(body)))
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], 0xffffffff)
	b[offMagic] = 2
	binary.BigEndian.PutUint32(b[offLastOffsetDelta:], uint32(n-1))
	binary.BigEndian.PutUint64(b[offBaseTimestamp:], uint64(ts))
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(ts+int64(n-1)))
	binary.BigEndian.PutUint64(b[offProducerID:], ^uint64(0))
	binary.BigEndian.PutUint16(b[offProducerEpoch:], 0xffff)
	binary.BigEndian.PutUint32(b[offBaseSequence:], 0xffffffff)
	binary.BigEndian.PutUint32(b[offRecordCount:], uint32(n))
	b = append(b, body...)
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
	return b
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// smallConfig makes segments and index intervals small so tests exercise rolls and
// index lookups with little data.
func smallConfig() Config {
	c := DefaultConfig()
	c.SegmentBytes = 8 << 10
	c.IndexIntervalBytes = 256
	c.SegmentIndexBytes = 4 << 10
	c.SegmentAge = 0
	c.RetentionTime = -1
	return c
}

func openTestLog(t testing.TB, dir string, cfg Config, clean bool) *Log {
	t.Helper()
	l, err := Open(OpenOptions{Dir: dir, Topic: "t", Partition: 0, Config: cfg, Logger: quietLogger(), Clean: clean})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return l
}

// appendN appends count batches of recordsPer records and returns their base offsets.
func appendN(t testing.TB, l *Log, count, recordsPer, valueSize int, ts int64) []int64 {
	t.Helper()
	var bases []int64
	for i := 0; i < count; i++ {
		res, err := l.Append(testBatch(recordsPer, valueSize, ts+int64(i)*10), AppendOptions{LeaderEpoch: -1})
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		bases = append(bases, res.BaseOffset)
	}
	l.SetHighWatermark(l.LogEndOffset())
	return bases
}

// readBatches reads everything from offset to the high watermark, following ranges
// across segments, and returns the batch headers it saw, checking each CRC and that
// offsets continue without gaps.
func readBatches(t testing.TB, l *Log, offset int64) []BatchHeader {
	t.Helper()
	out, err := scanLog(l, offset)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func scanLog(l *Log, offset int64) ([]BatchHeader, error) {
	var out []BatchHeader
	for {
		buf, res, err := l.ReadBytes(offset, ReadOptions{MaxBytes: 64 << 10, MinOneBatch: true})
		if err != nil {
			return out, fmt.Errorf("read at %d: %w", offset, err)
		}
		if len(buf) == 0 {
			if offset < res.HighWatermark {
				return out, fmt.Errorf("read at %d returned nothing below high watermark %d", offset, res.HighWatermark)
			}
			return out, nil
		}
		for pos := 0; pos < len(buf); {
			size, err := batchSpan(buf[pos:])
			if err != nil {
				return out, fmt.Errorf("read at %d: %w", offset, err)
			}
			if err := ValidateBatch(buf[pos:pos+size], 0); err != nil {
				return out, fmt.Errorf("read at %d: batch at %d: %w", offset, pos, err)
			}
			h := ParseBatchHeader(buf[pos:])
			if len(out) > 0 && h.BaseOffset != out[len(out)-1].LastOffset()+1 {
				return out, fmt.Errorf("gap: batch at %d follows %d", h.BaseOffset, out[len(out)-1].LastOffset())
			}
			out = append(out, h)
			offset = h.LastOffset() + 1
			pos += size
		}
	}
}

var testNow = time.UnixMilli(1_700_000_000_000)
