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
	"sync"
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
// the log past the snapshot. A snapshot is written atomically (temp file, rename) when a
// segment rolls and when the log closes; recovery loads the newest one it can trust and
// replays the log from there.
//
// At a roll the state is copied under the append lock and the file is written and
// fsynced by the flush that next moves the recovery point (flushSegments), as Kafka
// takes the snapshot at a roll and flushes it from its scheduler: writing and fsyncing
// it under the append lock held every append to the partition for a file create, a
// rename and two fsyncs (about 1.2 ms here) at each roll. Recovery stays correct: after
// a crash only snapshots at or below the recovery point are loaded, and the recovery
// point passes a roll snapshot only once it is durable; a truncation drops the pending
// snapshots past the new end with the files (deleteSnapshotsLocked).
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
	ps.txnVersion.Add(1)
}

// writeSnapshot writes the state as of offset (the log end offset) to dir, durably.
func (ps *producerState) writeSnapshot(dir string, offset int64) error {
	if err := writeFileAtomic(snapshotPath(dir, offset), encodeSnapshot(ps.snapshotEntries())); err != nil {
		return fmt.Errorf("producer snapshot: %w", err)
	}
	return nil
}

// maxPendingRollSnapshots bounds the roll snapshots awaiting the flusher. Each is a full
// encoding of the producer state (46 bytes a producer: tens of MB with a million
// producer ids), and they pile up while flushes fail or fall behind. Past the bound the
// oldest is dropped: recovery or a truncation then starts from an older snapshot and
// replays more of the log, which is slower but as correct. The newest are kept since
// they spare the most replay.
const maxPendingRollSnapshots = 3

// rollSnapshots are the producer snapshots taken at rolls and not yet on disk: the
// state is copied under the append lock, at the roll's offset, and the flusher writes
// and fsyncs it (writeRollSnapshots), off the append path.
type rollSnapshots struct {
	// writeMu is held while pending snapshots are written, and by whoever deletes
	// snapshots (under appendMu; lock order appendMu, then writeMu), so that a snapshot
	// being written when the log is truncated below it cannot appear after the
	// truncation deleted the snapshots past the new end.
	writeMu sync.Mutex
	mu      sync.Mutex     // guards pending; a roll never waits for a write in progress
	pending []rollSnapshot // oldest first; at most maxPendingRollSnapshots
}

type rollSnapshot struct {
	offset int64
	data   []byte // the encoded file
}

// takeRollSnapshotLocked copies the state as of offset (the new segment's base offset)
// for the flusher to write, dropping the oldest pending copy past
// maxPendingRollSnapshots. Caller holds appendMu, so the state is exactly that of the
// batches below offset.
func (l *Log) takeRollSnapshotLocked(offset int64) {
	data := encodeSnapshot(l.producers.snapshotEntries())
	r := &l.rollSnapshots
	r.mu.Lock()
	r.pending = append(r.pending, rollSnapshot{offset: offset, data: data})
	var dropped []int64
	for len(r.pending) > maxPendingRollSnapshots {
		dropped = append(dropped, r.pending[0].offset)
		// slices.Delete clears the vacated tail, so the dropped encoding can be freed.
		r.pending = slices.Delete(r.pending, 0, 1)
	}
	r.mu.Unlock()
	if len(dropped) > 0 {
		l.logger.Warn("dropping producer snapshots the flusher has not written; recovery will replay more of the log",
			"dir", l.dir, "offsets", dropped)
	}
}

// writeRollSnapshots writes and fsyncs the snapshots taken at rolls since the last call,
// before the caller moves the recovery point past them (recovery trusts only snapshots
// below it). A snapshot that fails is dropped, as a failed write at the roll was: a
// later recovery replays more of the log. Caller holds flushMu.
func (l *Log) writeRollSnapshots() error {
	r := &l.rollSnapshots
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	r.mu.Lock()
	pending := r.pending
	r.pending = nil
	r.mu.Unlock()
	var errs []error
	for _, s := range pending {
		if err := writeFileAtomic(snapshotPath(l.dir, s.offset), s.data); err != nil {
			errs = append(errs, fmt.Errorf("producer snapshot: %w", err))
		}
	}
	return errors.Join(errs...)
}

// deleteSnapshotsLocked removes the snapshots whose offset satisfies doomed, on disk
// and among those still to be written. It waits for a write in progress, which could
// otherwise recreate a doomed file after its deletion. Caller holds appendMu, or, for
// snapshots below the first kept segment (retention), swapMu, which keeps truncations and
// their reloads out.
func (l *Log) deleteSnapshotsLocked(doomed func(offset int64) bool) error {
	r := &l.rollSnapshots
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	r.mu.Lock()
	r.pending = slices.DeleteFunc(r.pending, func(s rollSnapshot) bool { return doomed(s.offset) })
	r.mu.Unlock()
	return deleteSnapshots(l.dir, doomed)
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
