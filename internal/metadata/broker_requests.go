package metadata

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// Brokers talk to the active controller (the node that leads the quorum) over the
// forwarding protocol: heartbeats keep their sessions, and a broker that stops asks the
// controller to move its leaderships first. The Store only carries these requests; what
// they do is the controller's (internal/controller), which registers itself with
// SetBrokerHandler on every node and answers only while it is active.

// ShutdownPhase is the step of a controlled shutdown a broker asks for.
type ShutdownPhase uint8

const (
	// ShutdownBegin asks the controller to move the broker's leaderships to other in-sync
	// replicas and to elect it nowhere any more.
	ShutdownBegin ShutdownPhase = 0
	// ShutdownDone tells the controller that the broker is stopping now: it is fenced
	// at once rather than after its session lapses.
	ShutdownDone ShutdownPhase = 1
)

// ElectionType is the kind of leader election an ElectLeaders request asks for; the values
// are Kafka's.
type ElectionType uint8

const (
	// ElectPreferred gives leadership back to the preferred replica (the first of the
	// replica list) when it is in the ISR and live.
	ElectPreferred ElectionType = 0
	// ElectUnclean gives a leaderless partition a leader, from outside the ISR if no ISR
	// member is live (records may be lost).
	ElectUnclean ElectionType = 1
)

// Outcomes of an election request that are answers rather than failures; the api layer
// maps them to Kafka's codes of the same names.
var (
	// ErrElectionNotNeeded: the preferred replica leads already (preferred), or the
	// partition has a leader (unclean).
	ErrElectionNotNeeded = errors.New("metadata: election not needed")
	// ErrPreferredLeaderNotAvailable: the preferred replica is not in the ISR, or is
	// fenced or shutting down.
	ErrPreferredLeaderNotAvailable = errors.New("metadata: preferred leader not available")
	// ErrEligibleLeadersNotAvailable: no live replica could lead the partition.
	ErrEligibleLeadersNotAvailable = errors.New("metadata: eligible leaders not available")
)

// ErrControllerStarting is what a BrokerHandler answers while the node leads the quorum
// but its controller is not active yet (it is catching up with the log): the request is
// retried, as after ErrNotController.
var ErrControllerStarting = errors.New("metadata: the active controller is starting")

// BrokerHandler serves brokers' requests on the active controller. The Store calls it only
// on the node that leads the quorum, on the goroutine of the request's connection, with a
// context that ends when the request times out or the Store closes. Each method returns a
// metadata index the broker waits to apply before it returns (0 for none).
type BrokerHandler interface {
	// RegisterBroker registers a broker incarnation (fenced when new), or answers a retry
	// of the running one's registration without a new record.
	RegisterBroker(ctx context.Context, reg RegisterBroker) (uint64, error)
	// Heartbeat renews the broker's session, and unfences it when it was fenced and its
	// metadata has caught up with its registration. It refuses a stale epoch with
	// ErrStaleBrokerEpoch.
	Heartbeat(ctx context.Context, hb BrokerHeartbeat) (uint64, error)
	// ControlledShutdown moves the broker's leaderships away (ShutdownBegin) or fences
	// it (ShutdownDone); a stale epoch is refused with ErrStaleBrokerEpoch.
	ControlledShutdown(ctx context.Context, nodeID int32, epoch int64, phase ShutdownPhase) (uint64, error)
	// ElectLeader runs one election of an ElectLeaders request on the controller's
	// current Image; its outcomes other than success are the Err*Election* sentinels,
	// ErrUnknownTopic and ErrInvalidPartitions.
	ElectLeader(ctx context.Context, topic string, partition int32, election ElectionType) (uint64, error)
}

// NoBrokerEpoch is the epoch of a request from a broker that predates broker epochs: the
// controller serves it without the epoch checks.
const NoBrokerEpoch int64 = -1

// BrokerHeartbeat is one heartbeat, as Kafka's BrokerHeartbeatRequest: the broker's epoch
// and how far its metadata is applied (an Image index).
type BrokerHeartbeat struct {
	NodeID         int32
	Epoch          int64 // NoBrokerEpoch from a broker that predates broker epochs
	MetadataOffset uint64
}

