package metadata

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// FSM applies the metadata log to an Image: it is the raft.FSM of the metadata quorum. Raft
// calls Apply, Snapshot and Restore from one goroutine, so the FSM writes without locks;
// readers on any goroutine call Image, an atomic load.
//
// A record the FSM cannot decode (ErrUnknownRecord, ErrCorruptRecord) halts it: that record
// and every later one are refused, Err reports why, and Snapshot fails so that raft never
// compacts the unread records away; a newer binary, started on the same data, applies them.
// Skipping the record instead would leave this node serving metadata that silently differs
// from its peers'. Halting rather than panicking leaves the choice to exit to the broker,
// which learns of it through Store.Err, WaitReady and Propose.
type FSM struct {
	image    atomic.Pointer[Image]
	halt     atomic.Pointer[error] // the decode error that halted the FSM; nil while running
	logger   *slog.Logger
	onChange func() // called after each new Image is published, and on halting
}

var _ raft.FSM = (*FSM)(nil)

// NewFSM returns an FSM holding the empty Image. onChange (which may be nil) is called on
// raft's FSM goroutine after every change of Image or halt, so it must not block: Store uses
// it to wake watchers.
func NewFSM(logger *slog.Logger, onChange func()) *FSM {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if onChange == nil {
		onChange = func() {}
	}
	f := &FSM{logger: logger, onChange: onChange}
	f.image.Store(emptyImage)
	return f
}

// Image returns the current Image. It never returns nil.
func (f *FSM) Image() *Image { return f.image.Load() }

// Err returns the error that halted the FSM, or nil while it applies records.
func (f *FSM) Err() error {
	if p := f.halt.Load(); p != nil {
		return *p
	}
	return nil
}

// Apply implements raft.FSM. It returns nil when the record changed the Image and an error
// when it did not: a rule the record breaks (ErrTopicExists and kin; every replica rejects
// it alike, so the Images stay equal) or the halt error. Raft hands the value to the
// proposer's future, which Store.Propose returns.
func (f *FSM) Apply(l *raft.Log) interface{} {
	if err := f.Err(); err != nil {
		return err
	}
	rec, err := DecodeRecord(l.Data)
	if err != nil {
		err = fmt.Errorf("metadata: log index %d: %w", l.Index, err)
		f.halt.Store(&err)
		f.logger.Error("metadata log holds a record this version cannot apply; metadata is frozen at the last good record until a newer version runs",
			"index", l.Index, "err", err)
		f.onChange()
		return err
	}
	next, err := f.Image().apply(rec, l.Index)
	if err != nil {
		return err
	}
	f.image.Store(next)
	f.onChange()
	return nil
}

// Snapshot implements raft.FSM. The Image is immutable, so the snapshot is just the pointer
// and Persist may run on raft's snapshot goroutine while Apply goes on.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	if err := f.Err(); err != nil {
		return nil, fmt.Errorf("metadata: no snapshot while halted, so the unread records stay in the log: %w", err)
	}
	return imageSnapshot{f.Image()}, nil
}

// Restore implements raft.FSM: it replaces the Image with the one in the snapshot (see
// snapshot.go for the format). A snapshot that does not read is an error, which fails
// raft's start-up (raft then tries older snapshots) rather than starting from a wrong state.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	img, err := readSnapshot(bufio.NewReader(rc))
	if err != nil {
		return err
	}
	// A snapshot covers the records that halted us, if any: its state is whole again.
	f.halt.Store(nil)
	f.image.Store(img)
	f.onChange()
	return nil
}

// imageSnapshot is the raft.FSMSnapshot of one Image.
type imageSnapshot struct{ img *Image }

// Persist implements raft.FSMSnapshot.
func (s imageSnapshot) Persist(sink raft.SnapshotSink) error {
	w := bufio.NewWriterSize(sink, 64<<10)
	err := writeSnapshot(w, s.img)
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		return errors.Join(err, sink.Cancel())
	}
	return sink.Close()
}

// Release implements raft.FSMSnapshot; an Image holds nothing to release.
func (imageSnapshot) Release() {}
