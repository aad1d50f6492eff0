package api

// ShareFetch's half of the read path (fetch_warm.go), in two places. Before acquiring,
// a partition's log read is checked for page cache residency: acquiring reads the
// header of every batch in it (offsets and record counts), and on a cold range those
// reads would be synchronous disk reads on the request goroutine (the connection's
// reader, or its share work). A cold read is queued on the warm-up pool with the
// client's fairness key instead and acquired from once loaded (coldScan), within the
// request's max_wait_ms and under Fetch's deadline rule: at the deadline a read is cut
// to its loaded whole batches, and if nothing at all is ready the first cold read is
// still loaded, so a short max_wait_ms makes progress. After acquiring, the ranges to
// send are checked again (shareCold) and any found cold is warmed the same way; one
// cut at the deadline there gives back the records it acquired past the cut
// (share.Partition.Unacquire), so the client holds only records it was sent.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/log"
	"github.com/nagare-dev/nagare/internal/partition"
	"github.com/nagare-dev/nagare/internal/readpath"
	"github.com/nagare-dev/nagare/internal/share"
)

// coldRead is a partition's log read found not in the page cache: nothing of it has
// been read or acquired yet. When its window was cold (window set), rng is that window
// and the Read itself waits until the window is loaded, since the Read's header scan
// would read the cold pages on the caller's goroutine.
type coldRead struct {
	tp   share.TopicPartition
	sp   *share.Partition
	part *partition.Partition
	rng  log.FileRange // owned: released when acquired from or dropped

	window   bool  // rng is the window of a Read at readAt within maxBytes, not yet done
	readAt   int64 // the offset to Read once the window is loaded
	maxBytes int64 // that Read's limit
}

// coldScan is a ShareFetch's cold reads, to acquire from once warmed. As coldRanges,
// a cut keeps a read's whole loaded batches; reading their headers reads loaded pages.
type coldScan struct {
	reads   []coldRead // in warm-up job order
	records int        // the most records still to acquire from them
}

func (c *coldScan) add(r coldRead) { c.reads = append(c.reads, r) }

// pending returns c when it has reads and records may still be acquired from them;
// else it releases the reads and returns nil.
func (c *coldScan) pending(records int) *coldScan {
	if len(c.reads) == 0 {
		return nil
	}
	if records <= 0 {
		c.release()
		return nil
	}
	c.records = records
	return c
}

func (c *coldScan) release() {
	for i := range c.reads {
		c.reads[i].rng.Release()
	}
	c.reads = nil
}

func (c *coldScan) length(k int) int64 { return c.reads[k].rng.Length }

// loaded is how much of read k can be used with ready bytes of it loaded: its whole
// loaded batches, or for a window all of it or nothing, since the read a window stands
// for may end anywhere in it (a partial one would send that read to the disk).
func (c *coldScan) loaded(k int, ready int64) int64 {
	rd := &c.reads[k]
	if rd.window {
		if ready >= rd.rng.Length {
			return rd.rng.Length
		}
		return 0
	}
	n, _, err := share.WholeBatches(rd.rng, ready)
	if err != nil {
		return 0
	}
	return n
}

// cut shortens read k to what loaded allows; with nothing it is dropped.
func (c *coldScan) cut(k int, ready int64) {
	rng := &c.reads[k].rng
	if c.reads[k].window && ready < rng.Length {
		rng.Release()
		*rng = log.FileRange{}
		return
	}
	if c.reads[k].window {
		return
	}
	n, _, err := share.WholeBatches(*rng, ready)
	if err != nil || n == 0 {
		rng.Release()
		*rng = log.FileRange{}
		return
	}
	rng.Length = n
}

// coldWindow returns the window of a Read at offset within maxBytes (log.Window: every
// page the Read's header scan and range can touch, from the offset index alone) when the
// read path is on and the window is not all in the page cache; the caller owns it then.
// Checked before the Read, so that a cold partition costs the caller no disk read.
func (sf *shareFetch) coldWindow(l *log.Log, offset, maxBytes int64) (log.FileRange, bool) {
	pool := sf.d.cfg.ReadPath
	if pool == nil || !pool.Enabled() {
		return log.FileRange{}, false
	}
	win, ok := l.Window(offset, int(maxBytes))
	if !ok {
		return log.FileRange{}, false
	}
	if pool.Resident(readpath.Range{File: win.File, Offset: win.Position, Length: win.Length}) {
		win.Release()
		return log.FileRange{}, false
	}
	return win, true
}

// resident reports whether rng is in the page cache (or the read path is off), so
// its batch headers can be read here without waiting for the disk.
func (sf *shareFetch) resident(rng log.FileRange) bool {
	pool := sf.d.cfg.ReadPath
	return pool == nil || pool.Resident(readpath.Range{File: rng.File, Offset: rng.Position, Length: rng.Length})
}

