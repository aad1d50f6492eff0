package readpath

// scheduler holds the jobs waiting for workers: a queue per client within each principal,
// principals served in turn and, within a principal, clients served in turn, one chunk per
// turn (two-level round robin). A principal with many client ids thus gets no more than
// one with a single client, and a client with a huge job gets no more than one with a
// small job. Within one client, jobs are loaded in the order they came. The Pool's mutex
// guards everything here.
type scheduler struct {
	principals []*principalQueue // in turn order; only those with queued jobs
	next       int               // index of the principal whose turn is next
	byName     map[string]*principalQueue
}

type principalQueue struct {
	name     string
	clients  []*clientQueue // in turn order; only those with queued jobs
	next     int            // index of the client whose turn is next
	byClient map[string]*clientQueue
}

type clientQueue struct {
	id   string
	jobs []*Job // FIFO; the head may be exhausted until the next take pops it
}

func (s *scheduler) init() { s.byName = make(map[string]*principalQueue) }

// push queues j behind its client's earlier jobs; a new principal or client joins the
// end of its ring, so it is served after those already waiting have had a turn.
func (s *scheduler) push(j *Job) {
	pq := s.byName[j.tenant.Principal]
	if pq == nil {
		pq = &principalQueue{name: j.tenant.Principal, byClient: make(map[string]*clientQueue)}
		s.byName[pq.name] = pq
		s.principals = append(s.principals, pq)
	}
	cq := pq.byClient[j.tenant.ClientID]
	if cq == nil {
		cq = &clientQueue{id: j.tenant.ClientID}
		pq.byClient[cq.id] = cq
		pq.clients = append(pq.clients, cq)
	}
	cq.jobs = append(cq.jobs, j)
}

// take hands out the next chunk in turn, dropping queues that have run dry.
func (s *scheduler) take() (chunk, bool) {
	for len(s.principals) > 0 {
		s.next %= len(s.principals)
		pq := s.principals[s.next]
		c, ok := pq.take()
		switch {
		case len(pq.clients) == 0:
			delete(s.byName, pq.name)
			s.principals = removeAt(s.principals, s.next) // next now names the following one
		case ok:
			s.next++
		}
		if ok {
			return c, true
		}
	}
	return chunk{}, false
}

func (pq *principalQueue) take() (chunk, bool) {
	for len(pq.clients) > 0 {
		pq.next %= len(pq.clients)
		cq := pq.clients[pq.next]
		c, ok := cq.take()
		switch {
		case len(cq.jobs) == 0:
			delete(pq.byClient, cq.id)
			pq.clients = removeAt(pq.clients, pq.next)
		case ok:
			pq.next++
		}
		if ok {
			return c, true
		}
	}
	return chunk{}, false
}

func (cq *clientQueue) take() (chunk, bool) {
	for len(cq.jobs) > 0 {
		j := cq.jobs[0]
		c, ok := j.nextChunkLocked()
		if !j.hasMoreLocked() {
			cq.jobs[0] = nil
			cq.jobs = cq.jobs[1:]
		}
		if ok {
			return c, true
		}
	}
	return chunk{}, false
}

// pending says whether any job may have chunks left to hand out (a queue whose jobs ran
// dry is only dropped by the take that finds it so).
func (s *scheduler) pending() bool { return len(s.principals) > 0 }

// drain empties the scheduler and returns every job still queued.
func (s *scheduler) drain() []*Job {
	var jobs []*Job
	for _, pq := range s.principals {
		for _, cq := range pq.clients {
			jobs = append(jobs, cq.jobs...)
		}
	}
	s.principals, s.next = nil, 0
	clear(s.byName)
	return jobs
}

func removeAt[T any](s []*T, i int) []*T {
	copy(s[i:], s[i+1:])
	s[len(s)-1] = nil
	return s[:len(s)-1]
}
