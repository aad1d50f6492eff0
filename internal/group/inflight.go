package group

// A commit waits for the ISR to hold it (acks=all) without the group's lock, as
// Kafka's pending offset commits do: that wait is about a millisecond, but up to the
// write timeout when a follower stops fetching before it leaves the ISR, and under the
// lock it held up every heartbeat, join and fetch of the group meanwhile. A commit is
// written under the lock (so the log orders the group's writes as the lock does),
// registered here, waited for unlocked, and applied under the lock again, unless
// what the log holds after it says otherwise:
//   - a later commit of the same partition already applied (its append offset is
//     higher): that one stands, as it does in the log;
//   - a tombstone written for the partition after it (OffsetDelete, a deleted topic, a
//     deleted group): the offset is gone, as it will be when the log is loaded again.
// The group is not empty while commits are in flight, so it is not dropped meanwhile.

// inflightCommits is one partition's commits awaiting the ISR.
type inflightCommits struct {
	n         int   // commits written and not yet applied or failed
	removedAt int64 // append offset of the last tombstone written meanwhile; -1: none
}

// beginCommitsLocked registers commits just written at append offsets base, base+1, ...
// for the partitions given, in that order.
func (g *group) beginCommitsLocked(partitions []TopicPartition) {
	if g.inflight == nil {
		g.inflight = map[TopicPartition]*inflightCommits{}
	}
	for _, tp := range partitions {
		e := g.inflight[tp]
		if e == nil {
			e = &inflightCommits{removedAt: -1}
			g.inflight[tp] = e
		}
		e.n++
	}
}

// endCommitLocked unregisters one commit of tp written at appendOffset and reports
// whether it may be applied: nothing the log holds after it has replaced or removed it.
func (g *group) endCommitLocked(tp TopicPartition, appendOffset int64) bool {
	e := g.inflight[tp]
	if e == nil {
		return false // unreachable: every end has its begin
	}
	removed := e.removedAt > appendOffset
	if e.n--; e.n == 0 {
		delete(g.inflight, tp)
		if len(g.inflight) == 0 {
			g.inflight = nil
		}
	}
	if removed || g.state == Dead {
		return false
	}
	cur, ok := g.offsets[tp]
	return !ok || cur.appendOffset < appendOffset
}

// removedLocked records a tombstone for tp written at appendOffset, for the commits of
// tp still in flight.
func (g *group) removedLocked(tp TopicPartition, appendOffset int64) {
	if e := g.inflight[tp]; e != nil {
		e.removedAt = max(e.removedAt, appendOffset)
	}
}

// inflightOnlyLocked lists the partitions with commits in flight and no applied offset:
// a tombstone for the group's offsets must cover them too, or the commit, once in the
// log, would outlive the removal when the log is loaded again.
func (g *group) inflightOnlyLocked() []TopicPartition {
	var out []TopicPartition
	for tp := range g.inflight {
		if _, ok := g.offsets[tp]; !ok {
			out = append(out, tp)
		}
	}
	return out
}
