package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Producer-state snapshots, <offset>.snapshot in the partition directory: the producer
// state as of offset (every batch below it applied), in Kafka's format (version 1), so
// an operator's tools read them and a directory moved from Kafka keeps its producers.
// Big-endian:
//
//	offset  size  field
//	0       2     version              1
//	2       4     crc                  CRC-32C of every byte after this field
//	6       4     entry count
//	10      46*n  entries:
//	                producerId int64, producerEpoch int16, lastSequence int32,
//	                lastOffset int64, offsetDelta int32, timestamp int64,
//	                coordinatorEpoch int32, currentTxnFirstOffset int64
//
// Only each producer's newest batch is kept, as in Kafka: after a restart a retry of
// the newest batch is still a duplicate; older retained batches are rebuilt only from
// the log past the snapshot. A snapshot is written atomically (temp file, fsync, rename)
// when a segment rolls and when the log closes; recovery loads the newest one it can
// trust and replays the log from there.
const (
	snapshotSuffix    = ".snapshot"
	snapshotVersion   = 1
	snapshotHeader    = 10
	snapshotEntrySize = 46
	snapshotCRCStart  = 6
)

// ErrCorruptSnapshot: a producer snapshot fails its checks; recovery drops it and uses
// an older one or the log.
var ErrCorruptSnapshot = errors.New("log: corrupt producer snapshot")

// snapshotEntry is one producer as a snapshot stores it.
type snapshotEntry struct {
	producerID       int64
	epoch            int16
	lastSeq          int32
	lastOffset       int64
	offsetDelta      int32
	timestamp        int64
	coordinatorEpoch int32
	txnFirstOffset   int64
}

func snapshotPath(dir string, offset int64) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", offset, snapshotSuffix))
}

