package coordinator

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var errCorrupt = errors.New("test: corrupt")

// TestBatchRoundTrip writes two batches, one of them transactional, and reads back
// every record with its offset, the tombstone as a nil value.
func TestBatchRoundTrip(t *testing.T) {
	var body []byte
	body = AppendRecord(body, []byte("k0"), []byte("v0"), 0)
	body = AppendRecord(body, []byte("k1"), nil, 1)
	buf := AppendBatch(nil, body, 2, time.UnixMilli(5), Producer{})
	buf = AppendBatch(buf, AppendRecord(nil, []byte("k2"), []byte("v2"), 0), 1, time.UnixMilli(5), Producer{Transactional: true, ID: 7, Epoch: 1})

	type got struct {
		offset     int64
		key, value []byte
		attrs      int16
	}
	var all []got
	base := int64(0)
	next, err := DecodeBatches(buf, errCorrupt, func(b kmsg.RecordBatch) error {
		b.FirstOffset = base // the log assigns offsets; here, one after the other
		base += int64(b.NumRecords)
		return DecodeRecords(b, errCorrupt, func(offset int64, key, value []byte) error {
			all = append(all, got{offset, key, value, b.Attributes})
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if next != 1 { // both batches say offset 0 until appended
		t.Errorf("next = %d, want 1", next)
	}
	want := []got{{0, []byte("k0"), []byte("v0"), 0}, {1, []byte("k1"), nil, 0}, {2, []byte("k2"), []byte("v2"), AttrTransactional}}
	if len(all) != len(want) {
		t.Fatalf("got %d records, want %d", len(all), len(want))
	}
	for i, w := range want {
		g := all[i]
		if g.offset != w.offset || !bytes.Equal(g.key, w.key) || !bytes.Equal(g.value, w.value) || (g.value == nil) != (w.value == nil) || g.attrs != w.attrs {
			t.Errorf("record %d = %+v, want %+v", i, g, w)
		}
	}
	if _, err := DecodeBatches(buf[:len(buf)-1], errCorrupt, func(kmsg.RecordBatch) error { return nil }); !errors.Is(err, errCorrupt) {
		t.Errorf("truncated batch: err = %v, want one wrapping errCorrupt", err)
	}
}

// appendRecordTwoStep is AppendRecord as it was first written: the body built in a
// slice of its own, then its length and a copy of it appended to dst. AppendRecord
// must produce the same bytes.
func appendRecordTwoStep(dst []byte, key, value []byte, offsetDelta int32) []byte {
	var body []byte
	body = append(body, 0)
	body = kbin.AppendVarlong(body, 0)
	body = kbin.AppendVarint(body, offsetDelta)
	body = kbin.AppendVarintBytes(body, key)
	body = kbin.AppendVarintBytes(body, value)
	body = kbin.AppendVarint(body, 0)
	dst = kbin.AppendVarint(dst, int32(len(body)))
	return append(dst, body...)
}

// TestAppendRecordEncoding: AppendRecord's bytes are the two-step construction's, for
// nil and empty keys and values and sizes either side of the varint length steps (the
// record's own length too: 63/64 and 8191/8192 bytes), and decode as Kafka's Record.
func TestAppendRecordEncoding(t *testing.T) {
	var sizes []int
	for _, n := range []int{0, 1, 63, 64, 8191, 8192} {
		sizes = append(sizes, n, n+50) // +50: the body around a step, not the field
	}
	bytesOf := func(n int) []byte { return bytes.Repeat([]byte{'x'}, n) }
	keys := [][]byte{nil, {}, []byte("k")}
	values := [][]byte{nil}
	for _, n := range sizes {
		keys, values = append(keys, bytesOf(n)), append(values, bytesOf(n))
	}
	for _, prefix := range [][]byte{nil, []byte("earlier records")} {
		for _, delta := range []int32{0, 1, 63, 64, 1 << 20} {
			for _, key := range keys {
				for _, value := range values {
					name := fmt.Sprintf("prefix %d, delta %d, key %d (nil %t), value %d (nil %t)",
						len(prefix), delta, len(key), key == nil, len(value), value == nil)
					want := appendRecordTwoStep(bytes.Clone(prefix), key, value, delta)
					got := AppendRecord(bytes.Clone(prefix), key, value, delta)
					if !bytes.Equal(got, want) {
						t.Fatalf("%s: AppendRecord differs from the two-step construction", name)
					}
					var rec kmsg.Record
					if err := rec.ReadFrom(got[len(prefix):]); err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if rec.OffsetDelta != delta || !bytes.Equal(rec.Key, key) || !bytes.Equal(rec.Value, value) ||
						(rec.Value == nil) != (value == nil) || len(rec.Headers) != 0 {
						t.Fatalf("%s: decoded as %+v", name, rec)
					}
				}
			}
		}
	}
}

// BenchmarkAppendRecord encodes a transaction state record (a 30-byte key, a 120-byte
// value): into a reused buffer, as txn's batches are built, and into a nil one, as the
// group and share coordinators encode a record on its own.
func BenchmarkAppendRecord(b *testing.B) {
	key, value := bytes.Repeat([]byte{'k'}, 30), bytes.Repeat([]byte{'v'}, 120)
	size := int64(len(AppendRecord(nil, key, value, 7)))
	b.Run("reused", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(size)
		var dst []byte
		for b.Loop() {
			dst = AppendRecord(dst[:0], key, value, 7)
		}
	})
	b.Run("nil", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(size)
		for b.Loop() {
			sink = AppendRecord(nil, key, value, 7)
		}
	})
}

var sink []byte