// SetBrokerHandler registers the controller that serves brokers' requests on this node;
// nil unregisters it. Until one is registered, such requests are answered as by a node
// that does not lead, so brokers retry.
func (s *Store) SetBrokerHandler(h BrokerHandler) {
	if h == nil {
		s.brokerHandler.Store(nil)
		return
	}
	s.brokerHandler.Store(&h)
}

// RegisterBroker registers this process's incarnation of a broker with the active
// controller (Kafka's BrokerRegistrationRequest) and waits until this node's Image has
// the registration. It returns the broker epoch: the registration's index, kept by a
// retry with the same IncarnationID.
func (s *Store) RegisterBroker(ctx context.Context, reg RegisterBroker) (int64, error) {
	data, err := EncodeRecord(reg)
	if err != nil {
		return 0, err
	}
	body := append(binary.BigEndian.AppendUint32(nil, uint32(reg.NodeID)), data...)
	if err := s.brokerRequest(ctx, reqRegister, body); err != nil {
		return 0, fmt.Errorf("metadata: register broker %d: %w", reg.NodeID, err)
	}
	b, ok := s.Image().Broker(reg.NodeID)
	if !ok || b.IncarnationID != reg.IncarnationID {
		return 0, fmt.Errorf("%w: broker %d registered again by another process", ErrStaleBrokerEpoch, reg.NodeID)
	}
	return b.Epoch, nil
}

// Heartbeat sends one heartbeat for nodeID at its broker epoch to the active controller,
// with this node's applied metadata index, and waits until this node's Image includes
// what the controller wrote for it (an UnfenceBroker).
func (s *Store) Heartbeat(ctx context.Context, nodeID int32, epoch int64) error {
	body := binary.BigEndian.AppendUint32(nil, uint32(nodeID))
	body = binary.BigEndian.AppendUint64(body, uint64(epoch))
	body = binary.BigEndian.AppendUint64(body, s.Image().Index())
	return s.brokerRequest(ctx, reqHeartbeat, body)
}

// ControlledShutdown asks the active controller for one phase of nodeID's controlled
// shutdown at its broker epoch and waits until this node's Image includes the changes it
// made.
func (s *Store) ControlledShutdown(ctx context.Context, nodeID int32, epoch int64, phase ShutdownPhase) error {
	body := binary.BigEndian.AppendUint32(nil, uint32(nodeID))
	body = append(body, byte(phase))
	return s.brokerRequest(ctx, reqShutdown, binary.BigEndian.AppendUint64(body, uint64(epoch)))
}

// ElectLeader asks the active controller to run one election (ElectLeaders) and waits
// until this node's Image includes its outcome. The decision is the controller's, made
// on the newest Image and with the brokers it knows to be shutting down, so a broker
// whose Image lags cannot elect a replica that was just fenced.
func (s *Store) ElectLeader(ctx context.Context, topic string, partition int32, election ElectionType) error {
	body := binary.BigEndian.AppendUint32(nil, uint32(partition))
	body = append(body, byte(election))
	return s.brokerRequest(ctx, reqElect, append(body, topic...))
}

func (s *Store) brokerRequest(ctx context.Context, kind byte, body []byte) error {
	index, err := s.toLeader(ctx, kind, body, func(ctx context.Context) (uint64, error) {
		return s.serveBrokerRequest(ctx, kind, body)
	})
	if err != nil {
		return err
	}
	return s.waitApplied(ctx, index)
}

