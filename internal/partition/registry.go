package partition

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nagare-dev/nagare/internal/config"
	"github.com/nagare-dev/nagare/internal/log"
	"github.com/nagare-dev/nagare/internal/metadata"
)

// Registry is this broker's set of partitions, kept in step with the metadata image.
type Registry struct {
	nodeID int32
	logs   *log.Manager
	broker *config.Broker
	logger *slog.Logger

	syncMu sync.Mutex                                        // serializes Sync
	parts  atomic.Pointer[map[log.TopicPartition]*Partition] // replaced whole by Sync
	isrDue chan struct{}                                     // a follower can rejoin an ISR (ISRChecks)
}

// NewRegistry returns an empty registry over the data dir's logs.
func NewRegistry(nodeID int32, logs *log.Manager, broker *config.Broker, logger *slog.Logger) *Registry {
	r := &Registry{nodeID: nodeID, logs: logs, broker: broker, logger: logger, isrDue: make(chan struct{}, 1)}
	empty := map[log.TopicPartition]*Partition{}
	r.parts.Store(&empty)
	return r
}

// Get returns the partition if this broker holds it.
func (r *Registry) Get(topic string, index int32) (*Partition, bool) {
	p, ok := (*r.parts.Load())[log.TopicPartition{Topic: topic, Partition: index}]
	return p, ok
}

// All returns every partition this broker holds.
func (r *Registry) All() []*Partition {
	m := *r.parts.Load()
	out := make([]*Partition, 0, len(m))
	for _, p := range m {
		out = append(out, p)
	}
	return out
}

// ISRChecks receives when a follower has caught up enough to rejoin the ISR of a
// partition this broker leads, so the ISR keeper need not wait for its next tick.
func (r *Registry) ISRChecks() <-chan struct{} { return r.isrDue }

func (r *Registry) noteISRDue() {
	select {
	case r.isrDue <- struct{}{}:
	default:
	}
}

