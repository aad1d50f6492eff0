package broker

import "time"

// tuneScheduler gives the process's threads the scheduler slice nagare.sched.slice.us (0
// puts back the kernel's default). Under Linux's EEVDF scheduler a woken thread waits for
// the running one's slice (about 1.4 ms here by default) before it may preempt it, and on
// a kernel booted with preempt=none a thread inside a long system call (a pwrite of a
// follower's fetch, a sendfile) is only preempted at the call's next resched point after
// that; a broker thread woken to read a request therefore waits behind another's slice.
// A shorter slice lets it in sooner, at the cost of more context switches. Scheduler
// attributes are per thread and process-wide in effect, so only with Config.TuneRuntime
// (the broker owns the process); threads started later inherit them.
func (b *Broker) tuneScheduler() {
	us := b.conf.Int("nagare.sched.slice.us")
	n, err := setThreadSlices(time.Duration(us) * time.Microsecond)
	switch {
	case us == 0:
	case err != nil:
		b.logger.Warn("nagare.sched.slice.us not applied", "err", err)
	case n == 0:
		b.logger.Warn("nagare.sched.slice.us not applied: the kernel keeps no slice for normal threads (Linux 6.12 or later has them)")
	default:
		b.logger.Info("scheduler slice set for the broker's threads", "slice_us", us, "threads", n)
	}
}
