package api

// The first half of Fetch's read path (fetch_warm.go is the second). Reading a
// partition's log scans batch headers: near the fetch offset, to find where the range
// starts, and about partition_max_bytes further on, to find where it ends. For a
// consumer catching up on a cold segment both are disk reads, made synchronously on
// the connection's reader before the range's own residency is ever checked: the seed's
// incident moved from sendfile into the header scan (a thread blocked in pread holds
// its P, and on a loaded broker other connections' goroutines wait for sysmon to take
// it back, 10 ms at worst). So before reading, each partition's window (the span of
// file its read can touch, log.Log.Window, from the offset index alone) is checked for
// residency; cold windows go to the warm-up pool and the fetch reads once they are
// loaded, on a goroutine of its own, as a long poll waits. A window found or made
// resident also spares the range its second check when the read falls inside it.

import (
	"context"
	"math"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/log"
	"github.com/nagare-dev/nagare/internal/partition"
	"github.com/nagare-dev/nagare/internal/readpath"
)

// fetchWindows is what a fetch's partition reads may touch, checked before the reads.
type fetchWindows struct {
	spans  []readpath.Range // per partition in request order; zero Length when not checked
	loaded []bool           // spans[i] is in the page cache
	pinned []log.FileRange  // the cold windows, pinned while they load
	cold   []int            // their indexes in spans, in job order
	job    *readpath.Job
}

// fetchTenant is the warm-up pool's fairness key for a request's loads.
func fetchTenant(r *request) readpath.Tenant {
	return readpath.Tenant{Principal: "User:" + r.session.Principal(), ClientID: r.header.ClientID}
}

// checkWindows finds each partition's window and checks it for residency, queueing the
// cold ones on the warm-up pool (w.job then non-nil). It returns nil when warm-up is
// off. Partitions the read will refuse (not readable by the client, not led here, fenced,
// sent to a preferred read replica) are skipped: their reads touch no file. Windows are
// sized as the reads will be, within the request's max_bytes in partition order, so a
// fetch does not load what it cannot send.
func (d *Dispatcher) checkWindows(r *request, req *kmsg.FetchRequest) *fetchWindows {
	pool := d.cfg.ReadPath
	if pool == nil || !pool.Enabled() {
		return nil
	}
	version := r.header.Version
	img := d.cfg.Metadata.Image()
	replica := fetchReplicaID(req, version) >= 0
	if replica && !d.authorizedCluster(r, acl.OpClusterAction) {
		return nil
	}
	n := 0
	for _, t := range req.Topics {
		n += len(t.Partitions)
	}
	w := &fetchWindows{spans: make([]readpath.Range, 0, n), loaded: make([]bool, 0, n)} // every fetch, followers' included
	var load []readpath.Range
	budget := int64(req.MaxBytes)
	if budget <= 0 {
		budget = math.MaxInt32
	}
	for _, t := range req.Topics {
		name := fetchTopicName(img, t, version)
		allowed := replica || d.authorizedTopic(r, acl.OpRead, name)
		for _, p := range t.Partitions {
			i := len(w.spans)
			w.spans, w.loaded = append(w.spans, readpath.Range{}), append(w.loaded, false)
			maxBytes := min(int64(p.PartitionMaxBytes), budget)
			if !allowed || maxBytes <= 0 {
				continue
			}
			part := d.windowPartition(name, p, version, replica, req.Rack)
			if part == nil {
				continue
			}
			win, ok := part.Log().Window(p.FetchOffset, int(maxBytes))
			if !ok {
				continue
			}
			budget -= maxBytes // the most the read can take
			span := readpath.Range{File: win.File, Offset: win.Position, Length: win.Length}
			w.spans[i] = span
			if pool.Resident(span) {
				w.loaded[i] = true
				win.Release()
				continue
			}
			w.pinned, w.cold, load = append(w.pinned, win), append(w.cold, i), append(load, span)
		}
	}
	if len(load) > 0 {
		w.job = pool.Warm(fetchTenant(r), load)
	}
	return w
}

// windowPartition is the partition a fetch's read of p will read from this broker, by
// the read's own checks; nil when the read will not touch the log.
func (d *Dispatcher) windowPartition(topic string, p kmsg.FetchRequestTopicPartition, version int16, replica bool, rack string) *partition.Partition {
	if replica {
		part, code := d.servedPartition(topic, p.Partition, p.CurrentLeaderEpoch)
		if code != 0 {
			return nil
		}
		return part
	}
	part, code := d.fetchablePartition(topic, p.Partition, p.CurrentLeaderEpoch, version)
	if code != 0 || d.preferredReadReplica(part, rack, p.FetchOffset) >= 0 {
		return nil
	}
	return part
}

// wait waits for the cold windows to load, until the deadline (then the reads go ahead
// and may meet the disk themselves, on this goroutine) or ctx ends, and unpins them
// once no load uses them (a cancelled job finishes the chunks it started; the pool's
// Close finishes every job).
func (w *fetchWindows) wait(ctx context.Context, deadline time.Time) {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-w.job.Done():
	case <-timer.C:
	case <-ctx.Done():
	}
	w.job.Cancel()
	for k, i := range w.cold {
		w.loaded[i] = w.job.Ready(k) >= w.spans[i].Length
	}
	pinned := w.pinned
	w.pinned = nil
	release := func() {
		for k := range pinned {
			pinned[k].Release()
		}
	}
	select {
	case <-w.job.Done():
		release()
	default: // chunks in flight still read the files: unpin when they are done
		go func() {
			<-w.job.Done()
			release()
		}()
	}
}

// covers says whether partition i's read rng lies inside its window and the window is
// known to be in the page cache, so rng needs no check of its own.
func (w *fetchWindows) covers(i int, rng log.FileRange) bool {
	if w == nil || i >= len(w.spans) || !w.loaded[i] {
		return false
	}
	s := w.spans[i]
	return rng.File == s.File && rng.Position >= s.Offset && rng.Position+rng.Length <= s.Offset+s.Length
}
