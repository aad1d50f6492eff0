//go:build linux

package readpath

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// fadviseDontNeed drops [offset, offset+length) of f from the page cache.
func fadviseDontNeed(f *os.File, offset, length int64) error {
	return unix.Fadvise(int(f.Fd()), offset, length, unix.FADV_DONTNEED)
}

// blockThread sleeps in a raw nanosleep(2), which holds its OS thread the way a
// sendfile waiting for the disk does (time.Sleep would park only the goroutine).
func blockThread(d time.Duration) {
	ts := unix.NsecToTimespec(d.Nanoseconds())
	for unix.Nanosleep(&ts, &ts) == unix.EINTR {
	}
}