// acquireCold queues the cold reads on the warm-up pool, waits for them as a Fetch
// waits for its cold ranges (warmFetch.wait; resident says records were acquired
// already, enough to answer at the deadline), then acquires from what was loaded. It
// returns how many records it acquired and always consumes cold. It blocks: only a
// goroutine of the request's own calls it, never the connection's reader.
func (sf *shareFetch) acquireCold(ctx context.Context, cold *coldScan, resident bool) int {
	load := make([]readpath.Range, len(cold.reads))
	for i, rd := range cold.reads {
		load[i] = readpath.Range{File: rd.rng.File, Offset: rd.rng.Position, Length: rd.rng.Length}
	}
	w := &warmFetch{cold: cold, n: len(cold.reads), resident: resident, job: sf.d.cfg.ReadPath.Warm(fetchTenant(sf.r), load), deadline: sf.deadline}
	w.wait(ctx)
	if ctx.Err() != nil {
		cold.release()
		return 0
	}
	acquired := 0
	for i := range cold.reads {
		rd := &cold.reads[i]
		if rd.rng.Length == 0 || acquired >= cold.records {
			rd.rng.Release()
			continue
		}
		if rd.window && !sf.readWarmedWindow(rd) {
			continue
		}
		n, _, err := sf.acquireRange(rd.tp, rd.sp, rd.part, rd.rng, cold.records-acquired)
		if err != nil {
			rp := sf.partition(rd.tp.TopicID, rd.tp.Partition)
			rp.ErrorCode, rp.ErrorMessage = shareErrorCode(err), errorMessage(err)
			sf.failed = true
			continue
		}
		acquired += n
	}
	cold.reads = nil
	return acquired
}

// readWarmedWindow does the Read of a cold read whose window is now loaded (a window is
// loaded whole or dropped: coldScan.loaded), replacing the window in rd by the read's
// range, and reports whether there is one to acquire from. The read touches only loaded
// pages, but for the two cases Window cannot bound (a first batch over max_bytes, an
// offset past its segment's last batch), which then read the disk here, on the request's
// own goroutine; the response's ranges are checked again before sending (send).
func (sf *shareFetch) readWarmedWindow(rd *coldRead) bool {
	rd.rng.Release()
	rd.rng = log.FileRange{}
	res, err := rd.part.Log().Read(rd.readAt, log.ReadOptions{MaxBytes: int(rd.maxBytes), MinOneBatch: true})
	if err != nil || res.Range.Length == 0 {
		res.Range.Release()
		return false
	}
	rd.rng = res.Range
	return true
}

// sharePos locates a partition's range: records[topic][partition].
type sharePos struct{ topic, partition int }

// shareCold is a ShareFetch response's cold ranges.
type shareCold struct {
	sf    *shareFetch
	parts []sharePos // in job order
}

func (s *shareCold) rec(k int) *log.FileRange {
	p := s.parts[k]
	return &s.sf.resp.records[p.topic][p.partition]
}

func (s *shareCold) length(k int) int64 { return s.rec(k).Length }

func (s *shareCold) loaded(k int, ready int64) int64 {
	n, _, err := share.WholeBatches(*s.rec(k), ready)
	if err != nil {
		return 0
	}
	return n
}

// cut shortens range k to its whole loaded batches and gives back the acquired
// records after them; with none loaded the partition carries no records.
func (s *shareCold) cut(k int, ready int64) {
	rec := s.rec(k)
	n, last, err := share.WholeBatches(*rec, ready)
	if err != nil || n == 0 {
		rec.Release()
		*rec = log.FileRange{}
		last = -1
	} else {
		rec.Length = n
	}
	p := s.parts[k]
	t := &s.sf.resp.resp.Topics[p.topic]
	rp := &t.Partitions[p.partition]
	kept, back := splitAcquired(rp.AcquiredRecords, last)
	rp.AcquiredRecords = kept
	key := share.Key{Group: s.sf.group, TopicID: t.TopicID, Partition: rp.Partition}
	if sp := s.sf.d.cfg.Shares.Loaded(key); sp != nil && len(back) > 0 {
		sp.Unacquire(s.sf.member, back)
	}
}

// splitAcquired keeps the acquired records up to offset last and returns the rest.
func splitAcquired(in []kmsg.ShareFetchResponseTopicPartitionAcquiredRecord, last int64) (kept []kmsg.ShareFetchResponseTopicPartitionAcquiredRecord, back []share.AcquiredRange) {
	for _, a := range in {
		if a.LastOffset <= last {
			kept = append(kept, a)
			continue
		}
		first := a.FirstOffset
		if first <= last {
			head := a
			head.LastOffset = last
			kept = append(kept, head)
			first = last + 1
		}
		back = append(back, share.AcquiredRange{FirstOffset: first, LastOffset: a.LastOffset, DeliveryCount: a.DeliveryCount})
	}
	return kept, back
}

// warm queues the response's cold ranges for warm-up; nil when none is cold.
func (sf *shareFetch) warm() *warmFetch {
	var ranges []log.FileRange
	var where []sharePos
	for i := range sf.resp.records {
		for j, rec := range sf.resp.records[i] {
			ranges = append(ranges, rec)
			where = append(where, sharePos{topic: i, partition: j})
		}
	}
	job, cold, resident := sf.d.warmUp(sf.r, ranges, nil)
	if job == nil {
		return nil
	}
	sc := &shareCold{sf: sf}
	for _, i := range cold {
		sc.parts = append(sc.parts, where[i])
	}
	deadline := sf.r.received.Add(time.Duration(max(sf.req.MaxWaitMillis, 0)) * time.Millisecond)
	return &warmFetch{cold: sc, n: len(cold), resident: resident, job: job, deadline: deadline}
}

// send completes the reply once its ranges are resident, as Fetch does; a wait for
// warm-up runs on its own goroutine so the connection keeps reading. The ranges were
// resident when acquired from, so this wait is for pages evicted since: rare.
func (sf *shareFetch) send(ctx context.Context) {
	w := sf.warm()
	if w == nil {
		sf.reply()
		return
	}
	sf.d.spawn(sf.r, func() {
		w.wait(ctx)
		sf.reply()
	})
}
