package log

import (
	"os"

	"golang.org/x/sys/unix"
)

// allocateKeepSize allocates n bytes of f from off without changing its size.
func allocateKeepSize(f *os.File, off, n int64) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		ferr = unix.Fallocate(int(fd), unix.FALLOC_FL_KEEP_SIZE, off, n)
	}); err != nil {
		return err
	}
	return ferr
}
