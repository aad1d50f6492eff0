package share

import (
	"fmt"
	"time"
)

// RecordState is the state of one in-flight offset of a share-partition, as Kafka's
// SharePartition names it.
type RecordState uint8

const (
	// Available: may be acquired by the next ShareFetch.
	Available RecordState = iota
	// Acquired: locked to one member until it acknowledges or its lock expires.
	Acquired
	// Acknowledged: accepted by a consumer; never delivered again.
	Acknowledged
	// Archived: rejected, past the delivery count limit, or a gap (a control batch or
	// an offset compaction removed); never delivered again.
	Archived
)

var recordStateNames = [...]string{"Available", "Acquired", "Acknowledged", "Archived"}

func (s RecordState) String() string { return recordStateNames[s] }

// AckType is an acknowledgement type of ShareFetch and ShareAcknowledge (KIP-932).
type AckType int8

// The acknowledgement types on the wire.
const (
	AckGap     AckType = 0 // the offset is not a record the client saw (compacted, control)
	AckAccept  AckType = 1
	AckRelease AckType = 2
	AckReject  AckType = 3
)

// Limits are the broker configs a share-partition obeys.
type Limits struct {
	LockDuration  time.Duration // group.share.record.lock.duration.ms
	DeliveryLimit int           // group.share.delivery.count.limit
	MaxInFlight   int           // group.share.partition.max.record.locks
}

// Batch is one record batch of the log as the acquiring read saw it.
type Batch struct {
	BaseOffset int64
	LastOffset int64
	Control    bool // a transaction marker: never delivered, archived at once
}

// AcquiredRange is a run of offsets acquired together with one delivery count.
type AcquiredRange struct {
	FirstOffset   int64
	LastOffset    int64
	DeliveryCount int16
}

// AckBatch acknowledges [FirstOffset, LastOffset]: with one type for the whole range,
// or one type per offset.
type AckBatch struct {
	FirstOffset int64
	LastOffset  int64
	Types       []AckType
}

// inflight is one offset in [start, end).
type inflight struct {
	state      RecordState
	deliveries int16
	owner      string // the member holding the lock while Acquired
	deadline   int64  // unix nanoseconds the lock ends while Acquired
}

// window is a share-partition's in-flight state: Kafka's share-partition start offset
// (SPSO, start), end offset (SPEO, end) and the state of every offset between. It is
// not safe for concurrent use; Partition guards it.
type window struct {
	start int64
	end   int64
	recs  []inflight // recs[i] is offset start+i
}

func (w *window) at(offset int64) *inflight { return &w.recs[offset-w.start] }

// inFlight is how many offsets the window tracks.
func (w *window) inFlight() int { return int(w.end - w.start) }

// firstAvailable is the lowest offset a fetch should read from: an available
// in-flight record, else the end.
func (w *window) firstAvailable() int64 {
	for i := range w.recs {
		if w.recs[i].state == Available {
			return w.start + int64(i)
		}
	}
	return w.end
}

// hasAvailable reports whether a fetch could acquire something without new data.
func (w *window) hasAvailable() bool { return w.firstAvailable() < w.end }

// moveStart moves the start to offset (the log start moved past it, or an operator
// reset it): the offsets below are dropped unseen, as Kafka does.
func (w *window) moveStart(offset int64) {
	if offset <= w.start {
		return
	}
	if offset >= w.end {
		w.start, w.end, w.recs = offset, offset, w.recs[:0]
		return
	}
	w.recs = w.recs[offset-w.start:]
	w.start = offset
}

// acquire locks for member the available offsets of batches (whole batches, from a
// log read starting at or below firstAvailable), until maxRecords are acquired or the
// window holds maxInFlight offsets. Offsets past the end are added; holes between
// batches and control batches become Archived gaps.
func (w *window) acquire(batches []Batch, member string, maxRecords int, lim Limits, now time.Time, out []AcquiredRange) []AcquiredRange {
	deadline := now.Add(lim.LockDuration).UnixNano()
	acquired := 0
	for _, b := range batches {
		if acquired >= maxRecords {
			break
		}
		if b.LastOffset < w.start {
			continue
		}
		if b.BaseOffset > w.end {
			w.appendState(b.BaseOffset-w.end, Archived) // a compacted hole
		}
		for o := max(b.BaseOffset, w.start); o <= b.LastOffset; o++ {
			if o == w.end {
				if w.inFlight() >= lim.MaxInFlight {
					return out
				}
				if b.Control {
					w.appendState(1, Archived)
					continue
				}
				w.appendState(1, Available)
			}
			r := w.at(o)
			if r.state != Available {
				continue
			}
			r.state, r.owner, r.deadline = Acquired, member, deadline
			r.deliveries++
			acquired++
			out = addRange(out, o, r.deliveries)
		}
	}
	return out
}

