//go:build !linux

package log

import (
	"errors"
	"os"
)

// allocateKeepSize is Linux-only (fallocate(2)); elsewhere segments grow as written.
func allocateKeepSize(*os.File, int64, int64) error {
	return errors.New("log: preallocation needs Linux")
}
