package log

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nagare-dev/nagare/internal/compress"
)

// kv is one record for a test batch: a nil key is a keyless record, a nil value a
// tombstone.
type kv struct{ key, value []byte }

func rec(key, value string) kv { return kv{[]byte(key), []byte(value)} }
func tomb(key string) kv       { return kv{key: []byte(key)} }

// batchOpts are the producer-side fields of a test batch.
type batchOpts struct {
	codec    compress.Codec
	ts       int64 // base timestamp; record i has ts+i
	pid      int64 // -1: no producer id
	sequence int32
}

// keyedBatch builds a valid v2 batch of recs (base offset 0: Append assigns it), with
// record headers on every other record so the decoder sees them.
func keyedBatch(t testing.TB, o batchOpts, recs ...kv) []byte {
	t.Helper()
	var body []byte
	for i, r := range recs {
		var b []byte
		b = append(b, 0)
		b = binary.AppendVarint(b, int64(i))
		b = binary.AppendVarint(b, int64(i))
		b = appendField(b, r.key)
		b = appendField(b, r.value)
		if i%2 == 1 {
			b = binary.AppendVarint(b, 1)
			b = appendField(b, []byte("h"))
			b = appendField(b, nil)
		} else {
			b = binary.AppendVarint(b, 0)
		}
		body = binary.AppendVarint(body, int64(len(b)))
		body = append(body, b...)
	}
	body, err := compress.AppendCompressed(nil, o.codec, body)
	if err != nil {
		t.Fatal(err)
	}
	n := len(recs)
	b := make([]byte, BatchHeaderSize, BatchHeaderSize+len(body))
	binary.BigEndian.PutUint32(b[offBatchLength:], uint32(BatchHeaderSize-logOverhead+len(body)))
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], 0xffffffff)
	b[offMagic] = 2
	binary.BigEndian.PutUint16(b[offAttributes:], uint16(o.codec))
	binary.BigEndian.PutUint32(b[offLastOffsetDelta:], uint32(n-1))
	binary.BigEndian.PutUint64(b[offBaseTimestamp:], uint64(o.ts))
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(o.ts+int64(n-1)))
	binary.BigEndian.PutUint64(b[offProducerID:], uint64(o.pid))
	epoch := uint16(0xffff)
	if o.pid >= 0 {
		epoch = 3
	}
	binary.BigEndian.PutUint16(b[offProducerEpoch:], epoch)
	binary.BigEndian.PutUint32(b[offBaseSequence:], uint32(o.sequence))
	binary.BigEndian.PutUint32(b[offRecordCount:], uint32(n))
	b = append(b, body...)
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
	return b
}

func appendField(b, field []byte) []byte {
	if field == nil {
		return binary.AppendVarint(b, -1)
	}
	return append(binary.AppendVarint(b, int64(len(field))), field...)
}

func compactedConfig() Config {
	c := smallConfig()
	c.Compacted = true
	c.RetentionBytes = -1
	c.MinCleanableDirtyRatio = 0
	c.DeleteRetention = time.Hour
	return c
}

// model is what a consumer that reads a compacted log from the start must end up with:
// each key's latest value, or no entry when its latest record is a tombstone.
type model map[string]string

func (m model) apply(recs ...kv) {
	for _, r := range recs {
		switch {
		case r.key == nil:
		case r.value == nil:
			delete(m, string(r.key))
		default:
			m[string(r.key)] = string(r.value)
		}
	}
}

// appendKV appends one batch, keeps the high watermark at the end and the model in step.
func appendKV(t testing.TB, l *Log, m model, o batchOpts, recs ...kv) AppendResult {
	t.Helper()
	res, err := l.Append(keyedBatch(t, o, recs...), AppendOptions{LeaderEpoch: -1})
	if err != nil {
		t.Fatal(err)
	}
	l.SetHighWatermark(l.LogEndOffset())
	if m != nil {
		m.apply(recs...)
	}
	return res
}

// readRecord is a record as a consumer sees it.
type readRecord struct {
	offset, timestamp int64
	key, value        string
	hasKey, hasValue  bool
}