func (w *window) appendState(n int64, s RecordState) {
	for range n {
		w.recs = append(w.recs, inflight{state: s})
	}
	w.end += n
}

// addRange extends the last range by offset when contiguous with the same count.
func addRange(out []AcquiredRange, offset int64, deliveries int16) []AcquiredRange {
	if n := len(out); n > 0 && out[n-1].LastOffset == offset-1 && out[n-1].DeliveryCount == deliveries {
		out[n-1].LastOffset = offset
		return out
	}
	return append(out, AcquiredRange{FirstOffset: offset, LastOffset: offset, DeliveryCount: deliveries})
}

// ErrInvalidRecordState: an acknowledgement names an offset the member does not hold
// (Kafka's INVALID_RECORD_STATE).
var ErrInvalidRecordState = fmt.Errorf("share: record is not acquired by this member")

// ErrInvalidRequest: a malformed acknowledgement batch.
var ErrInvalidRequest = fmt.Errorf("share: invalid acknowledgement")

// validate checks every batch before any is applied, so a partition's
// acknowledgements take effect all or none.
func (w *window) validate(member string, batches []AckBatch) error {
	for _, b := range batches {
		if b.LastOffset < b.FirstOffset || len(b.Types) == 0 ||
			(len(b.Types) != 1 && int64(len(b.Types)) != b.LastOffset-b.FirstOffset+1) {
			return fmt.Errorf("%w: [%d, %d] with %d types", ErrInvalidRequest, b.FirstOffset, b.LastOffset, len(b.Types))
		}
		for _, t := range b.Types {
			if t < AckGap || t > AckReject {
				return fmt.Errorf("%w: type %d", ErrInvalidRequest, t)
			}
		}
		for o := b.FirstOffset; o <= b.LastOffset; o++ {
			if o < w.start || o >= w.end {
				return fmt.Errorf("%w: offset %d outside [%d, %d)", ErrInvalidRecordState, o, w.start, w.end)
			}
			if r := w.at(o); r.state != Acquired || r.owner != member {
				return fmt.Errorf("%w: offset %d is %s", ErrInvalidRecordState, o, r.state)
			}
		}
	}
	return nil
}

// acknowledge applies validated batches; it reports whether a record became
// available (waiting fetches should look again).
func (w *window) acknowledge(batches []AckBatch, lim Limits) (released bool) {
	for _, b := range batches {
		for o := b.FirstOffset; o <= b.LastOffset; o++ {
			t := b.Types[0]
			if len(b.Types) > 1 {
				t = b.Types[o-b.FirstOffset]
			}
			r := w.at(o)
			r.owner, r.deadline = "", 0
			switch t {
			case AckAccept:
				r.state = Acknowledged
			case AckRelease:
				released = w.release(r, lim) || released
			default: // reject, gap
				r.state = Archived
			}
		}
	}
	w.advance()
	return released
}

// release makes an acquired record available again, or archives it when it has been
// delivered group.share.delivery.count.limit times.
func (w *window) release(r *inflight, lim Limits) bool {
	r.owner, r.deadline = "", 0
	if int(r.deliveries) >= lim.DeliveryLimit {
		r.state = Archived
		return false
	}
	r.state = Available
	return true
}

// advance moves the start over the acknowledged and archived prefix.
func (w *window) advance() {
	n := 0
	for n < len(w.recs) && (w.recs[n].state == Acknowledged || w.recs[n].state == Archived) {
		n++
	}
	if n > 0 {
		w.recs = w.recs[n:]
		w.start += int64(n)
	}
	if len(w.recs) == 0 && cap(w.recs) > 4096 {
		w.recs = nil // let a once-large window's array go
	}
}

// expire releases the locks that ended by now. It reports whether any record became
// available and the earliest deadline still pending (zero for none).
func (w *window) expire(now time.Time, lim Limits) (released bool, next int64) {
	ns := now.UnixNano()
	for i := range w.recs {
		r := &w.recs[i]
		if r.state != Acquired {
			continue
		}
		if r.deadline <= ns {
			released = w.release(r, lim) || released
			continue
		}
		if next == 0 || r.deadline < next {
			next = r.deadline
		}
	}
	w.advance()
	return released, next
}

// releaseMember releases every lock member holds (it left, or closed its session).
func (w *window) releaseMember(member string, lim Limits) (released bool) {
	for i := range w.recs {
		if r := &w.recs[i]; r.state == Acquired && r.owner == member {
			released = w.release(r, lim) || released
		}
	}
	w.advance()
	return released
}

// counts returns how many offsets are in each state.
func (w *window) counts() (c [4]int) {
	for i := range w.recs {
		c[w.recs[i].state]++
	}
	return c
}
