package txn

import (
	"regexp"
	"slices"
	"strings"
	"time"
)

// Description is one transactional id as DescribeTransactions reports it.
type Description struct {
	TransactionalID string
	State           State
	Timeout         time.Duration
	StartTime       time.Time // zero when no transaction is ongoing
	ProducerID      int64
	ProducerEpoch   int16
	Partitions      []TopicPartition
}

// Describe returns the state of one transactional id this broker coordinates.
func (c *Coordinator) Describe(id string) (Description, error) {
	s, err := c.shardFor(id)
	if err != nil {
		return Description{}, err
	}
	t, err := s.get(id)
	if err != nil {
		return Description{}, err
	}
	if t == nil {
		return Description{}, ErrTransactionalIDNotFound
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.removed {
		return Description{}, ErrTransactionalIDNotFound
	}
	return describeLocked(t), nil
}

func describeLocked(t *transaction) Description {
	cur := t.cur
	return Description{TransactionalID: t.id, State: cur.state, Timeout: cur.timeout, StartTime: cur.startTime,
		ProducerID: cur.producerID, ProducerEpoch: cur.producerEpoch, Partitions: slices.Clone(cur.partitions)}
}

// ListFilter narrows ListTransactions; zero values match everything.
type ListFilter struct {
	States      []State
	ProducerIDs []int64
	MinDuration time.Duration        // v1: transactions running at least this long
	Pattern     *regexp.Regexp       // v2: transactional ids matching it
	Allowed     func(id string) bool // DESCRIBE on the id; nil allows all
}

// List returns the transactional ids of every loaded partition that match f, sorted
// by id. loading reports partitions still being loaded (their ids are left out;
// Kafka answers COORDINATOR_LOAD_IN_PROGRESS then).
func (c *Coordinator) List(f ListFilter) (out []Description, loading bool) {
	shards, loading := c.loaded()
	now := c.now()
	for _, s := range shards {
		for _, t := range s.all() {
			t.mu.Lock()
			d, removed := describeLocked(t), t.removed
			t.mu.Unlock()
			if !removed && f.matches(d, now) {
				out = append(out, d)
			}
		}
	}
	slices.SortFunc(out, func(a, b Description) int { return strings.Compare(a.TransactionalID, b.TransactionalID) })
	return out, loading
}

func (f ListFilter) matches(d Description, now time.Time) bool {
	if len(f.States) > 0 && !slices.Contains(f.States, d.State) {
		return false
	}
	if len(f.ProducerIDs) > 0 && !slices.Contains(f.ProducerIDs, d.ProducerID) {
		return false
	}
	if f.MinDuration > 0 && (d.State != Ongoing || now.Sub(d.StartTime) < f.MinDuration) {
		return false
	}
	if f.Pattern != nil && !f.Pattern.MatchString(d.TransactionalID) {
		return false
	}
	return f.Allowed == nil || f.Allowed(d.TransactionalID)
}
