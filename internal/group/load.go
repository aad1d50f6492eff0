package group

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/config"
	"github.com/nagare-dev/nagare/internal/coordinator"
	"github.com/nagare-dev/nagare/internal/log"
	"github.com/nagare-dev/nagare/internal/partition"
)

// shardState is where a led offsets partition is in its life.
type shardState int8

const (
	shardLoading  shardState = iota // reading the log; requests get COORDINATOR_LOAD_IN_PROGRESS
	shardLoaded                     // serving
	shardFailed                     // the log did not decode; COORDINATOR_NOT_AVAILABLE
	shardUnloaded                   // no longer led here; NOT_COORDINATOR
)

// storage is what a shard writes to: its partition (a *partition.Partition), or a
// test's memory.
type storage interface {
	Append(records []byte, acks int16, now time.Time) (log.AppendResult, error)
	Config() config.Topic
}

// shard is one __consumer_offsets partition this broker leads, and its groups.
type shard struct {
	coord       *Coordinator
	index       int32
	part        *partition.Partition // nil in tests that write to memory
	store       storage
	leaderEpoch int32
	cancel      context.CancelFunc // stops the loader

	mu     sync.RWMutex
	state  shardState        // guarded by mu
	err    error             // guarded by mu; why loading failed
	groups map[string]*group // guarded by mu
	// completedWhileLoading are transaction outcomes whose markers were written after
	// the loader took its end offset; applied when loading finishes. Guarded by mu.
	completedWhileLoading []txnOutcome
}

// Ready says whether the shard serves requests, and if not, the error to answer with.
func (s *shard) Ready() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	switch s.state {
	case shardLoaded:
		return nil
	case shardLoading:
		return ErrLoadInProgress
	case shardFailed:
		return fmt.Errorf("%w: %v", ErrCoordinatorNotAvailable, s.err)
	default:
		return ErrNotCoordinator
	}
}

// get returns a group, creating an empty one if create is set; nil if there is none.
func (s *shard) get(id string, create bool) (*group, error) {
	s.mu.RLock()
	g, state := s.groups[id], s.state
	s.mu.RUnlock()
	if g != nil || !create {
		return g, nil
	}
	if state != shardLoaded {
		return nil, s.Ready()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != shardLoaded {
		return nil, ErrNotCoordinator // unloaded since
	}
	if g = s.groups[id]; g == nil {
		g = newGroup(s.coord, s, id, s.coord.now())
		s.groups[id] = g
	}
	return g, nil
}

// remove drops g from the shard if it is still the group under its id. Called with g's
// lock held (the lock order is group, then shard).
func (s *shard) remove(g *group) {
	s.mu.Lock()
	if s.groups[g.id] == g {
		delete(s.groups, g.id)
	}
	s.mu.Unlock()
}

// all returns the shard's groups.
func (s *shard) all() []*group {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*group, 0, len(s.groups))
	for _, g := range s.groups {
		out = append(out, g)
	}
	return out
}

// unload marks the shard as no longer served and returns its groups for the caller to
// kill.
func (s *shard) unload() []*group {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state = shardUnloaded
	out := make([]*group, 0, len(s.groups))
	for _, g := range s.groups {
		out = append(out, g)
	}
	s.groups = map[string]*group{}
	return out
}

// append writes records to the shard's partition as one append of uncompressed
// batches, with acks=all semantics: it returns once the records are committed.
func (s *shard) append(records []record, now time.Time) error {
	_, err := s.appendAt(records, now, coordinator.Producer{})
	return err
}

// appendAt is append for a producer, returning the offset of the first record (the
// others follow it one by one).
func (s *shard) appendAt(records []record, now time.Time, producer coordinator.Producer) (int64, error) {
	res, err := s.write(records, now, producer)
	if err != nil {
		return 0, err
	}
	if err := s.awaitISR(res.LastOffset); err != nil {
		return 0, err
	}
	return res.BaseOffset, nil
}

// write appends records as one append of uncompressed batches and returns where they
// went, without waiting for the ISR: the caller does that with awaitISR before it
// answers, perhaps without the group's lock (inflight.go).
func (s *shard) write(records []record, now time.Time, producer coordinator.Producer) (log.AppendResult, error) {
	batches, err := encodeProducerBatches(records, now, s.store.Config().MaxMessageBytes, producer)
	if err != nil {
		return log.AppendResult{}, err
	}
	appendFn := s.store.Append
	if c, ok := s.store.(coordinatorStorage); ok && producer.Transactional {
		appendFn = func(b []byte, _ int16, now time.Time) (log.AppendResult, error) { return c.AppendAsCoordinator(b, now) }
	}
	res, err := appendFn(batches, -1, now)
	if err != nil {
		return log.AppendResult{}, storageError(err)
	}
	return res, nil
}

