package readpath

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// copyBufferSize is the size of one pread in CopyRange.
const copyBufferSize = 64 << 10

var copyBuffers = sync.Pool{New: func() any {
	b := make([]byte, copyBufferSize)
	return &b
}}

// CopyRange writes length bytes of f starting at offset to w using positional reads
// (pread), so the file's shared offset is neither used nor moved. It is the fallback where
// sendfile is unavailable: other operating systems, and connections whose bytes must pass
// through user space (TLS). If latency is not nil, each pread's duration is recorded in it.
// A file shorter than offset+length yields an error wrapping io.ErrUnexpectedEOF.
func CopyRange(w io.Writer, f *os.File, offset, length int64, latency *Histogram) (int64, error) {
	if offset < 0 || length < 0 {
		return 0, fmt.Errorf("readpath: copy range of %s: %w", f.Name(), ErrInvalidRange)
	}
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	var written int64
	for written < length {
		buf := (*bp)[:min(int64(len(*bp)), length-written)]
		start := time.Now()
		n, err := f.ReadAt(buf, offset+written)
		if latency != nil {
			latency.Observe(time.Since(start))
		}
		if n > 0 {
			m, werr := w.Write(buf[:n])
			written += int64(m)
			if werr != nil {
				return written, fmt.Errorf("readpath: write range of %s: %w", f.Name(), werr)
			}
		}
		if n < len(buf) { // ReadAt returns a short count only with an error
			return written, shortFileError(f, offset, length, written, err)
		}
	}
	return written, nil
}

// ErrInvalidRange reports a negative offset or length.
var ErrInvalidRange = errors.New("readpath: invalid file range")

// shortFileError explains a read that ended before the range did; io.EOF becomes
// io.ErrUnexpectedEOF, since the caller promised the range exists.
func shortFileError(f *os.File, offset, length, written int64, err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("readpath: range [%d, %d) of %s ended after %d bytes: %w",
		offset, offset+length, f.Name(), written, err)
}
