package coordinator

import (
	"bytes"
	"errors"
	"testing"
	"time"

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
