package share

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Key names one share-partition: a group's view of one partition of a topic.
type Key struct {
	Group     string
	TopicID   [16]byte
	Partition int32
}

// ErrCorruptState: a record of __share_group_state that does not decode.
var ErrCorruptState = errors.New("share: corrupt share state record")

const stateFormatVersion = 0

// encodeKey is the record key in __share_group_state: version int16, group (int16
// length, bytes), topic id [16]byte, partition int32. Kafka's ShareSnapshotKey carries
// the same three fields.
func encodeKey(k Key) []byte {
	b := make([]byte, 0, 2+2+len(k.Group)+16+4)
	b = binary.BigEndian.AppendUint16(b, stateFormatVersion)
	b = binary.BigEndian.AppendUint16(b, uint16(len(k.Group)))
	b = append(b, k.Group...)
	b = append(b, k.TopicID[:]...)
	return binary.BigEndian.AppendUint32(b, uint32(k.Partition))
}

// The snapshot of a share-partition (Kafka's ShareSnapshotValue) is the start offset
// and, for [start, end), runs of offsets with one state and delivery count; its bytes
// are SnapshotState's (wire.go). Acquired offsets are written as Available: after a
// restart their locks are gone and they are delivered again.

// snapshotOf encodes w as written under the data partition's leaderEpoch and the
// share-partition's stateEpoch.
func snapshotOf(w *window, leaderEpoch, stateEpoch int32) []byte {
	s := SnapshotState{LeaderEpoch: leaderEpoch, StateEpoch: stateEpoch, StartOffset: w.start}
	for i := range w.recs {
		r := w.recs[i]
		st := r.state
		if st == Acquired {
			st = Available
		}
		o := w.start + int64(i)
		code := wireCode(st)
		if n := len(s.Batches); n > 0 && s.Batches[n-1].DeliveryState == code && s.Batches[n-1].DeliveryCount == r.deliveries {
			s.Batches[n-1].LastOffset = o
			continue
		}
		s.Batches = append(s.Batches, StateBatch{FirstOffset: o, LastOffset: o, DeliveryState: code, DeliveryCount: r.deliveries})
	}
	b, _ := EncodeSnapshot(s) // cannot fail: the runs are contiguous with known states
	return b
}

// restore rebuilds a window from an encoded snapshot, bounded by maxInFlight (else the
// record is corrupt), and returns the state epoch it was written under.
func restore(b []byte, maxInFlight int) (window, int32, error) {
	s, err := DecodeSnapshot(b)
	if err != nil {
		return window{}, 0, err
	}
	w := window{start: s.StartOffset, end: s.StartOffset}
	for _, r := range s.Batches {
		if r.LastOffset-w.start >= int64(max(maxInFlight, 1))+maxRestoredSlack {
			return window{}, 0, fmt.Errorf("%w: run [%d, %d] beyond the in-flight limit from %d", ErrCorruptState, r.FirstOffset, r.LastOffset, w.start)
		}
		st := stateOf(r.DeliveryState)
		for o := r.FirstOffset; o <= r.LastOffset; o++ {
			w.recs = append(w.recs, inflight{state: st, deliveries: r.DeliveryCount})
		}
		w.end = r.LastOffset + 1
	}
	w.advance()
	return w, s.StateEpoch, nil
}

// maxRestoredSlack lets a snapshot written under a larger
// group.share.partition.max.record.locks load after the limit was lowered.
const maxRestoredSlack = 1 << 20
