package api

// The read path's half of Fetch and ShareFetch. Before a response's file ranges reach
// the connection writer (whose sendfile would block on the disk for a cold range,
// stalling every reply behind it: the seed's incident), each is checked for page cache
// residency; cold ones go to the warm-up pool (internal/readpath), and the reply
// completes when they are loaded. The wait is the fetch's own, like a long poll's: the
// connection keeps reading, other connections never notice, and no lock is held, so
// appends go on.
//
// Deadline: a fetch waits for warm-up no longer than its max_wait_ms (from when it
// arrived). Then it answers with what is ready: warm partitions whole, cold ones cut to
// the whole batches already loaded, the rest empty (the client asks again from there).
// If nothing at all is ready, it waits for its first cold range only, so a consumer with
// a max_wait_ms shorter than a disk read still makes progress instead of spinning.
// Fetch and ShareFetch differ only in how a range is cut (coldRanges): a fetch re-reads
// the log, a share fetch also gives back the records it acquired past the cut.

import (
	"context"
	"math"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/log"
	"github.com/nagare-dev/nagare/internal/readpath"
)

// coldRanges are the cold ranges of one response, in warm-up job order.
type coldRanges interface {
	// length is cold range k's length as it stands.
	length(k int) int64
	// loaded is the length of cold range k's whole batches within its first ready bytes.
	loaded(k int, ready int64) int64
	// cut shortens cold range k to its whole batches within its first ready bytes.
	cut(k int, ready int64)
}

// warmFetch is a response waiting for its cold ranges to load.
type warmFetch struct {
	cold     coldRanges
	n        int  // how many cold ranges
	resident bool // a resident range carries records: enough to answer at the deadline
	job      *readpath.Job
	deadline time.Time
}

// warmUp checks ranges for residency and queues the cold ones on the warm-up pool. It
// returns a nil job when nothing is cold or warm-up is off; else cold indexes ranges,
// in job order, and resident says whether a resident range carries records.
func (d *Dispatcher) warmUp(r *request, ranges []log.FileRange, known *fetchWindows) (job *readpath.Job, cold []int, resident bool) {
	pool := d.cfg.ReadPath
	if pool == nil || !pool.Enabled() {
		return nil, nil, false
	}
	var load []readpath.Range
	for i, rec := range ranges {
		if rec.Length == 0 {
			continue
		}
		rng := readpath.Range{File: rec.File, Offset: rec.Position, Length: rec.Length}
		if known.covers(i, rec) || pool.Resident(rng) {
			resident = true
			continue
		}
		cold, load = append(cold, i), append(load, rng)
	}
	if len(cold) == 0 {
		return nil, nil, resident
	}
	return pool.Warm(fetchTenant(r), load), cold, resident
}

// coldPartition is a partition of a fetch response whose range is not in the page cache.
type coldPartition struct {
	topic, partition int   // indexes into fetchResponse.topics and its partitions
	fetchOffset      int64 // where the range starts, to re-read a prefix of it
}

// fetchCold is a Fetch response's cold ranges.
type fetchCold struct {
	resp  *fetchResponse
	parts []coldPartition // in job order
	// read re-reads cold partition c from its fetch offset within maxBytes: whole
	// batches, a prefix of the range first read; an empty range if that cannot be done.
	read func(c coldPartition, maxBytes int64) log.FileRange
}

func (f *fetchCold) rec(k int) *log.FileRange {
	c := f.parts[k]
	return &f.resp.topics[c.topic].partitions[c.partition].records
}

func (f *fetchCold) length(k int) int64 { return f.rec(k).Length }

// prefix is the whole batches of cold range k within ready bytes; the caller releases
// it. It is empty when nothing is loaded, or when the re-read is not a prefix of the range.
func (f *fetchCold) prefix(k int, ready int64) log.FileRange {
	if ready <= 0 {
		return log.FileRange{}
	}
	rec := f.rec(k)
	cut := f.read(f.parts[k], ready)
	if cut.File != rec.File || cut.Position != rec.Position || cut.Length > ready {
		cut.Release()
		return log.FileRange{}
	}
	return cut
}