// encodeSnapshot lays out the entries, sorted by producer id so equal states give equal
// files.
func encodeSnapshot(entries []snapshotEntry) []byte {
	slices.SortFunc(entries, func(a, b snapshotEntry) int { return cmpInt64(a.producerID, b.producerID) })
	b := make([]byte, snapshotHeader, snapshotHeader+len(entries)*snapshotEntrySize)
	binary.BigEndian.PutUint16(b, snapshotVersion)
	binary.BigEndian.PutUint32(b[snapshotCRCStart:], uint32(len(entries)))
	for _, e := range entries {
		b = binary.BigEndian.AppendUint64(b, uint64(e.producerID))
		b = binary.BigEndian.AppendUint16(b, uint16(e.epoch))
		b = binary.BigEndian.AppendUint32(b, uint32(e.lastSeq))
		b = binary.BigEndian.AppendUint64(b, uint64(e.lastOffset))
		b = binary.BigEndian.AppendUint32(b, uint32(e.offsetDelta))
		b = binary.BigEndian.AppendUint64(b, uint64(e.timestamp))
		b = binary.BigEndian.AppendUint32(b, uint32(e.coordinatorEpoch))
		b = binary.BigEndian.AppendUint64(b, uint64(e.txnFirstOffset))
	}
	binary.BigEndian.PutUint32(b[2:], crc32c(b[snapshotCRCStart:]))
	return b
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// decodeSnapshot parses a snapshot file's bytes, checking version, CRC and size.
func decodeSnapshot(b []byte) ([]snapshotEntry, error) {
	if len(b) < snapshotHeader {
		return nil, fmt.Errorf("%w: %d bytes", ErrCorruptSnapshot, len(b))
	}
	if v := int16(binary.BigEndian.Uint16(b)); v != snapshotVersion {
		return nil, fmt.Errorf("%w: version %d", ErrCorruptSnapshot, v)
	}
	if want, got := binary.BigEndian.Uint32(b[2:]), crc32c(b[snapshotCRCStart:]); want != got {
		return nil, fmt.Errorf("%w: crc %08x, computed %08x", ErrCorruptSnapshot, want, got)
	}
	n := int32(binary.BigEndian.Uint32(b[snapshotCRCStart:]))
	if n < 0 || int64(len(b)-snapshotHeader) != int64(n)*snapshotEntrySize {
		return nil, fmt.Errorf("%w: %d entries in %d bytes", ErrCorruptSnapshot, n, len(b))
	}
	entries := make([]snapshotEntry, n)
	for i := range entries {
		p := b[snapshotHeader+i*snapshotEntrySize:]
		entries[i] = snapshotEntry{
			producerID:       int64(binary.BigEndian.Uint64(p)),
			epoch:            int16(binary.BigEndian.Uint16(p[8:])),
			lastSeq:          int32(binary.BigEndian.Uint32(p[10:])),
			lastOffset:       int64(binary.BigEndian.Uint64(p[14:])),
			offsetDelta:      int32(binary.BigEndian.Uint32(p[22:])),
			timestamp:        int64(binary.BigEndian.Uint64(p[26:])),
			coordinatorEpoch: int32(binary.BigEndian.Uint32(p[34:])),
			txnFirstOffset:   int64(binary.BigEndian.Uint64(p[38:])),
		}
	}
	return entries, nil
}

// snapshotEntries copies the state into snapshot form.
func (ps *producerState) snapshotEntries() []snapshotEntry {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	out := make([]snapshotEntry, 0, len(ps.producers))
	for id, e := range ps.producers {
		se := snapshotEntry{producerID: id, epoch: e.epoch, lastSeq: noSequence, lastOffset: -1,
			timestamp: e.lastTimestamp, coordinatorEpoch: e.coordinatorEpoch, txnFirstOffset: e.txnFirstOffset}
		if b, ok := e.last(); ok {
			se.lastSeq, se.lastOffset, se.offsetDelta = b.lastSeq, b.lastOffset, b.offsetDelta
		}
		out = append(out, se)
	}
	return out
}

// load replaces the state with a snapshot's entries. Caller holds appendMu.
func (ps *producerState) load(entries []snapshotEntry) {
	ps.reset()
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, se := range entries {
		e := newProducerEntry()
		e.epoch, e.coordinatorEpoch, e.txnFirstOffset, e.lastTimestamp = se.epoch, se.coordinatorEpoch, se.txnFirstOffset, se.timestamp
		if se.lastOffset >= 0 {
			e.addBatch(se.epoch, batchMetadata{lastSeq: se.lastSeq, offsetDelta: se.offsetDelta, lastOffset: se.lastOffset, timestamp: se.timestamp})
		}
		ps.producers[se.producerID] = &e
		if se.txnFirstOffset >= 0 {
			ps.txns = append(ps.txns, txnSpan{producerID: se.producerID, firstOffset: se.txnFirstOffset, lastOffset: noTxn})
		}
	}
	slices.SortFunc(ps.txns, func(a, b txnSpan) int { return cmpInt64(a.firstOffset, b.firstOffset) })
	ps.txnCount.Store(int32(len(ps.txns)))
}

// writeSnapshot writes the state as of offset (the log end offset) to dir.
func (ps *producerState) writeSnapshot(dir string, offset int64) error {
	if err := writeFileAtomic(snapshotPath(dir, offset), encodeSnapshot(ps.snapshotEntries())); err != nil {
		return fmt.Errorf("producer snapshot: %w", err)
	}
	return nil
}

// listSnapshots returns the offsets of dir's snapshot files, ascending.
func listSnapshots(dir string) ([]int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var offsets []int64
	for _, e := range entries {
		stem, ok := strings.CutSuffix(e.Name(), snapshotSuffix)
		if !ok || len(stem) != 20 {
			continue
		}
		if off, err := strconv.ParseInt(stem, 10, 64); err == nil {
			offsets = append(offsets, off)
		}
	}
	slices.Sort(offsets)
	return offsets, nil
}

// deleteSnapshots removes the snapshots whose offset satisfies doomed.
func deleteSnapshots(dir string, doomed func(offset int64) bool) error {
	offsets, err := listSnapshots(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, off := range offsets {
		if doomed(off) {
			if err := os.Remove(snapshotPath(dir, off)); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("remove producer snapshot: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}

// loadLatestSnapshot loads the newest snapshot at or below upTo into the state and
// returns its offset, or -1 when there is none (the state is then empty). A snapshot
// that fails its checks is deleted and the next older one tried, as Kafka does.
func (l *Log) loadLatestSnapshot(upTo int64) (int64, error) {
	offsets, err := listSnapshots(l.dir)
	if err != nil {
		return -1, err
	}
	for i := len(offsets) - 1; i >= 0; i-- {
		off := offsets[i]
		if off > upTo {
			continue
		}
		data, err := os.ReadFile(snapshotPath(l.dir, off))
		if err == nil {
			var entries []snapshotEntry
			if entries, err = decodeSnapshot(data); err == nil {
				l.producers.load(entries)
				return off, nil
			}
		}
		l.logger.Warn("deleting unreadable producer snapshot", "dir", l.dir, "offset", off, "err", err)
		if err := os.Remove(snapshotPath(l.dir, off)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return -1, fmt.Errorf("remove producer snapshot: %w", err)
		}
	}
	l.producers.reset()
	return -1, nil
}
