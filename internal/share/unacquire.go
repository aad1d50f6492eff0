package share

// Unacquire gives back records acquired for member that were never sent: a share
// fetch whose cold range was cut at its warm-up deadline. Unlike a release it undoes
// the delivery too, so a record the client never saw does not count toward
// group.share.delivery.count.limit. Offsets no longer held as acquired (a lock that
// expired meanwhile, then maybe acquired by another member) are left alone.
func (p *Partition) Unacquire(member string, ranges []AcquiredRange) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if p.w.unacquire(member, ranges) {
		p.notifyLocked()
	}
}

// unacquire makes ranges' offsets that member still holds, at the same delivery
// count, available with one delivery fewer; it reports whether any became available.
func (w *window) unacquire(member string, ranges []AcquiredRange) (released bool) {
	for _, a := range ranges {
		for o := max(a.FirstOffset, w.start); o <= a.LastOffset && o < w.end; o++ {
			r := w.at(o)
			if r.state != Acquired || r.owner != member || r.deliveries != a.DeliveryCount {
				continue
			}
			r.state, r.owner, r.deadline = Available, "", 0
			r.deliveries--
			released = true
		}
	}
	return released
}
