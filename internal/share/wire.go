package share

import (
	"encoding/binary"
	"fmt"
)

// StateBatch is one run of a snapshot as ReadShareGroupState and WriteShareGroupState
// carry it: offsets [FirstOffset, LastOffset] with one delivery state (Kafka's codes:
// 0 available, 2 acknowledged, 4 archived) and delivery count.
type StateBatch struct {
	FirstOffset   int64
	LastOffset    int64
	DeliveryState int8
	DeliveryCount int16
}

// Kafka's delivery state codes on the wire (RecordState.java).
const (
	wireAvailable    int8 = 0
	wireAcknowledged int8 = 2
	wireArchived     int8 = 4
)

// wireCode is a state's wire code (Acquired is never written).
func wireCode(s RecordState) int8 {
	switch s {
	case Acknowledged:
		return wireAcknowledged
	case Archived:
		return wireArchived
	}
	return wireAvailable
}

// stateOf is a checked wire code's state.
func stateOf(code int8) RecordState {
	switch code {
	case wireAcknowledged:
		return Acknowledged
	case wireArchived:
		return Archived
	}
	return Available
}

// SnapshotState is a decoded snapshot in wire terms. StateEpoch is Kafka's state
// epoch: InitializeShareGroupState (an operator's reset or delete of the group's
// offsets) bumps it, and writes from a share-partition loaded under an older one are
// fenced, so a leader's stale window cannot overwrite the reset.
type SnapshotState struct {
	LeaderEpoch int32
	StateEpoch  int32
	StartOffset int64
	Batches     []StateBatch
}

const snapshotHeaderBytes = 2 + 4 + 4 + 8 + 4

// DecodeSnapshot turns a stored snapshot into its wire form: version int16, leader
// epoch int32, state epoch int32, start offset int64, run count int32, then each run:
// first offset int64, last offset int64, state int8 (Kafka's wire code), delivery
// count int16. Big-endian, like the Kafka protocol.
func DecodeSnapshot(b []byte) (SnapshotState, error) {
	if len(b) < snapshotHeaderBytes || binary.BigEndian.Uint16(b) != stateFormatVersion {
		return SnapshotState{}, fmt.Errorf("%w: value of %d bytes", ErrCorruptState, len(b))
	}
	s := SnapshotState{LeaderEpoch: int32(binary.BigEndian.Uint32(b[2:])), StateEpoch: int32(binary.BigEndian.Uint32(b[6:])),
		StartOffset: int64(binary.BigEndian.Uint64(b[10:]))}
	n := int(binary.BigEndian.Uint32(b[18:]))
	b = b[snapshotHeaderBytes:]
	if n < 0 || len(b) != n*runBytes {
		return SnapshotState{}, fmt.Errorf("%w: %d runs in %d bytes", ErrCorruptState, n, len(b))
	}
	for i := 0; i < n; i++ {
		s.Batches = append(s.Batches, StateBatch{FirstOffset: int64(binary.BigEndian.Uint64(b)),
			LastOffset: int64(binary.BigEndian.Uint64(b[8:])), DeliveryState: int8(b[16]),
			DeliveryCount: int16(binary.BigEndian.Uint16(b[17:]))})
		b = b[runBytes:]
	}
	if err := checkBatches(s); err != nil {
		return SnapshotState{}, fmt.Errorf("%w: %v", ErrCorruptState, err)
	}
	return s, nil
}

const runBytes = 8 + 8 + 1 + 2

// EncodeSnapshot is DecodeSnapshot's inverse. A remote writer's bad state is refused
// here (ErrInvalidRequest) rather than stored.
func EncodeSnapshot(s SnapshotState) ([]byte, error) {
	if err := checkBatches(s); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidRequest, err)
	}
	b := make([]byte, 0, snapshotHeaderBytes+len(s.Batches)*runBytes)
	b = binary.BigEndian.AppendUint16(b, stateFormatVersion)
	b = binary.BigEndian.AppendUint32(b, uint32(s.LeaderEpoch))
	b = binary.BigEndian.AppendUint32(b, uint32(s.StateEpoch))
	b = binary.BigEndian.AppendUint64(b, uint64(s.StartOffset))
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.Batches)))
	for _, r := range s.Batches {
		b = binary.BigEndian.AppendUint64(b, uint64(r.FirstOffset))
		b = binary.BigEndian.AppendUint64(b, uint64(r.LastOffset))
		b = append(b, byte(r.DeliveryState))
		b = binary.BigEndian.AppendUint16(b, uint16(r.DeliveryCount))
	}
	return b, nil
}

// checkBatches: a start offset, runs contiguous from it, known states.
func checkBatches(s SnapshotState) error {
	if s.StartOffset < 0 {
		return fmt.Errorf("start offset %d", s.StartOffset)
	}
	next := s.StartOffset
	for _, r := range s.Batches {
		switch r.DeliveryState {
		case wireAvailable, wireAcknowledged, wireArchived:
		default:
			return fmt.Errorf("delivery state %d", r.DeliveryState)
		}
		if r.FirstOffset != next || r.LastOffset < r.FirstOffset || r.DeliveryCount < 0 {
			return fmt.Errorf("state batch [%d, %d] after offset %d", r.FirstOffset, r.LastOffset, next)
		}
		next = r.LastOffset + 1
	}
	return nil
}
