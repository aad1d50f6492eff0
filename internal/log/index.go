package log

import (
	"encoding/binary"
	"fmt"
	"os"
	"sort"
	"sync"
)

const (
	offsetEntrySize = 8  // relative offset int32, position int32
	timeEntrySize   = 12 // timestamp int64, relative offset int32
)

// index is one sparse index file (.index or .timeindex): fixed-size big-endian entries,
// kept in memory in file format for lookups and written to the file lazily (on flush,
// roll and close). A sealed segment's entries are read from disk on first lookup only,
// so a broker with many old segments pays memory for the ones that are read.
type index struct {
	path      string
	file      *os.File
	entrySize int
	maxBytes  int // preallocated size: segment.index.bytes rounded down to entrySize

	mu      sync.RWMutex
	buf     []byte // entries in file format; guarded by mu
	written int    // bytes of buf already written to file; guarded by mu
	loaded  bool   // buf holds every entry of the file; guarded by mu
}

// createIndex makes a new, empty, preallocated index file.
func createIndex(path string, entrySize, maxBytes int) (*index, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create index %s: %w", path, err)
	}
	ix := &index{path: path, file: f, entrySize: entrySize, maxBytes: roundDown(maxBytes, entrySize), loaded: true}
	if err := ix.preallocate(); err != nil {
		f.Close()
		return nil, err
	}
	return ix, nil
}

// openIndex opens an existing index file; its entries load on first use.
func openIndex(path string, entrySize, maxBytes int) (*index, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open index %s: %w", path, err)
	}
	return &index{path: path, file: f, entrySize: entrySize, maxBytes: roundDown(maxBytes, entrySize)}, nil
}

func roundDown(n, multiple int) int {
	if n < multiple {
		return multiple
	}
	return n - n%multiple
}

// preallocate sizes the file to maxBytes (sparse), as Kafka does for an active index.
func (ix *index) preallocate() error {
	if err := ix.file.Truncate(int64(ix.maxBytes)); err != nil {
		return fmt.Errorf("preallocate index %s: %w", ix.path, err)
	}
	return nil
}

// ensureLoaded reads the file's entries into memory if they are not there yet.
func (ix *index) ensureLoaded() error {
	ix.mu.RLock()
	loaded := ix.loaded
	ix.mu.RUnlock()
	if loaded {
		return nil
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.loadLocked()
}

func (ix *index) loadLocked() error {
	if ix.loaded {
		return nil
	}
	st, err := ix.file.Stat()
	if err != nil {
		return fmt.Errorf("stat index %s: %w", ix.path, err)
	}
	if st.Size()%int64(ix.entrySize) != 0 {
		return &CorruptionError{Path: ix.path, Position: st.Size(), Reason: "size is not a multiple of the entry size"}
	}
	buf := make([]byte, st.Size())
	if _, err := ix.file.ReadAt(buf, 0); err != nil {
		return fmt.Errorf("read index %s: %w", ix.path, err)
	}
	ix.buf, ix.written, ix.loaded = buf, len(buf), true
	return nil
}

// lastEntryOnDisk reads the file's last entry without loading the rest, for the
// start-up sanity check of sealed segments. ok is false when the file is empty.
func (ix *index) lastEntryOnDisk(dst []byte) (ok bool, err error) {
	st, err := ix.file.Stat()
	if err != nil {
		return false, fmt.Errorf("stat index %s: %w", ix.path, err)
	}
	size := st.Size()
	if size%int64(ix.entrySize) != 0 {
		return false, &CorruptionError{Path: ix.path, Position: size, Reason: "size is not a multiple of the entry size"}
	}
	if size == 0 {
		return false, nil
	}
	if _, err := ix.file.ReadAt(dst[:ix.entrySize], size-int64(ix.entrySize)); err != nil {
		return false, fmt.Errorf("read index %s: %w", ix.path, err)
	}
	return true, nil
}

// full reports whether another entry would exceed the preallocated size.
func (ix *index) full() bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.buf)+ix.entrySize > ix.maxBytes
}

