package txn

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nagare-dev/nagare/internal/interbroker"
	"github.com/nagare-dev/nagare/internal/metadata"
)

// marker is the outcome of one transaction, to be written to each of its partitions.
type marker struct {
	producerID       int64
	producerEpoch    int16
	commit           bool
	coordinatorEpoch int32
}

// errMarkersFenced: a leader refused the markers because a newer coordinator (or a
// newer producer epoch) exists; this coordinator's view is stale and it stops.
var errMarkersFenced = errors.New("txn: markers refused: coordinator or producer epoch fenced")

// completion is one prepared transaction on its way to CompleteCommit/CompleteAbort:
// its markers go out in rounds, one job per leader broker; a round's failed partitions
// are sent again after the backoff; once all are written it is queued for its
// completion record (complete.go).
type completion struct {
	s        *shard
	t        *transaction
	prepared txnState
	marker   marker

	mu      sync.Mutex
	pending int              // guarded by mu: jobs of this round not yet answered
	retry   []TopicPartition // guarded by mu: to send in the next round
	fenced  bool             // guarded by mu
	// abandoned: the markers stopped (fenced, unloaded, closed); set before the
	// completer gets it, which then only clears completing.
	abandoned bool
}

// markerJob is one completion's partitions led by one broker.
type markerJob struct {
	comp  *completion
	parts []TopicPartition
}

// markerSender is Kafka's TransactionMarkerChannelManager: one queue and one goroutine
// per destination broker, each sending everything queued as one WriteTxnMarkers (many
// transactions' markers in one request), or, for partitions this broker leads,
// appending the markers directly. Marker clients reach the other brokers' inter-broker
// listener (cfg.ClientOpts: its TLS and SASL) and are kept until Close.
type markerSender struct {
	c       *Coordinator
	clients *interbroker.Clients

	mu     sync.Mutex
	queues map[int32]*markerQueue // guarded by mu; by node id
	closed bool                   // guarded by mu
}

func newMarkerSender(c *Coordinator) *markerSender {
	clientID := fmt.Sprintf("nagare-txn-markers-%d", c.cfg.NodeID)
	return &markerSender{c: c, queues: map[int32]*markerQueue{},
		clients: interbroker.NewClients(c.cfg.Metadata.Image, clientID, c.cfg.ClientOpts)}
}

// dispatch starts a round: parts are grouped by leader in the current image and queued
// for their brokers. Partitions without a leader wait for the next round; those of
// deleted topics are dropped, as Kafka does. It never blocks.
func (m *markerSender) dispatch(comp *completion, parts []TopicPartition) {
	byLeader, waiting := m.group(m.c.cfg.Metadata.Image(), parts)
	comp.mu.Lock()
	comp.pending, comp.retry, comp.fenced = len(byLeader), waiting, false
	comp.mu.Unlock()
	if len(byLeader) == 0 {
		m.roundDone(comp)
		return
	}
	for leader, lp := range byLeader {
		q := m.queue(leader)
		if q == nil { // closed
			m.answered(comp, lp, nil)
			continue
		}
		q.push(markerJob{comp: comp, parts: lp})
	}
}

// answered records one job's outcome: failed partitions go to the next round.
func (m *markerSender) answered(comp *completion, failed []TopicPartition, err error) {
	comp.mu.Lock()
	comp.retry = append(comp.retry, failed...)
	comp.fenced = comp.fenced || errors.Is(err, errMarkersFenced)
	comp.pending--
	last := comp.pending == 0
	comp.mu.Unlock()
	if last {
		m.roundDone(comp)
	}
}

// roundDone decides what follows a round: stop (fenced, unloaded, closed), another
// round after the backoff, or the completion record.
func (m *markerSender) roundDone(comp *completion) {
	comp.mu.Lock()
	retry, fenced := comp.retry, comp.fenced
	comp.mu.Unlock()
	// The completer takes both outcomes that need the transaction's lock: dispatch may
	// run under it (startCompletionLocked).
	switch {
	case fenced:
		m.c.logger.Warn("transaction markers abandoned", "transactional_id", comp.t.id, "err", errMarkersFenced)
		comp.abandoned = true
		m.c.completer.push(comp)
	case comp.s.ctx.Err() != nil || m.isClosed():
		comp.abandoned = true // the next coordinator completes it
		m.c.completer.push(comp)
	case len(retry) > 0:
		time.AfterFunc(m.c.cfg.Settings.MarkerBackoff, func() { m.dispatch(comp, retry) })
	default:
		m.c.completer.push(comp)
	}
}

// abandon clears completing if t is still in the prepared state; the transaction
// stays prepared (a reload or a new coordinator completes it).
func (comp *completion) abandon() {
	t := comp.t
	t.mu.Lock()
	if t.cur.producerEpoch == comp.prepared.producerEpoch && t.cur.state == comp.prepared.state {
		t.stopCompleting()
	}
	t.mu.Unlock()
}

// group places each partition with its leader in img; partitions without a leader
// wait for the next round, those of deleted topics are dropped.
func (m *markerSender) group(img *metadata.Image, parts []TopicPartition) (map[int32][]TopicPartition, []TopicPartition) {
	byLeader := map[int32][]TopicPartition{}
	var waiting []TopicPartition
	for _, tp := range parts {
		topic, ok := img.TopicByName(tp.Topic)
		if !ok || tp.Partition < 0 || int(tp.Partition) >= len(topic.Partitions) {
			m.c.logger.Info("dropping transaction marker of a deleted partition", "topic", tp.Topic, "partition", tp.Partition)
			continue
		}
		leader := topic.Partitions[tp.Partition].Leader
		if _, ok := img.Broker(leader); leader == metadata.NoLeader || !ok {
			waiting = append(waiting, tp)
			continue
		}
		byLeader[leader] = append(byLeader[leader], tp)
	}
	return byLeader, waiting
}

func (m *markerSender) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

// close stops new rounds and closes the clients; the queues' goroutines stop with the
// Coordinator (c.stop), and whatever they hold is abandoned.
func (m *markerSender) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.clients.Close()
}