// consume reads the whole log as a consumer would, from the log start to the high
// watermark, checking every batch (framing, CRC, magic, records decoding) and that
// offsets only increase, and returns the batch headers and the records.
func consume(t testing.TB, l *Log) ([]BatchHeader, []readRecord) {
	t.Helper()
	hs, recs, err := consumeErr(l)
	if err != nil {
		t.Fatal(err)
	}
	return hs, recs
}

func consumeErr(l *Log) ([]BatchHeader, []readRecord, error) {
	var headers []BatchHeader
	var recs []readRecord
	var scratch []byte
	next := l.LogStartOffset()
	for {
		buf, res, err := l.ReadBytes(next, ReadOptions{MaxBytes: 256 << 10, MinOneBatch: true})
		if err != nil {
			return headers, recs, fmt.Errorf("read at %d: %w", next, err)
		}
		if len(buf) == 0 {
			if next < res.HighWatermark {
				return headers, recs, fmt.Errorf("read at %d returned nothing below high watermark %d", next, res.HighWatermark)
			}
			return headers, recs, nil
		}
		for pos := 0; pos < len(buf); {
			size, err := batchSpan(buf[pos:])
			if err != nil {
				return headers, recs, err
			}
			batch := buf[pos : pos+size]
			pos += size
			if err := validateStoredBatch(batch); err != nil {
				return headers, recs, fmt.Errorf("batch in read at %d: %w", next, err)
			}
			h := ParseBatchHeader(batch)
			if len(headers) > 0 && h.BaseOffset <= headers[len(headers)-1].LastOffset() {
				return headers, recs, fmt.Errorf("batch at %d after one ending at %d", h.BaseOffset, headers[len(headers)-1].LastOffset())
			}
			headers = append(headers, h)
			records, buf2, err := recordsOf(batch, &h, scratch, maxDecompressedBatch)
			scratch = buf2
			if err != nil {
				return headers, recs, err
			}
			err = forEachRecord(&h, records, func(r *v2Record) error {
				if len(recs) > 0 && r.offset <= recs[len(recs)-1].offset {
					return fmt.Errorf("record offset %d after %d", r.offset, recs[len(recs)-1].offset)
				}
				_, value, _ := recordValue(r)
				recs = append(recs, readRecord{offset: r.offset, timestamp: r.timestamp, key: string(r.key), value: string(value),
					hasKey: r.hasKey, hasValue: r.hasValue})
				return nil
			})
			if err != nil {
				return headers, recs, err
			}
			next = h.LastOffset() + 1
		}
	}
}

// recordValue decodes the value of a record (the cleaner never needs it).
func recordValue(r *v2Record) ([]byte, []byte, bool) {
	d := varintReader{b: r.raw, pos: r.tsEnd}
	d.varint()
	key, _ := d.bytes()
	value, ok := d.bytes()
	return key, value, ok
}

// checkModel checks that replaying recs gives m, and returns the replayed state.
func checkModel(t testing.TB, recs []readRecord, m model) {
	t.Helper()
	got := model{}
	for _, r := range recs {
		switch {
		case !r.hasKey:
		case !r.hasValue:
			delete(got, r.key)
		default:
			got[r.key] = r.value
		}
	}
	if len(got) != len(m) {
		t.Fatalf("replay has %d keys, model %d", len(got), len(m))
	}
	for k, v := range m {
		if got[k] != v {
			t.Fatalf("key %q: replay %q, model %q", k, got[k], v)
		}
	}
}

// cleanLog runs one cleaning round now, as the Manager would, without the eligibility
// rule (tests pick when to clean).
func cleanLog(t testing.TB, l *Log, c *cleaner, now time.Time) cleanStats {
	t.Helper()
	stats, err := runClean(l, c, now)
	if err != nil {
		t.Fatalf("clean: %v", err)
	}
	return stats
}

func runClean(l *Log, c *cleaner, now time.Time) (cleanStats, error) {
	if c == nil {
		c = newCleaner(quietLogger(), nil, 1<<20)
	}
	l.cleaning.Store(true)
	defer l.cleaning.Store(false)
	return c.clean(context.Background(), l.cleanableSection(now), now)
}

