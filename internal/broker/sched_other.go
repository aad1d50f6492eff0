//go:build !linux

package broker

import (
	"errors"
	"time"
)

// setThreadSlices needs Linux's sched_setattr.
func setThreadSlices(time.Duration) (int, error) {
	return 0, errors.New("scheduler slices need Linux 6.12 or later")
}