// serveBrokerRequest hands a broker's request to the registered controller.
func (s *Store) serveBrokerRequest(ctx context.Context, kind byte, body []byte) (uint64, error) {
	h := s.brokerHandler.Load()
	if h == nil {
		return 0, fmt.Errorf("%w: no controller runs here yet", errNotLeader)
	}
	if len(body) < 4 {
		return 0, fmt.Errorf("%w: malformed broker request", ErrInvalidRecord)
	}
	nodeID := int32(binary.BigEndian.Uint32(body))
	var (
		index uint64
		err   error
	)
	switch {
	case kind == reqHeartbeat:
		index, err = (*h).Heartbeat(ctx, decodeHeartbeat(nodeID, body[4:]))
	case kind == reqShutdown && (len(body) == 5 || len(body) == 13):
		epoch := NoBrokerEpoch
		if len(body) == 13 {
			epoch = int64(binary.BigEndian.Uint64(body[5:]))
		}
		index, err = (*h).ControlledShutdown(ctx, nodeID, epoch, ShutdownPhase(body[4]))
	case kind == reqElect && len(body) > 5: // nodeID holds the partition here
		index, err = (*h).ElectLeader(ctx, string(body[5:]), nodeID, ElectionType(body[4]))
	case kind == reqRegister:
		index, err = s.serveRegister(ctx, *h, nodeID, body[4:])
	default:
		return 0, fmt.Errorf("%w: malformed broker request", ErrInvalidRecord)
	}
	if errors.Is(err, ErrControllerStarting) {
		return 0, fmt.Errorf("%w: %v", errNotLeader, err)
	}
	return index, err
}

// decodeHeartbeat reads a heartbeat's body after the node ID; a broker predating broker
// epochs sends none of it.
func decodeHeartbeat(nodeID int32, rest []byte) BrokerHeartbeat {
	hb := BrokerHeartbeat{NodeID: nodeID, Epoch: NoBrokerEpoch}
	if len(rest) >= 16 {
		hb.Epoch = int64(binary.BigEndian.Uint64(rest))
		hb.MetadataOffset = binary.BigEndian.Uint64(rest[8:])
	}
	return hb
}

// serveRegister decodes a registration and hands it to the controller.
func (s *Store) serveRegister(ctx context.Context, h BrokerHandler, nodeID int32, data []byte) (uint64, error) {
	rec, err := DecodeRecord(data)
	if err != nil {
		return 0, err
	}
	reg, ok := rec.(RegisterBroker)
	if !ok || reg.NodeID != nodeID {
		return 0, fmt.Errorf("%w: malformed broker registration", ErrInvalidRecord)
	}
	return h.RegisterBroker(ctx, reg)
}

// LeaderTerm returns the raft term and true while this node leads the quorum. A controller
// compares terms to notice that it lost leadership and won it back in between.
func (s *Store) LeaderTerm() (uint64, bool) {
	term := s.raft.CurrentTerm()
	if s.raft.State() != raft.Leader {
		return 0, false
	}
	return term, true
}

// Barrier waits until this node, which leads the quorum, has applied every record of
// earlier terms, so that its Image is the newest: a new controller must not act on the
// state its predecessor left half-applied here. It fails with ErrNotController when the
// node does not lead (or stops leading before the barrier applies).
func (s *Store) Barrier(ctx context.Context) error {
	timeout := forwardTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	if timeout <= 0 {
		return fmt.Errorf("metadata: barrier: %w", context.DeadlineExceeded)
	}
	if err := s.raft.Barrier(timeout).Error(); err != nil {
		switch {
		case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost):
			return fmt.Errorf("%w: barrier: %v", ErrNotController, err)
		case errors.Is(err, raft.ErrRaftShutdown):
			return ErrClosed
		}
		return fmt.Errorf("metadata: barrier: %w", err)
	}
	return nil
}

// ProposeAsLeader proposes rec only if this node leads the quorum, and never forwards it:
// the controller's decisions are made from this node's Image, and a controller that lost
// leadership must not push them to its successor. It fails with ErrNotController when this
// node does not lead.
func (s *Store) ProposeAsLeader(ctx context.Context, rec Record) (uint64, error) {
	if err := s.fsm.Err(); err != nil {
		return 0, err
	}
	if s.raft.State() != raft.Leader {
		return 0, fmt.Errorf("%w: propose %v", errNotLeader, rec.Type())
	}
	data, err := EncodeRecord(rec)
	if err != nil {
		return 0, err
	}
	return s.applyLocal(ctx, rec, data)
}
