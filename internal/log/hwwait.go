package log

import "slices"

// HighWatermarkWait is one wait for the high watermark to reach an offset: an acks=all
// produce, a coordinator's state write. Unlike WaitForAppend's channel it is not closed
// by appends, nor by steps of the high watermark short of its offset, so a write waiting
// for its followers wakes once, when it is committed. (With a shared channel every
// append and every step woke every waiting produce of the partition, to look and sleep
// again: on three brokers at 140k records/s, runnable goroutines that waited 1.3 s per 4 s
// for a P, and the p99 of acks=all with them.)
type HighWatermarkWait struct {
	l      *Log
	offset int64
	ch     chan struct{}
}

// WaitForHighWatermark returns a wait that is done once the high watermark is at or past
// offset, or when Wake or Close is called (leadership moved, the log closed: the waiter
// must look again, and treat Closed as leadership gone, or it would wait in a loop). Stop
// it when giving up before then.
func (l *Log) WaitForHighWatermark(offset int64) *HighWatermarkWait {
	w := &HighWatermarkWait{l: l, offset: offset, ch: make(chan struct{})}
	l.waitMu.Lock()
	defer l.waitMu.Unlock()
	// The flag before the check: an advance either sees the flag or moved the high
	// watermark before this check sees it (atomics are sequentially consistent).
	l.hwWaited.Store(true)
	if l.closed.Load() || l.HighWatermark() >= offset {
		close(w.ch)
		return w
	}
	l.hwWaiters = append(l.hwWaiters, w)
	return w
}

// Done is closed when the wait is over.
func (w *HighWatermarkWait) Done() <-chan struct{} { return w.ch }

// Stop drops a wait that is no longer wanted (its request timed out or went away), so a
// high watermark that stays behind does not collect waits.
func (w *HighWatermarkWait) Stop() {
	l := w.l
	l.waitMu.Lock()
	defer l.waitMu.Unlock()
	for i, o := range l.hwWaiters {
		if o == w {
			l.hwWaiters = slices.Delete(l.hwWaiters, i, i+1)
			return
		}
	}
}

// wakeHighWatermark ends the waits the high watermark now covers, or every wait.
func (l *Log) wakeHighWatermark(all bool) {
	if !l.hwWaited.Load() {
		return
	}
	l.waitMu.Lock()
	defer l.waitMu.Unlock()
	hw := l.HighWatermark()
	kept := l.hwWaiters[:0]
	for _, w := range l.hwWaiters {
		if all || w.offset <= hw {
			close(w.ch)
		} else {
			kept = append(kept, w)
		}
	}
	clear(l.hwWaiters[len(kept):])
	l.hwWaiters = kept
	l.hwWaited.Store(len(kept) > 0)
}
