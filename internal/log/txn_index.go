package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
)

// The transaction index (Kafka's TransactionIndex, <base>.txnindex): one 34-byte entry
// per transaction aborted by a marker in the segment, in marker order:
//
//	offset  size  field
//	0       2     version            0
//	2       8     producerId
//	10      8     firstOffset        the transaction's first offset
//	18      8     lastOffset         the abort marker's offset
//	26      8     lastStableOffset   the LSO once the marker was written
//
// A read_committed fetch returns the entries overlapping its range, so the consumer can
// drop the aborted records. The file is created with the segment's first entry; the
// entries are also kept in memory (they are few: one per aborted transaction).
const txnEntrySize = 34

// AbortedTxn is one aborted transaction as the transaction index records it.
type AbortedTxn struct {
	ProducerID       int64
	FirstOffset      int64
	LastOffset       int64
	LastStableOffset int64
}

// txnIndex is one segment's transaction index. A nil *txnIndex holds nothing and
// ignores writes (the cleaner's offset-map walk uses one).
type txnIndex struct {
	path string

	mu      sync.RWMutex
	entries []AbortedTxn // guarded by mu
	file    *os.File     // guarded by mu; nil until the first entry
	dirty   bool         // guarded by mu; written since the last fsync
}

// openTxnIndex loads path if it exists; entries past a torn or unknown tail are dropped.
func openTxnIndex(path string) (*txnIndex, error) {
	ix := &txnIndex{path: path}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return ix, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	for pos := 0; pos+txnEntrySize <= len(data); pos += txnEntrySize {
		e := data[pos:]
		if binary.BigEndian.Uint16(e) != 0 {
			break
		}
		ix.entries = append(ix.entries, AbortedTxn{
			ProducerID:       int64(binary.BigEndian.Uint64(e[2:])),
			FirstOffset:      int64(binary.BigEndian.Uint64(e[10:])),
			LastOffset:       int64(binary.BigEndian.Uint64(e[18:])),
			LastStableOffset: int64(binary.BigEndian.Uint64(e[26:])),
		})
	}
	if len(ix.entries)*txnEntrySize != len(data) {
		return ix, ix.rewrite()
	}
	return ix, nil
}

// appendIfNew adds t unless the index already holds it or a later marker (recovery
// replays markers the index may already have).
func (ix *txnIndex) appendIfNew(t AbortedTxn) error {
	if ix == nil {
		return nil
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if n := len(ix.entries); n > 0 && ix.entries[n-1].LastOffset >= t.LastOffset {
		return nil
	}
	if ix.file == nil {
		f, err := os.OpenFile(ix.path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("create %s: %w", ix.path, err)
		}
		ix.file = f
	}
	var e [txnEntrySize]byte
	putTxnEntry(e[:], t)
	if _, err := ix.file.WriteAt(e[:], int64(len(ix.entries))*txnEntrySize); err != nil {
		return fmt.Errorf("append to %s: %w", ix.path, err)
	}
	ix.entries = append(ix.entries, t)
	ix.dirty = true
	return nil
}

func putTxnEntry(e []byte, t AbortedTxn) {
	binary.BigEndian.PutUint16(e, 0)
	binary.BigEndian.PutUint64(e[2:], uint64(t.ProducerID))
	binary.BigEndian.PutUint64(e[10:], uint64(t.FirstOffset))
	binary.BigEndian.PutUint64(e[18:], uint64(t.LastOffset))
	binary.BigEndian.PutUint64(e[26:], uint64(t.LastStableOffset))
}

// collect appends the entries overlapping [from, upTo) to out and reports whether the
// search can stop here: an entry's last stable offset reaching upTo means no later
// segment holds a transaction that began before upTo (Kafka's collectAbortedTxns).
func (ix *txnIndex) collect(out []AbortedTxn, from, upTo int64) ([]AbortedTxn, bool) {
	if ix == nil {
		return out, false
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	for _, t := range ix.entries {
		if t.LastOffset >= from && t.FirstOffset < upTo {
			out = append(out, t)
		}
		if t.LastStableOffset >= upTo {
			return out, true
		}
	}
	return out, false
}

// truncateTo drops the entries whose marker is at or past offset.
func (ix *txnIndex) truncateTo(offset int64) error {
	if ix == nil {
		return nil
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	n := len(ix.entries)
	for n > 0 && ix.entries[n-1].LastOffset >= offset {
		n--
	}
	if n == len(ix.entries) {
		return nil
	}
	ix.entries = ix.entries[:n]
	return ix.rewriteLocked()
}

func (ix *txnIndex) rewrite() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.rewriteLocked()
}

// rewriteLocked cuts the file to the entries kept in memory.
func (ix *txnIndex) rewriteLocked() error {
	if ix.file == nil {
		f, err := os.OpenFile(ix.path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("open %s: %w", ix.path, err)
		}
		ix.file = f
	}
	if err := ix.file.Truncate(int64(len(ix.entries)) * txnEntrySize); err != nil {
		return fmt.Errorf("truncate %s: %w", ix.path, err)
	}
	ix.dirty = true
	return nil
}

// flush fsyncs the file if it changed.
func (ix *txnIndex) flush() error {
	if ix == nil {
		return nil
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if !ix.dirty || ix.file == nil {
		return nil
	}
	if err := ix.file.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", ix.path, err)
	}
	ix.dirty = false
	return nil
}

func (ix *txnIndex) close() {
	if ix == nil {
		return
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.file != nil {
		ix.file.Close()
		ix.file = nil
	}
}