func fileBytes(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fillUpdates appends rounds of updates to keys key-0..key-(keys-1), batch by batch,
// and returns the model.
func fillUpdates(t testing.TB, l *Log, keys, rounds, perBatch int, o batchOpts) model {
	m := model{}
	var recs []kv
	for r := 0; r < rounds; r++ {
		for k := 0; k < keys; k++ {
			recs = append(recs, rec(fmt.Sprintf("key-%d", k), fmt.Sprintf("value-%d-%d-%s", k, r, strings.Repeat("x", k%7))))
			if len(recs) == perBatch {
				appendKV(t, l, m, o, recs...)
				o.ts += int64(perBatch)
				recs = recs[:0]
			}
		}
	}
	if len(recs) > 0 {
		appendKV(t, l, m, o, recs...)
	}
	return m
}

func TestCleanerKeepsLatestValuePerKey(t *testing.T) {
	l := openTestLog(t, t.TempDir(), compactedConfig(), true)
	defer l.Close()
	m := fillUpdates(t, l, 40, 30, 7, batchOpts{ts: testNow.UnixMilli(), pid: -1})
	before, beforeRecs := consume(t, l)
	sizeBefore := l.Size()
	active := l.activeSegment()
	activeBytes := fileBytes(t, active.logPath)

	stats := cleanLog(t, l, nil, testNow)
	if stats.endOffset != active.baseOffset {
		t.Fatalf("cleaned to %d, want the active segment's base %d", stats.endOffset, active.baseOffset)
	}
	if l.activeSegment() != active || !slices.Equal(fileBytes(t, active.logPath), activeBytes) {
		t.Fatal("the active segment changed")
	}
	if l.Size() >= sizeBefore/2 {
		t.Fatalf("%d bytes after cleaning, %d before", l.Size(), sizeBefore)
	}
	headers, recs := consume(t, l)
	checkModel(t, recs, m)
	seen := map[string]bool{}
	for _, r := range recs {
		if r.offset < active.baseOffset {
			if seen[r.key] {
				t.Fatalf("key %q twice in the cleaned section", r.key)
			}
			seen[r.key] = true
		}
	}
	if len(recs) >= len(beforeRecs)/4 {
		t.Fatalf("%d records left of %d", len(recs), len(beforeRecs))
	}
	// Offsets are never renumbered: every surviving record has the offset it had.
	orig := map[int64]readRecord{}
	for _, r := range beforeRecs {
		orig[r.offset] = r
	}
	for _, r := range recs {
		if o, ok := orig[r.offset]; !ok || o != r {
			t.Fatalf("record at %d is %+v, was %+v", r.offset, r, o)
		}
	}
	// Batches keep their offset span; the last one of the cleaned section ends where it did.
	spans := map[int64]int64{}
	for _, h := range before {
		spans[h.BaseOffset] = h.LastOffset()
	}
	for _, h := range headers {
		if spans[h.BaseOffset] != h.LastOffset() {
			t.Fatalf("batch at %d now ends at %d, was %d", h.BaseOffset, h.LastOffset(), spans[h.BaseOffset])
		}
	}
	// A read from any offset, through the cleaned segments' indexes, starts at the
	// first batch ending at or after it.
	for off := int64(0); off < l.LogEndOffset(); off += 3 {
		buf, _, err := l.ReadBytes(off, ReadOptions{MaxBytes: 1, MinOneBatch: true})
		if err != nil || len(buf) == 0 {
			t.Fatalf("read at %d: %d bytes, %v", off, len(buf), err)
		}
		want := headers[slices.IndexFunc(headers, func(h BatchHeader) bool { return h.LastOffset() >= off })]
		if got := ParseBatchHeader(buf); got.BaseOffset != want.BaseOffset {
			t.Fatalf("read at %d starts at batch %d, want %d", off, got.BaseOffset, want.BaseOffset)
		}
	}
	// Cleaning again without new data changes nothing and the checkpoint holds.
	if l.cleanerCheckpoint.Load() != active.baseOffset {
		t.Fatalf("checkpoint %d", l.cleanerCheckpoint.Load())
	}
	if sec := l.cleanableSection(testNow); sec.dirtyBytes != 0 || sec.eligible(l.config.Load()) {
		t.Fatalf("clean log still dirty: %+v", sec)
	}
	// The next round merges the now small segments (Kafka groups by segment.bytes).
	segs := l.NumSegments()
	appendKV(t, l, m, batchOpts{ts: testNow.UnixMilli(), pid: -1}, rec("key-1", "after"))
	l.Roll()
	cleanLog(t, l, nil, testNow)
	if l.NumSegments() >= segs {
		t.Fatalf("%d segments after the second round, %d before", l.NumSegments(), segs)
	}
	// And the log takes appends and recovers after a crash with its gaps intact.
	appendKV(t, l, m, batchOpts{ts: testNow.UnixMilli(), pid: -1}, rec("key-2", "after"))
	l2 := openTestLog(t, crashCopy(t, l.dir), compactedConfig(), false)
	defer l2.Close()
	l2.SetHighWatermark(l2.LogEndOffset())
	_, recs2 := consume(t, l2)
	checkModel(t, recs2, m)
}

func TestCleanerTombstonesLiveForDeleteRetention(t *testing.T) {
	l := openTestLog(t, t.TempDir(), compactedConfig(), true)
	defer l.Close()
	m := model{}
	ts := testNow.UnixMilli()
	o := batchOpts{ts: ts, pid: -1}
	for i := 0; i < 10; i++ {
		appendKV(t, l, m, o, rec(fmt.Sprintf("k%d", i), "v1"), rec(fmt.Sprintf("k%d", i), "v2"))
	}
	for i := 0; i < 5; i++ {
		appendKV(t, l, m, o, tomb(fmt.Sprintf("k%d", i)))
	}
	appendKV(t, l, m, o, rec("filler", strings.Repeat("f", 100)))
	if err := l.Roll(); err != nil {
		t.Fatal(err)
	}
	tombstones := func() (n int, horizon bool) {
		headers, recs := consume(t, l)
		for _, r := range recs {
			if !r.hasValue {
				n++
			}
		}
		for _, h := range headers {
			horizon = horizon || h.Attributes&attrDeleteHorizon != 0
		}
		checkModel(t, recs, m)
		return n, horizon
	}
	dirty := func() { // new data so the cleaner has a dirty section
		appendKV(t, l, m, o, rec("filler", strings.Repeat("g", 100)))
		if err := l.Roll(); err != nil {
			t.Fatal(err)
		}
	}

	cleanLog(t, l, nil, testNow)
	n, horizon := tombstones()
	if n != 5 || !horizon {
		t.Fatalf("after the first clean: %d tombstones, horizon set %v; want 5, true", n, horizon)
	}
	_, recs := consume(t, l)
	for _, r := range recs {
		if strings.HasPrefix(r.key, "k") && r.hasValue && r.value == "v1" {
			t.Fatalf("superseded %q:%q kept", r.key, r.value)
		}
		if r.timestamp < ts || r.timestamp > ts+1 {
			t.Fatalf("record at %d has timestamp %d; the horizon must not change record timestamps", r.offset, r.timestamp)
		}
	}
	dirty()
	cleanLog(t, l, nil, testNow.Add(59*time.Minute))
	if n, _ := tombstones(); n != 5 {
		t.Fatalf("before delete.retention.ms: %d tombstones, want 5", n)
	}
	dirty()
	cleanLog(t, l, nil, testNow.Add(time.Hour))
	if n, _ := tombstones(); n != 0 {
		t.Fatalf("after delete.retention.ms: %d tombstones, want 0", n)
	}
}

func TestCleanerCompressedBatches(t *testing.T) {
	for _, codec := range []compress.Codec{compress.None, compress.Gzip, compress.Snappy, compress.LZ4, compress.Zstd} {
		t.Run(codec.String(), func(t *testing.T) {
			l := openTestLog(t, t.TempDir(), compactedConfig(), true)
			defer l.Close()
			m := fillUpdates(t, l, 25, 40, 9, batchOpts{codec: codec, ts: testNow.UnixMilli(), pid: -1})
			for i := 0; i < 5; i++ {
				appendKV(t, l, m, batchOpts{codec: codec, ts: testNow.UnixMilli(), pid: -1}, tomb(fmt.Sprintf("key-%d", i)), rec("other", "x"))
			}
			if err := l.Roll(); err != nil {
				t.Fatal(err)
			}
			_, before := consume(t, l)
			cleanLog(t, l, nil, testNow)
			headers, recs := consume(t, l) // checks every CRC and decodes every batch
			checkModel(t, recs, m)
			if len(recs) > 40 {
				t.Fatalf("%d records left of %d", len(recs), len(before))
			}
			for _, h := range headers {
				if h.RecordCount > 0 && h.Compression() != int8(codec) {
					t.Fatalf("batch at %d has codec %d, want %d", h.BaseOffset, h.Compression(), codec)
				}
			}
		})
	}
}

func TestCleanerDropsKeylessRecords(t *testing.T) {
	l := openTestLog(t, t.TempDir(), compactedConfig(), true)
	defer l.Close()
	m := model{}
	o := batchOpts{ts: testNow.UnixMilli(), pid: -1}
	appendKV(t, l, m, o, rec("a", "1"), kv{value: []byte("no key")}, rec("b", "1"))
	appendKV(t, l, m, o, kv{value: []byte("no key either")})
	appendKV(t, l, m, o, rec("c", "1"))
	l.Roll()
	cleanLog(t, l, nil, testNow)
	headers, recs := consume(t, l)
	for _, r := range recs {
		if !r.hasKey {
			t.Fatalf("keyless record at %d kept", r.offset)
		}
	}
	checkModel(t, recs, m)
	if len(headers) != 2 || headers[0].LastOffset() != 2 || headers[0].RecordCount != 2 {
		t.Fatalf("batches %+v", headers)
	}
}

// TestCleanerKeepsProducersLastBatch: a batch whose records are all superseded goes,
// unless it is its producer's last: then an empty batch keeps its offsets and sequence.
func TestCleanerKeepsProducersLastBatch(t *testing.T) {
	l := openTestLog(t, t.TempDir(), compactedConfig(), true)
	defer l.Close()
	m := model{}
	ts := testNow.UnixMilli()
	first := appendKV(t, l, m, batchOpts{ts: ts, pid: 7, sequence: 0}, rec("a", "1"), rec("b", "1"))
	last := appendKV(t, l, m, batchOpts{ts: ts, pid: 7, sequence: 2}, rec("a", "2"), rec("b", "2"), rec("c", "2"))
	appendKV(t, l, m, batchOpts{ts: ts + 5, pid: -1}, rec("a", "3"), rec("b", "3"), rec("c", "3"))
	appendKV(t, l, m, batchOpts{ts: ts + 5, pid: -1}, rec("d", "3"))
	l.Roll()
	cleanLog(t, l, nil, testNow)
	headers, recs := consume(t, l)
	checkModel(t, recs, m)
	if headers[0].BaseOffset == first.BaseOffset {
		t.Fatal("the producer's superseded earlier batch was kept")
	}
	h := headers[0]
	if h.BaseOffset != last.BaseOffset || h.LastOffset() != last.LastOffset || h.RecordCount != 0 ||
		h.ProducerID != 7 || h.ProducerEpoch != 3 || h.BaseSequence != 2 || h.MaxTimestamp != ts+2 {
		t.Fatalf("empty batch for the producer's last: %+v", h)
	}
}

func TestCleanerDirtyRatioThreshold(t *testing.T) {
	dir := t.TempDir()
	m, err := OpenManager(ManagerConfig{Dir: dir, Defaults: smallConfig(), Logger: quietLogger(), CleanerDedupeBufferSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	cfg := compactedConfig()
	cfg.MinCleanableDirtyRatio = 0.5
	l, _ := m.GetOrCreate(TopicPartition{"compacted", 0}, cfg)
	plain, _ := m.GetOrCreate(TopicPartition{"plain", 0}, smallConfig())
	model := fillUpdates(t, l, 10, 60, 10, batchOpts{ts: testNow.UnixMilli(), pid: -1})
	fillUpdates(t, plain, 10, 60, 10, batchOpts{ts: testNow.UnixMilli(), pid: -1})
	l.Roll()
	plain.Roll()
	plainSize := plain.Size()
	if n := m.RunCleaner(testNow); n != 1 {
		t.Fatalf("first run cleaned %d logs, want the compacted one", n)
	}
	if plain.Size() != plainSize {
		t.Fatal("the non-compacted log was touched")
	}
	// A little new data: dirty ratio well below 0.5.
	appendKV(t, l, model, batchOpts{ts: testNow.UnixMilli(), pid: -1}, rec("key-1", "new"))
	l.Roll()
	sec := l.cleanableSection(testNow)
	if r := sec.ratio(); r <= 0 || r >= 0.5 || sec.eligible(l.config.Load()) {
		t.Fatalf("ratio %v eligible %v", r, sec.eligible(l.config.Load()))
	}
	if n := m.RunCleaner(testNow); n != 0 {
		t.Fatalf("cleaned %d logs below the threshold", n)
	}
	cfg.MinCleanableDirtyRatio = sec.ratio() // Kafka's rule is strictly above
	l.SetConfig(cfg)
	if n := m.RunCleaner(testNow); n != 0 {
		t.Fatalf("cleaned at a ratio equal to the threshold")
	}
	cfg.MinCleanableDirtyRatio = sec.ratio() - 0.01
	l.SetConfig(cfg)
	if n := m.RunCleaner(testNow); n != 1 {
		t.Fatalf("cleaned %d logs above the threshold", n)
	}
	_, recs := consume(t, l)
	checkModel(t, recs, model)
	cp, err := readCheckpoint(filepath.Join(dir, cleanerCheckpointFile))
	if err != nil || cp[TopicPartition{"compacted", 0}] != l.activeSegment().baseOffset {
		t.Fatalf("cleaner checkpoint %v, %v", cp, err)
	}
	if _, ok := cp[TopicPartition{"plain", 0}]; ok {
		t.Fatal("checkpoint entry for a log never cleaned")
	}
}

func TestCleanerCompactionLag(t *testing.T) {
	cfg := compactedConfig()
	cfg.MinCompactionLag = time.Hour
	l := openTestLog(t, t.TempDir(), cfg, true)
	defer l.Close()
	ts := testNow.UnixMilli()
	m := fillUpdates(t, l, 10, 40, 10, batchOpts{ts: ts, pid: -1})
	l.Roll()
	if sec := l.cleanableSection(testNow.Add(30 * time.Minute)); sec.dirtyBytes != 0 {
		t.Fatalf("records younger than min.compaction.lag.ms are cleanable: %+v", sec)
	}
	if sec := l.cleanableSection(testNow.Add(2 * time.Hour)); sec.dirtyBytes == 0 {
		t.Fatal("records older than min.compaction.lag.ms are not cleanable")
	}

	// max.compaction.lag.ms forces a clean whatever the ratio.
	cfg.MinCompactionLag = 0
	cfg.MinCleanableDirtyRatio = 0.99
	cfg.MaxCompactionLag = time.Hour
	l.SetConfig(cfg)
	cleanLog(t, l, nil, testNow) // the whole log becomes clean
	appendKV(t, l, m, batchOpts{ts: ts, pid: -1}, rec("key-1", "new"))
	l.Roll()
	if sec := l.cleanableSection(testNow.Add(30 * time.Minute)); sec.eligible(&cfg) {
		t.Fatal("eligible before max.compaction.lag.ms with a high ratio threshold")
	}
	sec := l.cleanableSection(testNow.Add(2 * time.Hour))
	if sec.ratio() > 0.5 || !sec.mustClean || !sec.eligible(&cfg) {
		t.Fatalf("old dirty data not forced: ratio %v must %v", sec.ratio(), sec.mustClean)
	}
	// The active segment rolls by max.compaction.lag.ms too (Kafka's maxSegmentMs).
	appendKV(t, l, m, batchOpts{ts: ts, pid: -1}, rec("key-2", "new"))
	if !l.segmentExpired(&cfg, l.activeSegment(), testNow.Add(2*time.Hour)) {
		t.Fatal("active segment of a compacted log does not roll by max.compaction.lag.ms")
	}
}

// TestCleanerSmallDedupeBuffer: with a map too small for the dirty keys, each round
// cleans a prefix and moves the checkpoint, and rounds converge.
func TestCleanerSmallDedupeBuffer(t *testing.T) {
	l := openTestLog(t, t.TempDir(), compactedConfig(), true)
	defer l.Close()
	m := fillUpdates(t, l, 300, 4, 20, batchOpts{ts: testNow.UnixMilli(), pid: -1})
	l.Roll()
	c := newCleaner(quietLogger(), nil, 64*offsetMapEntrySize) // 48 keys
	rounds := 0
	for l.cleanableSection(testNow).dirtyBytes > 0 {
		before := l.cleanableSection(testNow).firstDirty
		stats := cleanLog(t, l, c, testNow)
		if stats.mapEntries > 48 {
			t.Fatalf("map holds %d keys", stats.mapEntries)
		}
		if after := l.cleanerCheckpoint.Load(); after <= before {
			t.Fatalf("round %d made no progress: checkpoint %d -> %d", rounds, before, after)
		}
		_, recs := consume(t, l)
		checkModel(t, recs, m)
		if rounds++; rounds > 100 {
			t.Fatal("no convergence")
		}
	}
	if rounds < 5 {
		t.Fatalf("%d rounds: the map was not the limit", rounds)
	}
	cleanLog(t, l, newCleaner(quietLogger(), nil, 1<<20), testNow) // nothing dirty: no-op
	l.cleanerCheckpoint.Store(0)                                   // whole log dirty again, big map
	cleanLog(t, l, newCleaner(quietLogger(), nil, 1<<20), testNow)
	_, recs := consume(t, l)
	checkModel(t, recs, m)
	if len(recs) != 300 {
		t.Fatalf("%d records for 300 keys", len(recs))
	}
}

func TestCleanerConcurrentAppendsAndReads(t *testing.T) {
	cfg := compactedConfig()
	cfg.SegmentBytes = 4 << 10
	l := openTestLog(t, t.TempDir(), cfg, true)
	defer l.Close()
	var mu sync.Mutex
	m := model{}
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	wg.Add(2)
	go func() { // appender
		defer wg.Done()
		rng := rand.New(rand.NewPCG(1, 1))
		for i := 0; i < 1500 && !stop.Load(); i++ {
			var recs []kv
			for j := 0; j < 1+rng.IntN(5); j++ {
				recs = append(recs, rec(fmt.Sprintf("k%d", rng.IntN(60)), fmt.Sprintf("v%d-%d", i, j)))
			}
			codec := compress.Codec(rng.IntN(5))
			mu.Lock()
			_, err := l.Append(keyedBatch(t, batchOpts{codec: codec, ts: testNow.UnixMilli(), pid: -1}, recs...), AppendOptions{LeaderEpoch: -1})
			m.apply(recs...)
			mu.Unlock()
			if err != nil {
				errs <- err
				return
			}
			l.SetHighWatermark(l.LogEndOffset())
		}
	}()
	go func() { // reader: whole scans and point reads
		defer wg.Done()
		rng := rand.New(rand.NewPCG(2, 2))
		for !stop.Load() {
			if _, _, err := consumeErr(l); err != nil {
				errs <- fmt.Errorf("scan: %w", err)
				return
			}
			off := rng.Int64N(l.HighWatermark() + 1)
			if _, _, err := l.ReadBytes(off, ReadOptions{MaxBytes: 4096, MinOneBatch: true}); err != nil {
				errs <- fmt.Errorf("read at %d: %w", off, err)
				return
			}
		}
	}()
	c := newCleaner(quietLogger(), nil, 1<<20)
	for i := 0; i < 30; i++ {
		if _, err := runClean(l, c, testNow); err != nil && !errors.Is(err, errCleaningAborted) {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	l.Roll()
	cleanLog(t, l, c, testNow)
	_, recs := consume(t, l)
	checkModel(t, recs, m)
	if len(recs) != len(m) {
		t.Fatalf("%d records for %d keys after a full clean", len(recs), len(m))
	}
}

// TestCleanerTruncateAbortsSwap: a Truncate while a group is being cleaned means the
// cleaned data is stale; it must not be swapped in.
func TestCleanerTruncateAbortsSwap(t *testing.T) {
	l := openTestLog(t, t.TempDir(), compactedConfig(), true)
	defer l.Close()
	fillUpdates(t, l, 20, 20, 5, batchOpts{ts: testNow.UnixMilli(), pid: -1})
	l.Roll()
	c := newCleaner(quietLogger(), nil, 1<<20)
	c.fault = func(step string) bool {
		if step == "cleaned" {
			if err := l.Truncate(37); err != nil {
				t.Error(err)
			}
		}
		return false
	}
	if _, err := runClean(l, c, testNow); !errors.Is(err, errCleaningAborted) {
		t.Fatalf("clean after a truncate: %v, want aborted", err)
	}
	if l.LogEndOffset() != 35 { // batches of 5: the one holding 37 goes whole
		t.Fatalf("log end offset %d", l.LogEndOffset())
	}
	left, _ := filepath.Glob(filepath.Join(l.dir, "*"+cleanedSuffix))
	if len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
	_, recs := consume(t, l)
	if len(recs) != 35 {
		t.Fatalf("%d records after truncating to 35", len(recs))
	}
}

func TestOffsetMap(t *testing.T) {
	m := newOffsetMap(100 * offsetMapEntrySize)
	if m.limit != 75 {
		t.Fatalf("limit %d", m.limit)
	}
	for i := 0; i < 75; i++ {
		if !m.put([]byte(fmt.Sprint("key", i)), int64(i)) {
			t.Fatalf("put %d refused", i)
		}
	}
	if m.put([]byte("one more"), 100) {
		t.Fatal("put past the limit accepted")
	}
	if !m.put([]byte("key3"), 101) || m.get([]byte("key3")) != 101 || m.latest != 101 {
		t.Fatal("update of a present key when full")
	}
	if m.get([]byte("key70")) != 70 || m.get([]byte("absent")) != -1 || m.get(nil) != -1 {
		t.Fatal("get")
	}
	m.clear()
	if m.get([]byte("key3")) != -1 || m.size != 0 || m.latest != -1 {
		t.Fatal("clear")
	}
	if !m.put(nil, 5) || m.get([]byte{}) != 5 {
		t.Fatal("an empty key is a key")
	}
}

func TestThrottle(t *testing.T) {
	th := newThrottle(1 << 20) // 1 MiB/s
	start := time.Now()
	for i := 0; i < 4; i++ {
		if err := th.wait(context.Background(), 64<<10); err != nil {
			t.Fatal(err)
		}
	}
	if took := time.Since(start); took < 150*time.Millisecond {
		t.Fatalf("256 KiB at 1 MiB/s took %v", took)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := th.wait(ctx, 10<<20); err == nil {
		t.Fatal("a cancelled wait returned nil")
	}
	if err := (*throttle)(nil).wait(context.Background(), 1<<30); err != nil {
		t.Fatal(err)
	}
}

// FuzzCleanerFilterBatch feeds arbitrary batches to the cleaner's record decoder and
// filter: no panic, and whatever it writes is a valid stored batch.
func FuzzCleanerFilterBatch(f *testing.F) {
	f.Add(keyedBatch(f, batchOpts{pid: -1}, rec("a", "1"), tomb("b"), kv{value: []byte("x")}), int64(0))
	f.Add(keyedBatch(f, batchOpts{codec: compress.LZ4, pid: 3}, rec("a", "1"), rec("a", "2")), int64(1))
	f.Add(keyedBatch(f, batchOpts{codec: compress.Zstd, pid: -1}, tomb("a")), int64(-1))
	f.Fuzz(func(t *testing.T, batch []byte, latest int64) {
		if len(batch) < BatchHeaderSize {
			return
		}
		// Valid framing, magic and CRC, as the cleaner's reader checks before filtering.
		binary.BigEndian.PutUint32(batch[offBatchLength:], uint32(len(batch)-logOverhead))
		batch[offMagic] = 2
		binary.BigEndian.PutUint32(batch[offCRC:], crc32c(batch[offAttributes:]))
		if validateStoredBatch(batch) != nil {
			return
		}
		c := newCleaner(quietLogger(), nil, 1<<10)
		c.offsets = newOffsetMap(1 << 10)
		c.maxRecordsBytes = 1 << 20
		c.offsets.put([]byte("a"), 1)
		c.offsets.latest = latest
		cfg := compactedConfig()
		st := &roundState{cfg: &cfg, now: 5, producers: map[int64]lastRecord{3: {dataOffset: 1, epoch: 3}},
			txns: newCleanedTxns([]AbortedTxn{{ProducerID: 3, FirstOffset: 0, LastOffset: 9}}, nil), stats: &cleanStats{}}
		out, err := c.filterBatch(nil, batch, st)
		if err != nil {
			return
		}
		for pos := 0; pos < len(out); {
			size, err := batchSpan(out[pos:])
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out[pos:pos+size], batch) {
				if err := validateStoredBatch(out[pos : pos+size]); err != nil {
					t.Fatalf("cleaned batch invalid: %v", err)
				}
			}
			pos += size
		}
	})
}