// awaitISR waits until the ISR holds the partition up to lastOffset. The append only
// checked min.insync.replicas; acks=all also needs the ISR to hold the records before
// they count, or a commit acknowledged here dies with this broker. A leadership that
// moves meanwhile ends the wait (NOT_COORDINATOR).
func (s *shard) awaitISR(lastOffset int64) error {
	if s.part == nil {
		return nil
	}
	if err := s.part.AwaitCommitted(context.Background(), s.leaderEpoch, lastOffset, s.coord.cfg.Settings.WriteTimeout); err != nil {
		return storageError(err)
	}
	return nil
}

// coordinatorStorage is a partition that takes a coordinator's transactional batches:
// the producer's epoch is checked (an older one is fenced), its sequence is not, since
// the coordinator writes sequence 0 every time, as Kafka's does.
type coordinatorStorage interface {
	AppendAsCoordinator(records []byte, now time.Time) (log.AppendResult, error)
}

// storageError turns a failed append into what Kafka's coordinator answers: the client
// retries, or looks for the coordinator again.
func storageError(err error) error {
	switch {
	case errors.Is(err, partition.ErrNotEnoughReplicas), errors.Is(err, partition.ErrNotReplicated):
		return fmt.Errorf("%w: %v", ErrCoordinatorNotAvailable, err)
	case errors.Is(err, log.ErrClosed), errors.Is(err, partition.ErrNotLeader):
		return fmt.Errorf("%w: %v", ErrNotCoordinator, err)
	case errors.Is(err, log.ErrBatchTooLarge):
		return fmt.Errorf("%w: %v", ErrCommitTooLarge, err)
	default:
		return fmt.Errorf("%w: writing %s: %v", ErrCoordinatorNotAvailable, OffsetsTopic, err)
	}
}

// loadLocked starts loading a newly led partition in the background and returns its
// shard, in the loading state until the log has been read. Called by Shards.Apply with
// its lock held, so Close cannot begin waiting for loaders before this one is counted.
func (c *Coordinator) loadLocked(index int32, led coordinator.Leader) *shard {
	p, epoch := led.Partition, led.Epoch
	ctx, cancel := context.WithCancel(context.Background())
	s := &shard{coord: c, index: index, part: p, store: p, leaderEpoch: epoch, cancel: cancel, state: shardLoading, groups: map[string]*group{}}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		start := time.Now()
		groups, err := c.readShard(ctx, s)
		s.mu.Lock()
		if s.state != shardLoading {
			s.mu.Unlock()
			return // unloaded meanwhile
		}
		if err != nil {
			s.state, s.err = shardFailed, err
			s.mu.Unlock()
			c.logger.Error("loading offsets partition failed", "partition", index, "err", err)
			return
		}
		loaded := make([]*group, 0, len(groups))
		for _, g := range groups {
			loaded = append(loaded, g)
		}
		s.groups = groups
		s.state = shardLoaded
		late := s.completedWhileLoading
		s.completedWhileLoading = nil
		s.mu.Unlock()
		for _, o := range late {
			s.completeTxn(o)
		}
		c.activate(loaded)
		c.logger.Info("became coordinator", "partition", index, "groups", len(loaded), "took", time.Since(start))
	}()
	return s
}

// readShard reads the partition from its log start to its log end and rebuilds its
// groups. Not to the high watermark: a new leader may not know yet that the last
// commits of its predecessor are committed (its followers' next fetches tell it), and
// stopping there would lose them for good, since the shard is read once. Its log end is
// what its followers will match, as Kafka's coordinator reads to the log end.
func (c *Coordinator) readShard(ctx context.Context, s *shard) (map[string]*group, error) {
	st := newLoadState()
	err := coordinator.Replay(ctx, s.part, s.part.Log().LogEndOffset(), ErrCorruptRecord, func(b kmsg.RecordBatch) error {
		return decodeBatch(b, st.apply)
	})
	if err != nil {
		return nil, err
	}
	return st.build(c, s)
}

// loadState accumulates the latest record of every key while loading.
type loadState struct {
	metadata map[string]*kmsg.GroupMetadataValue // nil value: deleted
	offsets  map[string]map[TopicPartition]committed
	// pending are transactional offsets by producer id and group, until their marker.
	pending map[int64]map[string]map[TopicPartition]committed
}

func newLoadState() *loadState {
	return &loadState{metadata: map[string]*kmsg.GroupMetadataValue{}, offsets: map[string]map[TopicPartition]committed{},
		pending: map[int64]map[string]map[TopicPartition]committed{}}
}

