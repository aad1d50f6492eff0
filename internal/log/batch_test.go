package log

import (
	"encoding/binary"
	"errors"
	"testing"
)

func TestValidateBatch(t *testing.T) {
	good := testBatch(3, 10, 1000)
	cases := []struct {
		name   string
		mutate func([]byte) []byte
		max    int
		want   error
	}{
		{"valid", func(b []byte) []byte { return b }, 0, nil},
		{"crc", func(b []byte) []byte { b[len(b)-1] ^= 0xff; return b }, 0, ErrCorruptBatch},
		{"magic", func(b []byte) []byte { b[offMagic] = 1; return b }, 0, ErrInvalidRecord},
		{"count vs delta", func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[offLastOffsetDelta:], 5)
			return b
		}, 0, ErrCorruptBatch}, // the CRC covers lastOffsetDelta, so it fails first
		{"truncated", func(b []byte) []byte { return b[:len(b)-1] }, 0, ErrCorruptBatch},
		{"short header", func(b []byte) []byte { return b[:40] }, 0, ErrCorruptBatch},
		{"length too small", func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[offBatchLength:], 3)
			return b
		}, 0, ErrCorruptBatch},
		{"too large", func(b []byte) []byte { return b }, 50, ErrBatchTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.mutate(append([]byte(nil), good...))
			err := ValidateBatch(b, c.max)
			if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("ValidateBatch = %v, want %v", err, c.want)
			}
		})
	}
}

func TestValidateBatchesCountMismatch(t *testing.T) {
	b := testBatch(3, 10, 1000)
	binary.BigEndian.PutUint32(b[offRecordCount:], 2)
	fixCRC(b)
	if _, _, err := ValidateBatches(b, 0); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("got %v, want ErrInvalidRecord", err)
	}
	two := append(testBatch(2, 5, 1), testBatch(4, 5, 2)...)
	batches, records, err := ValidateBatches(two, 0)
	if err != nil || batches != 2 || records != 6 {
		t.Fatalf("ValidateBatches = %d, %d, %v; want 2, 6, nil", batches, records, err)
	}
	if _, _, err := ValidateBatches(append(two, 0, 0, 0), 0); !errors.Is(err, ErrCorruptBatch) {
		t.Fatalf("trailing garbage: got %v, want ErrCorruptBatch", err)
	}
	if _, _, err := ValidateBatches(nil, 0); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("empty: got %v, want ErrInvalidRecord", err)
	}
}

func fixCRC(b []byte) {
	binary.BigEndian.PutUint32(b[offCRC:], crc32c(b[offAttributes:]))
}

func FuzzValidateBatches(f *testing.F) {
	f.Add(testBatch(1, 0, 0))
	f.Add(testBatch(3, 20, 1000))
	f.Add(append(testBatch(2, 5, 1), testBatch(4, 5, 2)...))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 49})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		batches, records, err := ValidateBatches(b, 1<<20)
		if err != nil {
			return
		}
		// Whatever validates must also append and read back intact.
		if batches <= 0 || records <= 0 {
			t.Fatalf("valid input with %d batches, %d records", batches, records)
		}
		l := openTestLog(t, t.TempDir(), smallConfig(), true)
		defer l.Close()
		res, err := l.Append(append([]byte(nil), b...), AppendOptions{LeaderEpoch: -1})
		if err != nil {
			t.Fatalf("append of validated input: %v", err)
		}
		if got := res.LastOffset - res.BaseOffset + 1; got != int64(records) {
			t.Fatalf("assigned %d offsets for %d records", got, records)
		}
		l.SetHighWatermark(l.LogEndOffset())
		if n := len(readBatches(t, l, 0)); n != batches {
			t.Fatalf("read back %d batches, appended %d", n, batches)
		}
	})
}
