//go:build !linux

package readpath

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// nullSink has no zero-copy path on this build. The residency method here is
// MethodNone, so nothing is ever queued to warm; load still works (by pread into a
// discarded buffer) for a Config.Load-free Pool that someone forces to warm.
type nullSink struct{}

func openNullSink() (*nullSink, error) { return &nullSink{}, nil }

func (s *nullSink) Close() error { return nil }

func (s *nullSink) load(f *os.File, offset, length int64) error {
	_, err := CopyRange(io.Discard, f, offset, length, nil)
	return err
}

// ErrEvictUnsupported: this build cannot drop a file's pages from the page cache.
var ErrEvictUnsupported = errors.New("readpath: evicting from the page cache is not supported here")

// Evict is not supported on this build.
func Evict(f *os.File) error {
	return fmt.Errorf("readpath: evict %s: %w", f.Name(), ErrEvictUnsupported)
}
