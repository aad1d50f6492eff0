package api

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/log"
	"github.com/nagare-dev/nagare/internal/readpath"
	"github.com/nagare-dev/nagare/internal/share"
)

// A cold share range cut at the deadline keeps its loaded whole batches and only the
// acquired records they hold.
func TestShareWarmDeadlineCutsAcquired(t *testing.T) {
	f, pool := gatedSegment(t)
	sf := shareWarmFetch(f)
	sf.d = &Dispatcher{cfg: Config{ReadPath: pool, Shares: share.New(share.Config{Store: &share.MemoryStore{}})}}
	sc := &shareCold{sf: sf, parts: []sharePos{{0, 0}}}
	rng := sf.resp.records[0][0]
	w := &warmFetch{cold: sc, n: 1, deadline: time.Now().Add(100 * time.Millisecond),
		job: pool.Warm(readpath.Tenant{ClientID: "test"}, []readpath.Range{{File: rng.File, Offset: rng.Position, Length: rng.Length}})}
	w.wait(context.Background())
	if got := sf.resp.records[0][0].Length; got != 4000 {
		t.Fatalf("range cut to %d bytes, want 4000", got)
	}
	acq := sf.resp.resp.Topics[0].Partitions[0].AcquiredRecords
	if len(acq) != 1 || acq[0].FirstOffset != 5 || acq[0].LastOffset != 39 {
		t.Fatalf("acquired records %+v, want [5, 39]", acq)
	}
}

// gatedSegment writes a segment of ten batches of 1000 bytes, ten offsets each, and
// makes a read-path pool of one worker whose loads, past the first chunk (4096 bytes:
// four whole batches), wait until the test ends. Both are closed when the test ends.
func gatedSegment(t *testing.T) (*os.File, *readpath.Pool) {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "seg"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	hdr := make([]byte, 1000)
	for i := range 10 {
		binary.BigEndian.PutUint64(hdr[0:], uint64(i*10))
		binary.BigEndian.PutUint32(hdr[8:], 1000-12)
		binary.BigEndian.PutUint32(hdr[23:], 9)
		if _, err := f.Write(hdr); err != nil {
			t.Fatal(err)
		}
	}
	var loads atomic.Int32
	gate := make(chan struct{})
	pool, err := readpath.NewPool(readpath.Config{
		Enabled: true, Workers: 1, ChunkBytes: warmTestChunk, Dir: t.TempDir(),
		Load: func(*os.File, int64, int64) error {
			if loads.Add(1) > 1 {
				<-gate
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close() })
	t.Cleanup(func() { close(gate) })
	return f, pool
}

// shareWarmFetch is a ShareFetch response holding all of f, offsets 5-99 acquired.
func shareWarmFetch(f *os.File) *shareFetch {
	resp := kmsg.NewPtrShareFetchResponse()
	tp := kmsg.NewShareFetchResponseTopicPartition()
	a := kmsg.NewShareFetchResponseTopicPartitionAcquiredRecord()
	a.FirstOffset, a.LastOffset, a.DeliveryCount = 5, 99, 1
	tp.AcquiredRecords = append(tp.AcquiredRecords, a)
	topic := kmsg.NewShareFetchResponseTopic()
	topic.Partitions = append(topic.Partitions, tp)
	resp.Topics = append(resp.Topics, topic)
	records := [][]log.FileRange{{{File: f, Position: 0, Length: 10000}}}
	return &shareFetch{req: kmsg.NewPtrShareFetchRequest(), resp: &shareFetchResponse{resp: resp, records: records}, group: "g", member: "m"}
}

func TestSplitAcquired(t *testing.T) {
	in := []kmsg.ShareFetchResponseTopicPartitionAcquiredRecord{{FirstOffset: 0, LastOffset: 3}, {FirstOffset: 4, LastOffset: 9, DeliveryCount: 2}, {FirstOffset: 12, LastOffset: 15}}
	kept, back := splitAcquired(in, 6)
	if len(kept) != 2 || kept[1].LastOffset != 6 || len(back) != 2 || back[0].FirstOffset != 7 || back[0].DeliveryCount != 2 || back[1].FirstOffset != 12 {
		t.Fatalf("kept %+v back %+v", kept, back)
	}
	if kept, back = splitAcquired(in, -1); len(kept) != 0 || len(back) != 3 {
		t.Fatalf("cut to nothing: kept %+v back %+v", kept, back)
	}
}

// Cold reads not yet acquired from, cut at the deadline, keep their loaded whole
// batches (the only headers acquiring will read); a read with nothing loaded is dropped.
func TestColdScanDeadlineCutsToLoaded(t *testing.T) {
	f, pool := gatedSegment(t) // only the first read's first chunk (four whole batches) loads
	whole := log.FileRange{File: f, Position: 0, Length: 10000}
	cold := (&coldScan{reads: []coldRead{{rng: whole}, {rng: whole}}}).pending(100)
	if cold == nil || cold.records != 100 {
		t.Fatalf("pending cold reads: %+v", cold)
	}
	load := []readpath.Range{{File: f, Offset: 0, Length: 10000}, {File: f, Offset: 0, Length: 10000}}
	w := &warmFetch{cold: cold, n: 2, deadline: time.Now().Add(100 * time.Millisecond), job: pool.Warm(readpath.Tenant{ClientID: "test"}, load)}
	w.wait(context.Background())
	if got := cold.reads[0].rng.Length; got != 4000 {
		t.Fatalf("first read cut to %d bytes, want 4000", got)
	}
	if got := cold.reads[1].rng; got.Length != 0 || got.File != nil {
		t.Fatalf("second read, nothing loaded, kept as %+v", got)
	}
	if (&coldScan{reads: []coldRead{{rng: whole}}}).pending(0) != nil {
		t.Fatal("cold reads pending with no records left to acquire")
	}
}

// A cold window (a read not yet done) is used whole or not at all: the read it stands
// for may end anywhere in it, so a part of it loaded at the deadline is dropped, and the
// wait then loads the first cold read whole (warmFetch's progress rule) instead.
func TestColdScanWindowAllOrNothing(t *testing.T) {
	f, pool := gatedSegment(t)
	win := log.FileRange{File: f, Position: 0, Length: 10000}
	c := &coldScan{reads: []coldRead{{rng: win, window: true}}}
	if got := c.loaded(0, 9999); got != 0 {
		t.Fatalf("window with 9999 of 10000 bytes loaded counts %d, want 0", got)
	}
	if got := c.loaded(0, 10000); got != 10000 {
		t.Fatalf("loaded window counts %d, want 10000", got)
	}
	c.cut(0, 10000)
	if got := c.reads[0].rng.Length; got != 10000 {
		t.Fatalf("cut of a loaded window left %d bytes, want it whole", got)
	}
	c.cut(0, 4000)
	if got := c.reads[0].rng; got.Length != 0 || got.File != nil {
		t.Fatalf("partly loaded window kept as %+v, want dropped", got)
	}

	// At the deadline with only a part loaded (the gated pool loads 4096 bytes), the
	// window is not cut to its whole batches as a range would be.
	cold := (&coldScan{reads: []coldRead{{rng: win, window: true}}}).pending(100)
	w := &warmFetch{cold: cold, n: 1, resident: true, deadline: time.Now().Add(100 * time.Millisecond),
		job: pool.Warm(readpath.Tenant{ClientID: "test"}, []readpath.Range{{File: f, Offset: 0, Length: 10000}})}
	w.wait(context.Background())
	if got := cold.reads[0].rng; got.Length != 0 || got.File != nil {
		t.Fatalf("window cut at the deadline to %+v, want dropped", got)
	}
}
