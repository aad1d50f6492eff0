//go:build linux

package readpath

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// nullSink is where warm-up sends what it loads: /dev/null, whose splice path discards
// pages without copying them (the seed's FileChannel.transferTo to /dev/null).
type nullSink struct {
	file *os.File
	fd   int
}

func openNullSink() (*nullSink, error) {
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("readpath: open %s for warm-up: %w", os.DevNull, err)
	}
	return &nullSink{file: f, fd: int(f.Fd())}, nil
}

func (s *nullSink) Close() error { return s.file.Close() }

// load brings [offset, offset+length) of f into the page cache with sendfile(2) to
// /dev/null: the kernel reads the pages (waiting for the disk, and letting readahead see
// a sequential reader) and the null device drops them uncopied. Measured against
// splice(2) through a pipe to /dev/null (BenchmarkLoad in warm_bench_test.go), it is as
// fast cold and about twice as cheap warm: one syscall per chunk instead of two per pipe
// buffer. It holds a reference on f's descriptor, so a concurrent Close waits for it.
func (s *nullSink) load(f *os.File, offset, length int64) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("readpath: warm %s: %w", f.Name(), err)
	}
	var loadErr error
	ctlErr := rc.Control(func(in uintptr) {
		pos, end := offset, offset+length
		for pos < end {
			n, err := unix.Sendfile(s.fd, int(in), &pos, int(min(end-pos, maxSendfileChunk)))
			switch {
			case errors.Is(err, unix.EINTR):
				continue
			case err != nil:
				loadErr = err
				return
			case n == 0:
				loadErr = io.ErrUnexpectedEOF
				return
			}
		}
	})
	if ctlErr != nil {
		return fmt.Errorf("readpath: warm %s: %w", f.Name(), ctlErr)
	}
	if loadErr != nil {
		return fmt.Errorf("readpath: warm [%d, %d) of %s: %w", offset, offset+length, f.Name(), loadErr)
	}
	return nil
}

// Evict drops f's pages from the page cache, so the next read of it goes to the disk:
// fsync first (dirty pages cannot be dropped), then posix_fadvise(POSIX_FADV_DONTNEED).
// No privileges are needed. Pages that another process has mapped and locked stay. Tests
// and the coldread benchmark use it to make reads cold.
func Evict(f *os.File) error {
	if err := f.Sync(); err != nil {
		return fmt.Errorf("readpath: evict %s: %w", f.Name(), err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return fmt.Errorf("readpath: evict %s: fadvise: %w", f.Name(), err)
	}
	return nil
}