// Sync makes the registry match the image: logs are opened (created) for the partitions
// whose replicas include this broker, their configs and leadership refreshed; a log
// whose partition is assigned to other brokers is closed and kept; logs of topics no
// longer in the image are deleted (including logs found on disk for topics deleted while
// the broker was down).
//
// A partition this broker held at the previous Sync and that the image now places on
// other brokers (a reassignment removed this replica) has its log deleted, as Kafka's
// StopReplica with deletion does.
//
// Differs from Kafka: a log found at startup for a partition assigned elsewhere is closed
// and kept with a warning (Kafka 3.7+ deletes it): it may be a data dir carried to another
// node id, or a replica removed while this broker was down, and nothing tells them apart.
func (r *Registry) Sync(img *metadata.Image) error {
	r.syncMu.Lock()
	defer r.syncMu.Unlock()
	old := *r.parts.Load()
	next := make(map[log.TopicPartition]*Partition, len(old))
	var errs []error
	for _, t := range img.Topics() {
		tc := config.ResolveTopic(r.broker, t.Configs)
		for _, a := range t.Partitions {
			if !slices.Contains(a.Replicas, r.nodeID) {
				continue
			}
			tp := log.TopicPartition{Topic: t.Name, Partition: a.Partition}
			p, err := r.ensure(old[tp], t, a, tc)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			next[tp] = p
		}
	}
	r.parts.Store(&next)
	// Partitions dropped from the map stop being served before their logs close below,
	// so a request that still holds one gets log.ErrClosed (NOT_LEADER_OR_FOLLOWER).
	for tp, p := range old {
		if _, keep := next[tp]; !keep {
			p.isLeader.Store(false)
			p.log.Wake() // acks=all waits answer NOT_LEADER_OR_FOLLOWER
		}
	}
	for _, l := range r.logs.Logs() {
		tp := log.TopicPartition{Topic: l.Topic(), Partition: l.Partition()}
		if _, keep := next[tp]; keep {
			continue
		}
		removed := r.replicaRemoved(img, old[tp])
		if !removed && r.topicKept(img, l) {
			r.logger.Warn("closing partition assigned to other brokers, keeping its log", "partition", tp.String())
			if err := r.logs.CloseLog(tp); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if removed {
			r.logger.Info("deleting partition moved off this broker", "partition", tp.String())
			if err := r.logs.Delete(tp); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		r.logger.Info("deleting partition no longer in the metadata", "partition", tp.String())
		if err := r.logs.Delete(tp); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// replicaRemoved says whether p, which this broker held as a replica at the previous Sync,
// is a partition of the same topic that img no longer places here: a reassignment moved it
// away while this broker ran (Kafka's StopReplica with deletion), so its log goes.
func (r *Registry) replicaRemoved(img *metadata.Image, p *Partition) bool {
	if p == nil {
		return false
	}
	t, ok := img.TopicByName(p.topic)
	if !ok || t.ID != p.topicID || int(p.index) >= len(t.Partitions) {
		return false
	}
	return !slices.Contains(t.Partitions[p.index].Replicas, r.nodeID)
}

// topicKept says whether a log not assigned here still belongs to a topic of the image
// (the same topic: a log bound to an older topic ID of the same name is the deleted
// topic's), so it is closed rather than deleted.
func (r *Registry) topicKept(img *metadata.Image, l *log.Log) bool {
	t, ok := img.TopicByName(l.Topic())
	if !ok || l.Partition() >= int32(len(t.Partitions)) {
		return false
	}
	id, found, err := readTopicID(l.Dir())
	return err != nil || !found || id == t.ID // unreadable or unbound: keep, never guess
}

// ensure returns the partition for an assignment, creating its log if needed, with its
// configuration and leadership brought up to date.
func (r *Registry) ensure(p *Partition, t *metadata.Topic, a metadata.PartitionAssignment, tc config.Topic) (*Partition, error) {
	tp := log.TopicPartition{Topic: t.Name, Partition: a.Partition}
	if p == nil || p.topicID != t.ID {
		l, err := r.openLog(tp, t.ID, LogConfig(tc))
		if err != nil {
			return nil, fmt.Errorf("partition %s: %w", tp, err)
		}
		p = &Partition{topic: t.Name, topicID: t.ID, index: a.Partition, log: l, self: r.nodeID, isrNotify: r.noteISRDue}
		p.leaderEpoch.Store(-1) // no leadership seen yet: the first one below is new
	} else {
		p.log.SetConfig(LogConfig(tc))
	}
	p.topicConfig.Store(&tc)
	p.replicas.Store(int32(len(a.ISR)))
	lead := a.Leader == r.nodeID
	p.followMu.Lock() // a follower's fetcher must not write across the change
	wasLeader := p.isLeader.Load()
	newEpoch := p.leaderEpoch.Swap(a.LeaderEpoch) != a.LeaderEpoch
	p.leader.Store(a.Leader)
	newLeadership := lead && (newEpoch || !wasLeader || p.log.LatestEpoch() < a.LeaderEpoch)
	if newLeadership {
		// This broker becomes leader: the leadership's epoch begins at the log end,
		// before its first append, so OffsetForLeaderEpoch can place it (Kafka's
		// maybeAssignEpochStartOffset in makeLeader). A follower's history comes from
		// the leader's batches (log.AppendAsFollower).
		p.log.AssignEpoch(a.LeaderEpoch)
		p.epochStart.Store(p.log.LogEndOffset())
	}
	p.set.Store(r.replicaSet(p.set.Load(), a, newLeadership))
	p.soleISR.Store(lead && len(a.ISR) == 1 && a.ISR[0] == r.nodeID)
	p.isLeader.Store(lead) // after the epoch's start is recorded
	p.followMu.Unlock()
	if lead {
		if p.soleISR.Load() {
			p.log.AdvanceHighWatermark(p.log.LogEndOffset())
		} else {
			p.maybeAdvanceHighWatermark(p.set.Load()) // the ISR may have shrunk
		}
	}
	if wasLeader && (!lead || newEpoch) {
		p.log.Wake() // acks=all waits of the old leadership answer NOT_LEADER_OR_FOLLOWER
	}
	return p, nil
}

// replicaSet builds the partition's replica set for assignment a, keeping followers'
// progress from old unless a new leadership starts.
func (r *Registry) replicaSet(old *replicaSet, a metadata.PartitionAssignment, newLeadership bool) *replicaSet {
	set := &replicaSet{replicas: slices.Clone(a.Replicas), isr: slices.Clone(a.ISR), partitionEpoch: a.PartitionEpoch}
	now := time.Now()
	for _, id := range a.Replicas {
		if id == r.nodeID {
			continue
		}
		var f *follower
		if old != nil && !newLeadership {
			f = old.follower(id)
		}
		if f == nil {
			f = newFollower(id, slices.Contains(a.ISR, id), now)
		}
		set.followers = append(set.followers, f)
	}
	return set
}

// openLog returns the partition's log bound to topicID: a log left by an older topic of
// the same name is deleted first.
func (r *Registry) openLog(tp log.TopicPartition, topicID [16]byte, cfg log.Config) (*log.Log, error) {
	if l, ok := r.logs.Get(tp); ok {
		id, found, err := readTopicID(l.Dir())
		if err != nil || (found && id != topicID) {
			r.logger.Info("deleting log of an older topic with the same name", "partition", tp.String())
			if err := r.logs.Delete(tp); err != nil {
				return nil, err
			}
		}
	}
	l, err := r.logs.GetOrCreate(tp, cfg)
	if err != nil {
		return nil, err
	}
	if id, found, _ := readTopicID(l.Dir()); !found || id != topicID {
		if err := writeTopicID(l.Dir(), topicID); err != nil {
			return nil, err
		}
	}
	return l, nil
}
