//go:build linux

package readpath

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// maxSendfileChunk bounds one sendfile call, as the Go runtime does, so that one call
// never holds an OS thread for a whole huge range.
const maxSendfileChunk = 4 << 20

// SendFile writes length bytes of f starting at offset to conn with sendfile(2), the
// kernel copying from the page cache to the socket. It passes an explicit offset, so the
// file's shared offset is neither used nor moved and any number of connections may send
// ranges of one file at once (net.TCPConn.ReadFrom would use and move it). When the
// socket buffer is full it parks in the network poller, honouring conn's write deadline.
// A file shorter than offset+length yields an error wrapping io.ErrUnexpectedEOF.
func SendFile(conn syscall.Conn, f *os.File, offset, length int64) (int64, error) {
	return SendFileObserved(conn, f, offset, length, nil)
}

// SendFileObserved is SendFile that records the duration of each sendfile(2) call in
// latency (when not nil). Time spent waiting for the socket to drain is excluded: the
// histogram shows what the kernel spent copying, and so whether ranges were resident.
func SendFileObserved(conn syscall.Conn, f *os.File, offset, length int64, latency *Histogram) (int64, error) {
	if offset < 0 || length < 0 {
		return 0, fmt.Errorf("readpath: sendfile of %s: %w", f.Name(), ErrInvalidRange)
	}
	if length == 0 {
		return 0, nil
	}
	dst, err := conn.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("readpath: sendfile: socket: %w", err)
	}
	src, err := f.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("readpath: sendfile: file %s: %w", f.Name(), err)
	}
	s := sendfileState{pos: offset, end: offset + length, latency: latency}
	// Control holds a reference on the file's descriptor, so a concurrent Close of f
	// cannot hand the number to another file while the kernel uses it.
	ctlErr := src.Control(func(in uintptr) {
		s.waitErr = dst.Write(func(out uintptr) bool { return s.step(int(out), int(in)) })
	})
	written := s.pos - offset
	switch {
	case ctlErr != nil:
		return written, fmt.Errorf("readpath: sendfile: file %s: %w", f.Name(), ctlErr)
	case s.err != nil:
		return written, sendfileError(f, offset, length, written, s.err)
	case s.waitErr != nil:
		return written, fmt.Errorf("readpath: sendfile of %s: %w", f.Name(), s.waitErr)
	}
	return written, nil
}

// sendfileState carries one SendFile across the poller's callbacks.
type sendfileState struct {
	pos, end int64      // next file position to send; end of the range
	latency  *Histogram // may be nil
	err      error      // from sendfile(2) itself
	waitErr  error      // from waiting on the socket (closed, deadline)
}

// step sends as much as the socket takes. It returns false to ask the poller to wait
// until the socket is writable again, true when the range is sent or failed.
func (s *sendfileState) step(out, in int) bool {
	for s.pos < s.end {
		start := time.Now()
		n, err := unix.Sendfile(out, in, &s.pos, int(min(s.end-s.pos, maxSendfileChunk)))
		if s.latency != nil && !errors.Is(err, unix.EAGAIN) { // a full socket says nothing of the disk
			s.latency.Observe(time.Since(start))
		}
		switch {
		case errors.Is(err, unix.EAGAIN):
			return false // the kernel advanced s.pos by what it sent, if anything
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			s.err = err
			return true
		case n == 0:
			s.err = io.ErrUnexpectedEOF // offset reached the end of the file
			return true
		}
	}
	return true
}

func sendfileError(f *os.File, offset, length, written int64, err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return shortFileError(f, offset, length, written, err)
	}
	return fmt.Errorf("readpath: sendfile of range [%d, %d) of %s after %d bytes: %w",
		offset, offset+length, f.Name(), written, err)
}
