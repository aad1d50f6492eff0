package share

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Partition is one share-partition (Kafka's SharePartition), held by the leader of its
// topic partition. mu guards the window; writeMu orders snapshot writes, so the
// records of __share_group_state are in the order the state changed (a later
// snapshot never lands before an earlier one).
type Partition struct {
	key         Key
	topic       string
	leaderEpoch int32 // the data partition's leader epoch when loaded
	stateEpoch  int32 // the state epoch loaded; an operator's reset bumps it
	lim         Limits
	store       Store

	writeMu sync.Mutex

	mu      sync.Mutex
	w       window        // guarded by mu
	changed chan struct{} // guarded by mu; closed (and replaced) when records become available
	timer   *time.Timer   // guarded by mu; fires at the earliest lock deadline
	timerAt int64         // guarded by mu; when timer fires (unix ns), 0 when not armed
	closed  bool          // guarded by mu
}

func newPartition(key Key, topic string, leaderEpoch, stateEpoch int32, w window, lim Limits, store Store) *Partition {
	return &Partition{key: key, topic: topic, leaderEpoch: leaderEpoch, stateEpoch: stateEpoch, lim: lim, store: store, w: w,
		changed: make(chan struct{})}
}

// Key names the share-partition.
func (p *Partition) Key() Key { return p.key }

// Changed is closed when records become available without an append (a release,
// an expired lock): a waiting ShareFetch takes it before reading.
func (p *Partition) Changed() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.changed
}

func (p *Partition) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// FetchOffset is where the next acquiring read starts: the first available
// in-flight offset, else the end. logStart moves the start up when retention removed
// records not yet delivered.
func (p *Partition) FetchOffset(logStart int64) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.w.moveStart(logStart)
	p.expireLocked(time.Now())
	return p.w.firstAvailable()
}

// Acquire locks records of batches for member; see window.acquire.
func (p *Partition) Acquire(member string, batches []Batch, maxRecords int, now time.Time) []AcquiredRange {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	out := p.w.acquire(batches, member, maxRecords, p.lim, now, nil)
	if len(out) > 0 {
		p.armLocked(now.Add(p.lim.LockDuration).UnixNano())
	}
	return out
}

// Acknowledge applies a member's acknowledgements and writes the new state before it
// returns: an acknowledgement answered without an error is durable.
func (p *Partition) Acknowledge(ctx context.Context, member string, batches []AckBatch) error {
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrNotLeader
	}
	if err := p.w.validate(member, batches); err != nil {
		p.mu.Unlock()
		return err
	}
	if p.w.acknowledge(batches, p.lim) {
		p.notifyLocked()
	}
	snap := snapshotOf(&p.w, p.leaderEpoch, p.stateEpoch)
	p.mu.Unlock()
	if err := p.store.Write(ctx, p.key, snap); err != nil {
		if errors.Is(err, ErrFencedLeaderEpoch) || errors.Is(err, ErrFencedStateEpoch) {
			p.close() // stale: the Manager loads the share-partition again on next use
		}
		return fmt.Errorf("share: persisting %s/%x-%d: %w", p.key.Group, p.key.TopicID, p.key.Partition, err)
	}
	return nil
}

// ReleaseMember makes the records member holds available again (it left the group or
// closed its session). Not persisted: the locks were not either.
func (p *Partition) ReleaseMember(member string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.w.releaseMember(member, p.lim) {
		p.notifyLocked()
	}
}

// Stats is a share-partition as describe and the CLI show it.
type Stats struct {
	StartOffset int64
	EndOffset   int64
	Counts      [4]int // by RecordState
}

// Stats returns the start and end offsets and the in-flight counts.
func (p *Partition) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.expireLocked(time.Now())
	return Stats{StartOffset: p.w.start, EndOffset: p.w.end, Counts: p.w.counts()}
}

// expireLocked releases expired locks and re-arms the timer for the next deadline.
func (p *Partition) expireLocked(now time.Time) {
	released, next := p.w.expire(now, p.lim)
	if released {
		p.notifyLocked()
	}
	if next != 0 {
		p.armLocked(next)
	}
}

// armLocked makes sure the timer fires by deadline (unix nanoseconds).
func (p *Partition) armLocked(deadline int64) {
	if p.closed || (p.timerAt != 0 && p.timerAt <= deadline) {
		return // armed for sooner: onTimer re-arms for the rest
	}
	p.timerAt = deadline
	wait := time.Until(time.Unix(0, deadline))
	if p.timer == nil {
		p.timer = time.AfterFunc(wait, p.onTimer)
		return
	}
	p.timer.Reset(wait)
}

func (p *Partition) onTimer() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.timerAt = 0
	if !p.closed {
		p.expireLocked(time.Now())
	}
}

// isClosed reports whether the partition was closed (stale or unloaded).
func (p *Partition) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// close stops the timer and wakes waiters; the partition serves nothing after.
func (p *Partition) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	if p.timer != nil {
		p.timer.Stop()
	}
	p.notifyLocked()
}
