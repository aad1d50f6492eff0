//go:build !linux

package log

import (
	"errors"
	"os"
)

var errNoPreallocation = errors.New("log: preallocation needs Linux")

// allocateKeepSize is Linux-only (fallocate(2)); elsewhere segments grow as written.
func allocateKeepSize(*os.File, int64, int64) error { return errNoPreallocation }

func isUnsupported(err error) bool { return errors.Is(err, errNoPreallocation) }
