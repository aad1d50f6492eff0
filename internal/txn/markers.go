package txn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/metadata"
)

// marker is the outcome of one transaction, to be written to each of its partitions.
type marker struct {
	producerID       int64
	producerEpoch    int16
	commit           bool
	coordinatorEpoch int32
	partitions       []TopicPartition
}

// errMarkersFenced: a leader refused the markers because a newer coordinator (or a
// newer producer epoch) exists; this coordinator's view is stale and it stops.
var errMarkersFenced = errors.New("txn: markers refused: coordinator or producer epoch fenced")

// markerSender is Kafka's TransactionMarkerChannelManager: WriteTxnMarkers to the
// leader of every partition of a transaction, grouped by leader as the current
// metadata image places them, retried until each partition has its marker. One
// franz-go client per broker, made like the replica fetchers' and kept until Close.
type markerSender struct {
	c *Coordinator

	mu      sync.Mutex
	clients map[int32]*markerClient // guarded by mu; by node id
	closed  bool                    // guarded by mu
}

type markerClient struct {
	addr string
	cl   *kgo.Client
}

func newMarkerSender(c *Coordinator) *markerSender {
	return &markerSender{c: c, clients: map[int32]*markerClient{}}
}

// send returns when every partition has its marker, or with ctx's error (the shard
// was unloaded), or errMarkersFenced. Partitions of topics deleted meanwhile are
// dropped, as Kafka does.
func (m *markerSender) send(ctx context.Context, mk marker) error {
	pending := mk.partitions
	for len(pending) > 0 {
		byLeader, waiting := m.group(m.c.cfg.Metadata.Image(), pending)
		pending = waiting
		var mu sync.Mutex
		var wg sync.WaitGroup
		var fenced error
		for leader, parts := range byLeader {
			wg.Add(1)
			go func() {
				defer wg.Done()
				failed, err := m.sendTo(ctx, leader, mk, parts)
				mu.Lock()
				defer mu.Unlock()
				pending = append(pending, failed...)
				if errors.Is(err, errMarkersFenced) {
					fenced = err
				}
			}()
		}
		wg.Wait()
		if fenced != nil {
			return fenced
		}
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(m.c.cfg.Settings.MarkerBackoff):
		}
	}
	return ctx.Err()
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

// sendTo writes the markers of parts to one leader and returns those to send again.
func (m *markerSender) sendTo(ctx context.Context, leader int32, mk marker, parts []TopicPartition) ([]TopicPartition, error) {
	cl, err := m.client(leader)
	if err != nil {
		m.c.logger.Warn("transaction marker client", "broker", leader, "err", err)
		return parts, nil
	}
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	rm := kmsg.NewWriteTxnMarkersRequestMarker()
	rm.ProducerID, rm.ProducerEpoch, rm.Committed, rm.CoordinatorEpoch = mk.producerID, mk.producerEpoch, mk.commit, mk.coordinatorEpoch
	for _, tp := range parts {
		if n := len(rm.Topics); n > 0 && rm.Topics[n-1].Topic == tp.Topic {
			rm.Topics[n-1].Partitions = append(rm.Topics[n-1].Partitions, tp.Partition)
			continue
		}
		t := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
		t.Topic, t.Partitions = tp.Topic, []int32{tp.Partition}
		rm.Topics = append(rm.Topics, t)
	}
	req.Markers = append(req.Markers, rm)
	// The seed is the leader itself: no metadata round trip, and never another broker.
	kresp, err := cl.SeedBrokers()[0].Request(ctx, req)
	if err != nil {
		if ctx.Err() == nil {
			m.c.logger.Debug("sending transaction markers", "broker", leader, "err", err)
		}
		return parts, nil
	}
	return m.failed(leader, kresp.(*kmsg.WriteTxnMarkersResponse), parts)
}

// failed reads the answer the way Kafka's TransactionMarkerRequestCompletionHandler
// does: fencing stops, unsupported formats count as written, the rest is retried.
func (m *markerSender) failed(leader int32, resp *kmsg.WriteTxnMarkersResponse, parts []TopicPartition) ([]TopicPartition, error) {
	answered := map[TopicPartition]int16{}
	for _, rm := range resp.Markers {
		for _, t := range rm.Topics {
			for _, p := range t.Partitions {
				answered[TopicPartition{Topic: t.Topic, Partition: p.Partition}] = p.ErrorCode
			}
		}
	}
	var retry []TopicPartition
	for _, tp := range parts {
		code, ok := answered[tp]
		switch {
		case !ok:
			retry = append(retry, tp)
		case code == 0, code == kerr.UnsupportedForMessageFormat.Code, code == kerr.UnsupportedVersion.Code:
		case code == kerr.InvalidProducerEpoch.Code, code == kerr.TransactionCoordinatorFenced.Code:
			return nil, fmt.Errorf("%w: %s-%d on broker %d: %v", errMarkersFenced, tp.Topic, tp.Partition, leader, kerr.ErrorForCode(code))
		default:
			m.c.logger.Debug("transaction marker not written", "broker", leader, "topic", tp.Topic, "partition", tp.Partition, "err", kerr.ErrorForCode(code))
			retry = append(retry, tp)
		}
	}
	return retry, nil
}

// client returns the client for a broker, made anew when its address changed.
func (m *markerSender) client(nodeID int32) (*kgo.Client, error) {
	b, ok := m.c.cfg.Metadata.Image().Broker(nodeID)
	if !ok {
		return nil, fmt.Errorf("broker %d is not registered", nodeID)
	}
	addr := net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errors.New("txn: closed")
	}
	if mc := m.clients[nodeID]; mc != nil {
		if mc.addr == addr {
			return mc.cl, nil
		}
		mc.cl.Close()
		delete(m.clients, nodeID)
	}
	opts := append([]kgo.Opt{kgo.SeedBrokers(addr),
		kgo.ClientID(fmt.Sprintf("nagare-txn-markers-%d", m.c.cfg.NodeID)),
		kgo.RequestRetries(0)}, m.c.cfg.ClientOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("client for broker %d at %s: %w", nodeID, addr, err)
	}
	m.clients[nodeID] = &markerClient{addr: addr, cl: cl}
	return cl, nil
}

func (m *markerSender) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	for id, mc := range m.clients {
		mc.cl.Close()
		delete(m.clients, id)
	}
}
