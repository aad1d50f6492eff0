//go:build !linux

package readpath

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// SendFile writes length bytes of f starting at offset to conn. This build has no
// positional sendfile wired in, so it copies with pread and write (CopyRange); the file's
// shared offset is still neither used nor moved. conn must also be an io.Writer, as every
// net.Conn is. A file shorter than offset+length yields an error wrapping
// io.ErrUnexpectedEOF.
func SendFile(conn syscall.Conn, f *os.File, offset, length int64) (int64, error) {
	return SendFileObserved(conn, f, offset, length, nil)
}

// SendFileObserved is SendFile that records the duration of each pread in latency (when
// not nil).
func SendFileObserved(conn syscall.Conn, f *os.File, offset, length int64, latency *Histogram) (int64, error) {
	w, ok := conn.(io.Writer)
	if !ok {
		return 0, fmt.Errorf("readpath: sendfile: %T is not an io.Writer", conn)
	}
	return CopyRange(w, f, offset, length, latency)
}
