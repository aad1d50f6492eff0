package broker

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// setThreadSlices gives every thread of this process the EEVDF slice d (0: the kernel's
// default) and returns how many took it. Threads created later are cloned from these and
// inherit it. A kernel before 6.12 ignores sched_runtime for normal threads; reading it
// back tells.
func setThreadSlices(d time.Duration) (int, error) {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0, fmt.Errorf("list threads: %w", err)
	}
	set := 0
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		attr, err := unix.SchedGetAttr(tid, 0)
		if err != nil {
			continue // the thread exited meanwhile
		}
		if attr.Policy != unix.SCHED_NORMAL {
			continue // someone chose another policy for it; leave it
		}
		attr.Runtime = uint64(d.Nanoseconds())
		if err := unix.SchedSetAttr(tid, attr, 0); err != nil {
			return set, fmt.Errorf("sched_setattr thread %d: %w", tid, err)
		}
		if got, err := unix.SchedGetAttr(tid, 0); err == nil && (d == 0 || got.Runtime == uint64(d.Nanoseconds())) {
			set++
		}
	}
	return set, nil
}
