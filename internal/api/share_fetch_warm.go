package api

// ShareFetch's half of the read path (fetch_warm.go): acquired ranges are checked for
// page cache residency and cold ones warmed by the same pool, with the same deadline
// rule, before the reply reaches the connection writer. What differs is the cut: a
// share fetch cut to its loaded whole batches gives back the records it acquired past
// the cut (share.Partition.Unacquire), so the client holds only records it was sent.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/log"
	"github.com/nagare-dev/nagare/internal/share"
)

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
	job, cold, resident := sf.d.warmUp(sf.r, ranges)
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
// warm-up runs on its own goroutine so the connection keeps reading.
func (sf *shareFetch) send(ctx context.Context) {
	w := sf.warm()
	if w == nil {
		sf.reply()
		return
	}
	go func() {
		w.wait(ctx)
		sf.reply()
	}()
}
