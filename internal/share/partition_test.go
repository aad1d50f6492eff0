package share

import (
	"testing"
	"time"
)

// FuzzWindow drives a share-partition window with random acquisitions,
// acknowledgements, releases and lock expiries from two members, and checks the
// invariants after each step: an acknowledged or archived offset is never acquired
// again, no offset is delivered more than the delivery limit, the window never
// exceeds its in-flight limit, and a snapshot restores to the same durable state.
func FuzzWindow(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 0, 1, 4, 0, 5, 2})
	f.Add([]byte{0, 0, 0, 4, 4, 0, 3, 3, 1})
	f.Fuzz(func(t *testing.T, ops []byte) {
		lim := Limits{LockDuration: time.Second, DeliveryLimit: 3, MaxInFlight: 40}
		w := window{}
		logEnd := int64(0)
		done := map[int64]bool{}
		now := time.Unix(1000, 0)
		members := [2]string{"a", "b"}
		for i, op := range ops {
			m := members[i%2]
			switch op % 6 {
			case 0: // append a batch of 1-8 records, sometimes a control batch
				logEnd += int64(op%8) + 1
			case 1, 2: // acquire from the first available offset
				var batches []Batch
				for o := w.firstAvailable(); o < logEnd; o += 4 {
					batches = append(batches, Batch{BaseOffset: o, LastOffset: min(o+3, logEnd-1), Control: op%7 == 0})
				}
				for _, r := range w.acquire(batches, m, int(op%16)+1, lim, now, nil) {
					for o := r.FirstOffset; o <= r.LastOffset; o++ {
						if done[o] {
							t.Fatalf("offset %d acquired after being done", o)
						}
						if int(r.DeliveryCount) > lim.DeliveryLimit {
							t.Fatalf("offset %d delivered %d times", o, r.DeliveryCount)
						}
					}
				}
			case 3, 4: // acknowledge what m holds, type from op
				var batches []AckBatch
				for o := w.start; o < w.end; o++ {
					if r := w.at(o); r.state == Acquired && r.owner == m {
						batches = append(batches, AckBatch{FirstOffset: o, LastOffset: o, Types: []AckType{AckType(op%3) + 1}})
					}
				}
				if err := w.validate(m, batches); err != nil {
					t.Fatal(err)
				}
				for _, b := range batches {
					if b.Types[0] != AckRelease {
						done[b.FirstOffset] = true
					}
				}
				w.acknowledge(batches, lim)
			case 5: // time passes; locks expire
				now = now.Add(time.Duration(op) * 10 * time.Millisecond)
				w.expire(now, lim)
			}
			if w.inFlight() > lim.MaxInFlight || w.start > w.end || len(w.recs) != w.inFlight() {
				t.Fatalf("window [%d, %d) with %d records", w.start, w.end, len(w.recs))
			}
			for o := w.start; o < w.end; o++ {
				if r := w.at(o); r.state == Available && int(r.deliveries) >= lim.DeliveryLimit {
					t.Fatalf("offset %d available after %d deliveries", o, r.deliveries)
				}
			}
			checkRestore(t, &w)
		}
	})
}

func checkRestore(t *testing.T, w *window) {
	got, _, err := restore(snapshotOf(w, 7, 3), 40)
	if err != nil {
		t.Fatal(err)
	}
	want := *w
	want.recs = append([]inflight(nil), w.recs...)
	for i := range want.recs {
		if want.recs[i].state == Acquired {
			want.recs[i] = inflight{state: Available, deliveries: want.recs[i].deliveries}
		}
	}
	want.advance()
	if got.start != want.start || got.end != want.end || len(got.recs) != len(want.recs) {
		t.Fatalf("restored [%d, %d) want [%d, %d)", got.start, got.end, want.start, want.end)
	}
	for i := range got.recs {
		if got.recs[i] != want.recs[i] {
			t.Fatalf("offset %d restored %+v want %+v", got.start+int64(i), got.recs[i], want.recs[i])
		}
	}
}

// TestDeliveryLimitArchives: a record released group.share.delivery.count.limit times
// is archived and the start moves past it.
func TestDeliveryLimitArchives(t *testing.T) {
	lim := Limits{LockDuration: time.Second, DeliveryLimit: 2, MaxInFlight: 10}
	w := window{}
	now := time.Unix(0, 0)
	for i := range 2 {
		got := w.acquire([]Batch{{BaseOffset: 0, LastOffset: 0}}, "m", 10, lim, now, nil)
		if len(got) != 1 || got[0].DeliveryCount != int16(i+1) {
			t.Fatalf("delivery %d: %+v", i+1, got)
		}
		w.acknowledge([]AckBatch{{FirstOffset: 0, LastOffset: 0, Types: []AckType{AckRelease}}}, lim)
	}
	if w.start != 1 || w.inFlight() != 0 {
		t.Fatalf("window [%d, %d) after the limit, want [1, 1)", w.start, w.end)
	}
}

// TestRejectedNotRedelivered: reject archives; gaps and control batches are never
// handed out.
func TestRejectedNotRedelivered(t *testing.T) {
	lim := Limits{LockDuration: time.Second, DeliveryLimit: 5, MaxInFlight: 100}
	w := window{}
	got := w.acquire([]Batch{{0, 1, false}, {2, 2, true}, {5, 6, false}}, "m", 100, lim, time.Unix(0, 0), nil)
	want := []AcquiredRange{{0, 1, 1}, {5, 6, 1}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("acquired %+v want %+v", got, want)
	}
	w.acknowledge([]AckBatch{{FirstOffset: 0, LastOffset: 1, Types: []AckType{AckReject}}, {FirstOffset: 5, LastOffset: 6, Types: []AckType{AckAccept}}}, lim)
	if w.start != 7 || w.hasAvailable() {
		t.Fatalf("window [%d, %d), want everything done", w.start, w.end)
	}
}
