package api

// The read path's half of Fetch. Before a response's file ranges reach the connection
// writer (whose sendfile would block on the disk for a cold range, stalling every reply
// behind it: the seed's incident), each is checked for page cache residency; cold ones
// go to the warm-up pool (internal/readpath), and the reply completes when they are
// loaded. The wait is the fetch's own, like a long poll's: the connection keeps reading,
// other connections never notice, and no lock is held, so appends go on.
//
// Deadline: a fetch waits for warm-up no longer than its max_wait_ms (from when it
// arrived). Then it answers with what is ready: warm partitions whole, cold ones cut to
// the whole batches already loaded, the rest empty (the client asks again from there).
// If nothing at all is ready, it waits for its first cold range only, so a consumer with
// a max_wait_ms shorter than a disk read still makes progress instead of spinning.

import (
	"context"
	"math"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/log"
	"github.com/nagare-dev/nagare/internal/readpath"
)

// coldPartition is a partition of a fetch response whose range is not in the page cache.
type coldPartition struct {
	topic, partition int   // indexes into fetchResponse.topics and its partitions
	fetchOffset      int64 // where the range starts, to re-read a prefix of it
}

// warmFetch is a fetch response waiting for its cold ranges to load.
type warmFetch struct {
	resp     *fetchResponse
	cold     []coldPartition // in job range order
	job      *readpath.Job
	deadline time.Time
	// prefix re-reads cold partition c from its fetch offset within maxBytes: whole
	// batches, a prefix of the range first read; an empty range if that cannot be done.
	prefix func(c coldPartition, maxBytes int64) log.FileRange
}

// sendWhenWarm completes a fetch once its ranges are resident: at once when they are (or
// warm-up is off), else after warm-up or at the deadline. With inline false the wait
// runs on its own goroutine, so the caller (the connection's reader) never waits.
func (d *Dispatcher) sendWhenWarm(ctx context.Context, r *request, req *kmsg.FetchRequest, resp *fetchResponse, deadline time.Time, inline bool) {
	pool := d.cfg.ReadPath
	if pool == nil || !pool.Enabled() {
		d.sendFetch(r, resp)
		return
	}
	var cold []coldPartition
	var ranges []readpath.Range
	for i := range resp.topics {
		for j := range resp.topics[i].partitions {
			rec := resp.topics[i].partitions[j].records
			rng := readpath.Range{File: rec.File, Offset: rec.Position, Length: rec.Length}
			if rec.Length == 0 || pool.Resident(rng) {
				continue
			}
			cold = append(cold, coldPartition{topic: i, partition: j, fetchOffset: req.Topics[i].Partitions[j].FetchOffset})
			ranges = append(ranges, rng)
		}
	}
	if len(cold) == 0 {
		d.sendFetch(r, resp)
		return
	}
	w := &warmFetch{
		resp: resp, cold: cold, deadline: deadline,
		job:    pool.Warm(readpath.Tenant{Principal: "User:" + r.session.Principal(), ClientID: r.header.ClientID}, ranges),
		prefix: func(c coldPartition, maxBytes int64) log.FileRange { return d.readPrefix(resp, c, maxBytes) },
	}
	if inline {
		w.wait(ctx)
		d.sendFetch(r, resp)
		return
	}
	go func() {
		w.wait(ctx)
		d.sendFetch(r, resp)
	}()
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

// wait returns when resp may be sent: its cold ranges loaded, or the deadline passed and
// resp cut to what is loaded, or ctx ended (the connection is closing; nothing will be
// sent).
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
	var coldBytes int64
	for k, c := range w.cold {
		rec := &w.resp.topics[c.topic].partitions[c.partition].records
		coldBytes += rec.Length
		if w.job.Ready(k) >= rec.Length {
			return true
		}
	}
	if w.resp.bytes() > coldBytes {
		return true // a resident partition has records
	}
	for k := range w.cold {
		cut := w.loadedPrefix(k)
		n := cut.Length
		cut.Release()
		if n > 0 {
			return true
		}
	}
	return false
}

// loadedPrefix is the whole batches of cold range k that are loaded; the caller releases
// it. It is empty when nothing is, or when the re-read is not a prefix of the range.
func (w *warmFetch) loadedPrefix(k int) log.FileRange {
	c := w.cold[k]
	rec := &w.resp.topics[c.topic].partitions[c.partition].records
	ready := w.job.Ready(k)
	if ready <= 0 {
		return log.FileRange{}
	}
	cut := w.prefix(c, ready)
	if cut.File != rec.File || cut.Position != rec.Position || cut.Length > ready {
		cut.Release()
		return log.FileRange{}
	}
	return cut
}

// cutToReady replaces each cold range not wholly loaded by its loaded whole batches.
func (w *warmFetch) cutToReady() {
	for k, c := range w.cold {
		rec := &w.resp.topics[c.topic].partitions[c.partition].records
		if w.job.Ready(k) >= rec.Length {
			continue
		}
		cut := w.loadedPrefix(k)
		rec.Release()
		*rec = cut
	}
}