// apply folds one record into the state; later records replace earlier ones.
func (st *loadState) apply(offset int64, r record) error {
	if r.control {
		st.completeTxn(r.producerID, r.commit)
		return nil
	}
	if len(r.key) < 2 {
		return fmt.Errorf("%w: key of %d bytes at offset %d", ErrCorruptRecord, len(r.key), offset)
	}
	switch version := int16(uint16(r.key[0])<<8 | uint16(r.key[1])); version {
	case 0, 1:
		var k kmsg.OffsetCommitKey
		if err := k.ReadFrom(r.key); err != nil {
			return fmt.Errorf("%w: offset key at %d: %v", ErrCorruptRecord, offset, err)
		}
		tp := TopicPartition{Topic: k.Topic, Partition: k.Partition}
		if r.value == nil {
			delete(st.offsets[k.Group], tp)
			return nil
		}
		var v kmsg.OffsetCommitValue
		if err := v.ReadFrom(r.value); err != nil {
			return fmt.Errorf("%w: offset value at %d: %v", ErrCorruptRecord, offset, err)
		}
		o := committed{offset: v.Offset, leaderEpoch: -1, metadata: v.Metadata, commitTime: time.UnixMilli(v.CommitTimestamp), appendOffset: offset}
		if v.Version >= 3 {
			o.leaderEpoch = v.LeaderEpoch
		}
		if v.Version == 1 && v.ExpireTimestamp >= 0 {
			o.expireTime = time.UnixMilli(v.ExpireTimestamp)
		}
		if r.transactional {
			st.stage(r.producerID, k.Group, tp, o)
			return nil
		}
		if st.offsets[k.Group] == nil {
			st.offsets[k.Group] = map[TopicPartition]committed{}
		}
		st.offsets[k.Group][tp] = o
	case 2:
		var k kmsg.GroupMetadataKey
		if err := k.ReadFrom(r.key); err != nil {
			return fmt.Errorf("%w: group key at %d: %v", ErrCorruptRecord, offset, err)
		}
		if r.value == nil {
			st.metadata[k.Group] = nil
			delete(st.offsets, k.Group) // a deleted group's offsets were tombstoned before it
			return nil
		}
		v := new(kmsg.GroupMetadataValue)
		if err := v.ReadFrom(r.value); err != nil {
			return fmt.Errorf("%w: group value at %d: %v", ErrCorruptRecord, offset, err)
		}
		st.metadata[k.Group] = v
	default:
		// Kafka's KIP-848 consumer group records (key v3+): kmsg has no schemas for
		// them and Nagare does not write them; skipped (members rejoin).
	}
	return nil
}

// build turns the loaded records into groups: a group with members comes back Stable
// with each member's session restarted, as Kafka's coordinator does after failover.
func (st *loadState) build(c *Coordinator, s *shard) (map[string]*group, error) {
	now := c.now()
	groups := map[string]*group{}
	for id, v := range st.metadata {
		if v == nil {
			continue
		}
		g := newGroup(c, s, id, now)
		g.protocolType, g.generation = v.ProtocolType, v.Generation
		if v.Protocol != nil {
			g.protocol = *v.Protocol
		}
		if v.Leader != nil {
			g.leader = *v.Leader
		}
		if v.Version >= 2 && v.CurrentStateTimestamp >= 0 {
			g.stateTime = time.UnixMilli(v.CurrentStateTimestamp)
		}
		for _, vm := range v.Members {
			g.memberSeq++
			m := &member{id: vm.MemberID, clientID: vm.ClientID, clientHost: vm.ClientHost,
				sessionTimeout: time.Duration(vm.SessionTimeoutMillis) * time.Millisecond,
				protocolType:   v.ProtocolType, assignment: vm.Assignment, joinedAt: g.memberSeq,
				protocols: []Protocol{{Name: g.protocol, Metadata: vm.Subscription}}}
			m.rebalanceTimeout = m.sessionTimeout
			if vm.RebalanceTimeoutMillis > 0 {
				m.rebalanceTimeout = time.Duration(vm.RebalanceTimeoutMillis) * time.Millisecond
			}
			if vm.InstanceID != nil {
				m.instanceID = *vm.InstanceID
				g.static[m.instanceID] = m.id
			}
			g.members[m.id] = m
		}
		if len(g.members) > 0 {
			g.state = Stable
			g.subscribed = g.computeSubscribedLocked()
		} else {
			g.protocol, g.leader = "", ""
		}
		groups[id] = g
	}
	for id, offsets := range st.offsets {
		if len(offsets) == 0 {
			continue
		}
		g := groups[id]
		if g == nil {
			g = newGroup(c, s, id, now)
			groups[id] = g
		}
		g.offsets = offsets
	}
	st.buildPending(c, s, groups, now)
	return groups, nil
}

// activate starts the session timers of loaded members.
func (c *Coordinator) activate(groups []*group) {
	for _, g := range groups {
		g.lock()
		if g.state != Dead {
			for _, m := range g.members {
				g.touchLocked(m)
			}
		}
		g.unlock()
	}
}
