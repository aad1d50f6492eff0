package coordinator

import (
	"sync"

	"github.com/nagare-dev/nagare/internal/metadata"
	"github.com/nagare-dev/nagare/internal/partition"
)

// Partitions finds this broker's replicas; *partition.Registry is one.
type Partitions interface {
	Get(topic string, index int32) (*partition.Partition, bool)
}

// Shard is a coordinator's state for one led partition, as Shards needs it.
type Shard interface {
	// Ready is nil when the shard serves requests, else the error to answer with, in
	// its coordinator's words (loading, not available, not the coordinator).
	Ready() error
}

// Leader is a partition this broker leads: its local replica, and the leader epoch the
// metadata image gave it. A new epoch is a new leadership (the partition may have been
// led elsewhere meanwhile), so the shard is loaded again.
type Leader struct {
	Partition *partition.Partition
	Epoch     int32
}

// Config is what a Shards needs.
type Config[S Shard] struct {
	Topic      string // the internal topic
	NodeID     int32  // this broker
	Partitions Partitions
	// LocalLeaderOnly loads a partition only once its local replica has taken the
	// leadership the image gives it (the transaction coordinator: its loader reads to
	// the log end the new leader settled on); else the image alone decides.
	LocalLeaderOnly bool
	// Load starts loading a newly led partition, in the background, and returns its
	// shard, answering "loading" until it is read. Called with the Shards' lock held.
	Load func(index int32, led Leader) S
	// Unload stops serving a shard: its loader stops and its waiters are answered "not
	// the coordinator". Called with the Shards' lock held.
	Unload func(index int32, s S)
}

// Shards is a coordinator's shards, one per partition of its internal topic that this
// broker leads, kept in line with each metadata image: the coordinator says how to
// load and unload one, Shards says when, and which shard holds a key.
type Shards[S Shard] struct {
	cfg Config[S]

	mu      sync.RWMutex
	shards  map[int32]led[S] // guarded by mu
	count   int              // guarded by mu; the topic's partition count, 0 before it exists
	applied uint64           // guarded by mu; the index of the last image applied
	closed  bool             // guarded by mu
}

// led is a shard and the leadership it was loaded for.
type led[S Shard] struct {
	shard  S
	leader Leader
}

// NewShards returns a set that leads nothing until Apply says so.
func NewShards[S Shard](cfg Config[S]) *Shards[S] {
	return &Shards[S]{cfg: cfg, shards: map[int32]led[S]{}}
}

// Apply brings the shards in line with img: partitions this broker now leads start
// loading, partitions it no longer leads (or leads at a new epoch, or through a new
// replica) are unloaded. It reports false, doing nothing, for an image older than one
// already applied (callers race: the newest wins) or once closed. Safe to call often
// and from several goroutines.
func (s *Shards[S]) Apply(img *metadata.Image) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || img.Index() < s.applied {
		return false
	}
	s.applied = img.Index()
	leaders := map[int32]Leader{}
	s.count = 0
	if topic, ok := img.TopicByName(s.cfg.Topic); ok {
		s.count = len(topic.Partitions)
		for _, a := range topic.Partitions {
			if a.Leader != s.cfg.NodeID {
				continue
			}
			if p, ok := s.cfg.Partitions.Get(s.cfg.Topic, a.Partition); ok && (!s.cfg.LocalLeaderOnly || p.IsLeader()) {
				leaders[a.Partition] = Leader{Partition: p, Epoch: a.LeaderEpoch}
			}
		}
	}
	for index, l := range s.shards {
		if leader, ok := leaders[index]; !ok || leader != l.leader {
			delete(s.shards, index)
			s.cfg.Unload(index, l.shard)
		}
	}
	for index, leader := range leaders {
		if _, ok := s.shards[index]; !ok {
			s.shards[index] = led[S]{shard: s.cfg.Load(index, leader), leader: leader}
		}
	}
	return true
}

// Install serves sh as partition index of a topic of count partitions, with no image:
// for tests that keep a shard's records in memory.
func (s *Shards[S]) Install(index int32, count int, sh S) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shards[index], s.count = led[S]{shard: sh}, count
}

// For returns the shard that holds key (PartitionFor), or false when this broker does
// not lead its partition, the topic does not exist yet, or the set is closed. The
// shard may still be loading: ask its Ready.
func (s *Shards[S]) For(key string) (S, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed || s.count == 0 {
		var none S
		return none, false
	}
	l, ok := s.shards[PartitionFor(key, s.count)]
	return l.shard, ok
}

// Get returns the shard of partition index, if led here.
func (s *Shards[S]) Get(index int32) (S, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	l, ok := s.shards[index]
	return l.shard, ok
}

// Loaded returns the shards that serve requests, and whether any is still loading:
// one whose Ready is the coordinator's loading error.
func (s *Shards[S]) Loaded(loadInProgress error) (shards []S, loading bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, l := range s.shards {
		switch l.shard.Ready() {
		case nil:
			shards = append(shards, l.shard)
		case loadInProgress:
			loading = true
		}
	}
	return shards, loading
}

// Close unloads every shard; later Applies do nothing and For finds nothing. It
// reports false when already closed.
func (s *Shards[S]) Close() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.closed = true
	for index, l := range s.shards {
		delete(s.shards, index)
		s.cfg.Unload(index, l.shard)
	}
	return true
}
