//go:build !linux

package readpath

import (
	"errors"
	"os"
	"time"
)

func fadviseDontNeed(*os.File, int64, int64) error { return errors.ErrUnsupported }

func blockThread(d time.Duration) { time.Sleep(d) }