// append adds one entry, given in file format.
func (ix *index) append(entry []byte) {
	ix.mu.Lock()
	ix.buf = append(ix.buf, entry...)
	ix.mu.Unlock()
}

// last copies the last entry into dst; ok is false when there is none.
func (ix *index) last(dst []byte) bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if len(ix.buf) == 0 {
		return false
	}
	copy(dst, ix.buf[len(ix.buf)-ix.entrySize:])
	return true
}

// floor returns the last entry for which before reports true (entries are sorted so that
// before is true for a prefix), copied into dst; ok is false when there is none.
func (ix *index) floor(dst []byte, before func(entry []byte) bool) (ok bool, err error) {
	var next [timeEntrySize]byte // the larger entry size
	ok, _, err = ix.around(dst, next[:ix.entrySize], before)
	return ok, err
}

// around is floor that also returns the entry after it (the first for which before is
// false) in next; hasNext is false when there is none.
func (ix *index) around(floor, next []byte, before func(entry []byte) bool) (hasFloor, hasNext bool, err error) {
	if err := ix.ensureLoaded(); err != nil {
		return false, false, err
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	n := len(ix.buf) / ix.entrySize
	i := sort.Search(n, func(i int) bool {
		return !before(ix.buf[i*ix.entrySize : (i+1)*ix.entrySize])
	})
	if i > 0 {
		copy(floor, ix.buf[(i-1)*ix.entrySize:i*ix.entrySize])
	}
	if i < n {
		copy(next, ix.buf[i*ix.entrySize:(i+1)*ix.entrySize])
	}
	return i > 0, i < n, nil
}

// reset empties the index, in memory and on disk, before recovery rebuilds it.
func (ix *index) reset() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.buf, ix.written, ix.loaded = ix.buf[:0], 0, true
	if err := ix.file.Truncate(0); err != nil {
		return fmt.Errorf("reset index %s: %w", ix.path, err)
	}
	return nil
}

// flush writes entries not yet in the file and fsyncs it.
func (ix *index) flush() error {
	if err := ix.writePending(); err != nil {
		return err
	}
	if err := ix.file.Sync(); err != nil {
		return fmt.Errorf("fsync index %s: %w", ix.path, err)
	}
	return nil
}

func (ix *index) writePending() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if !ix.loaded || ix.written == len(ix.buf) {
		return nil
	}
	if _, err := ix.file.WriteAt(ix.buf[ix.written:], int64(ix.written)); err != nil {
		return fmt.Errorf("write index %s: %w", ix.path, err)
	}
	ix.written = len(ix.buf)
	return nil
}

// trim writes pending entries and cuts the preallocated tail: done on roll and clean
// close so a sealed index file holds exactly its entries.
func (ix *index) trim() error {
	if err := ix.writePending(); err != nil {
		return err
	}
	ix.mu.RLock()
	loaded, size := ix.loaded, len(ix.buf)
	ix.mu.RUnlock()
	if !loaded {
		return nil // never touched since open: the file is already exact
	}
	if err := ix.file.Truncate(int64(size)); err != nil {
		return fmt.Errorf("trim index %s: %w", ix.path, err)
	}
	return nil
}

func (ix *index) close() error { return ix.file.Close() }

// Offset index entries.

func putOffsetEntry(dst []byte, relOffset, position int32) {
	binary.BigEndian.PutUint32(dst[0:], uint32(relOffset))
	binary.BigEndian.PutUint32(dst[4:], uint32(position))
}

func offsetEntry(b []byte) (relOffset, position int32) {
	return int32(binary.BigEndian.Uint32(b[0:])), int32(binary.BigEndian.Uint32(b[4:]))
}

// Time index entries.

func putTimeEntry(dst []byte, timestamp int64, relOffset int32) {
	binary.BigEndian.PutUint64(dst[0:], uint64(timestamp))
	binary.BigEndian.PutUint32(dst[8:], uint32(relOffset))
}

func timeEntry(b []byte) (timestamp int64, relOffset int32) {
	return int64(binary.BigEndian.Uint64(b[0:])), int32(binary.BigEndian.Uint32(b[8:]))
}