func (f *fetchCold) loaded(k int, ready int64) int64 {
	cut := f.prefix(k, ready)
	defer cut.Release()
	return cut.Length
}

func (f *fetchCold) cut(k int, ready int64) {
	cut := f.prefix(k, ready)
	rec := f.rec(k)
	rec.Release()
	*rec = cut
}

// sendWhenWarm completes a fetch once its ranges are resident: at once when they are (or
// warm-up is off), else after warm-up or at the deadline. A range inside its partition's
// window, known loaded, is not checked again. With inline false the wait runs on its own
// goroutine, so the caller (the connection's reader) never waits.
func (d *Dispatcher) sendWhenWarm(ctx context.Context, r *request, req *kmsg.FetchRequest, resp *fetchResponse, windows *fetchWindows, deadline time.Time, inline bool) {
	var ranges []log.FileRange
	var where []coldPartition
	for i := range resp.topics {
		for j := range resp.topics[i].partitions {
			ranges = append(ranges, resp.topics[i].partitions[j].records)
			where = append(where, coldPartition{topic: i, partition: j, fetchOffset: req.Topics[i].Partitions[j].FetchOffset})
		}
	}
	job, cold, resident := d.warmUp(r, ranges, windows)
	if job == nil {
		d.sendFetch(r, resp)
		return
	}
	fc := &fetchCold{resp: resp, read: func(c coldPartition, maxBytes int64) log.FileRange { return d.readPrefix(resp, c, maxBytes) }}
	for _, i := range cold {
		fc.parts = append(fc.parts, where[i])
	}
	w := &warmFetch{cold: fc, n: len(cold), resident: resident, job: job, deadline: deadline}
	if inline {
		w.wait(ctx)
		d.sendFetch(r, resp)
		return
	}
	d.spawn(r, func() {
		w.wait(ctx)
		d.sendFetch(r, resp)
	})
}

// readPrefix re-reads a cold partition's log within maxBytes. The read starts at the same
// batch, so it is a prefix of the first read's range; anything else (the segment was
// deleted or replaced meanwhile) gives an empty range, and the client asks again.
func (d *Dispatcher) readPrefix(resp *fetchResponse, c coldPartition, maxBytes int64) log.FileRange {
	t := &resp.topics[c.topic]
	part, ok := d.cfg.Partitions.Get(t.name, t.partitions[c.partition].partition)
	if !ok {
		return log.FileRange{}
	}
	res, err := part.Log().Read(c.fetchOffset, log.ReadOptions{MaxBytes: int(min(maxBytes, math.MaxInt32))})
	if err != nil {
		res.Range.Release()
		return log.FileRange{}
	}
	return res.Range
}

// wait returns when the response may be sent: its cold ranges loaded, or the deadline
// passed and the ranges cut to what is loaded, or ctx ended (the connection is
// closing; nothing will be sent).
func (w *warmFetch) wait(ctx context.Context) {
	timer := time.NewTimer(time.Until(w.deadline))
	defer timer.Stop()
	select {
	case <-w.job.Done():
		w.cutToReady() // a failed load or a closing pool leaves ranges part loaded
		return
	case <-ctx.Done():
		w.job.Cancel()
		return
	case <-timer.C:
	}
	if !w.anyReady() {
		w.job.CancelExcept(0)
		select {
		case <-w.job.Done():
		case <-ctx.Done():
			w.job.Cancel()
			return
		}
	}
	w.job.Cancel()
	w.cutToReady()
}

// anyReady says whether, cut to what is loaded, the response would carry any records.
func (w *warmFetch) anyReady() bool {
	if w.resident {
		return true
	}
	for k := range w.n {
		if w.job.Ready(k) >= w.cold.length(k) {
			return true
		}
	}
	for k := range w.n {
		if ready := w.job.Ready(k); ready > 0 && w.cold.loaded(k, ready) > 0 {
			return true
		}
	}
	return false
}

// cutToReady replaces each cold range not wholly loaded by its loaded whole batches.
func (w *warmFetch) cutToReady() {
	for k := range w.n {
		ready := w.job.Ready(k)
		if ready >= w.cold.length(k) {
			continue
		}
		w.cold.cut(k, max(ready, 0))
	}
}
