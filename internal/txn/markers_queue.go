package txn

import "sync"

// markerQueue holds the marker jobs for one destination broker. Its goroutine takes
// everything queued at once, so the jobs that arrive while one request (or one local
// append and replication wait) is in flight go together in the next: batching grows
// with load, and an idle queue costs a parked goroutine.
type markerQueue struct {
	m      *markerSender
	leader int32
	wake   chan struct{} // capacity 1: something was pushed

	mu   sync.Mutex
	jobs []markerJob // guarded by mu
}

// queue returns the queue of a broker, starting its goroutine on first use; nil once
// closed.
func (m *markerSender) queue(leader int32) *markerQueue {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	if q := m.queues[leader]; q != nil {
		return q
	}
	q := &markerQueue{m: m, leader: leader, wake: make(chan struct{}, 1)}
	m.queues[leader] = q
	m.c.wg.Add(1)
	go func() {
		defer m.c.wg.Done()
		q.run()
	}()
	return q
}

func (q *markerQueue) push(j markerJob) {
	q.mu.Lock()
	q.jobs = append(q.jobs, j)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *markerQueue) take() []markerJob {
	q.mu.Lock()
	defer q.mu.Unlock()
	jobs := q.jobs
	q.jobs = nil
	return jobs
}

// run sends batches until the Coordinator closes; jobs left then are abandoned.
func (q *markerQueue) run() {
	stop := q.m.c.stop
	for {
		select {
		case <-stop:
			for _, j := range q.take() {
				q.m.answered(j.comp, j.parts, nil)
			}
			return
		case <-q.wake:
		}
		if jobs := q.take(); len(jobs) > 0 {
			q.send(jobs)
		}
	}
}

// send writes one batch of jobs and reports each job's outcome. Jobs of unloaded
// shards are not sent: their next coordinator completes them.
func (q *markerQueue) send(jobs []markerJob) {
	live := jobs[:0:0]
	for _, j := range jobs {
		if j.comp.s.ctx.Err() != nil {
			q.m.answered(j.comp, j.parts, nil)
			continue
		}
		live = append(live, j)
	}
	if len(live) == 0 {
		return
	}
	var out []jobResult
	if q.leader == q.m.c.cfg.NodeID {
		out = q.m.writeLocal(live)
	} else {
		out = q.m.sendRemote(q.leader, live)
	}
	for i, j := range live {
		q.m.answered(j.comp, out[i].failed, out[i].err)
	}
}

// jobResult is what a job's leader answered: partitions to send again, and
// errMarkersFenced when the coordinator or producer epoch was refused.
type jobResult struct {
	failed []TopicPartition
	err    error
}
