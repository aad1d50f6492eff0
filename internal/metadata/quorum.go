package metadata

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hashicorp/raft"
)

// QuorumNodes returns the node IDs in this node's copy of the quorum's raft configuration:
// the voters and the observers (broker-only nodes that joined as non-voters), the two
// lists Kafka's DescribeQuorum reports. Only the leader's copy is sure to be current.
func (s *Store) QuorumNodes() (voters, observers []int32, err error) {
	servers, err := s.quorumServers()
	if err != nil {
		return nil, nil, err
	}
	for _, srv := range servers {
		if srv.voter {
			voters = append(voters, srv.id)
		} else {
			observers = append(observers, srv.id)
		}
	}
	return voters, observers, nil
}

// quorumServer is one server of the raft configuration, by node ID.
type quorumServer struct {
	id    int32
	addr  string
	voter bool
}

// quorumServers reads this node's copy of the raft configuration.
func (s *Store) quorumServers() ([]quorumServer, error) {
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("metadata: quorum configuration: %w", err)
	}
	var out []quorumServer
	for _, srv := range f.Configuration().Servers {
		id, err := strconv.ParseInt(string(srv.ID), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("metadata: quorum configuration: server ID %q: %w", srv.ID, err)
		}
		out = append(out, quorumServer{id: int32(id), addr: string(srv.Address), voter: srv.Suffrage == raft.Voter})
	}
	return out, nil
}

// ReplicaProgress is what the active controller learned of a node from its broker
// heartbeats: how far the node had applied the metadata log, and when.
type ReplicaProgress struct {
	// AppliedIndex is the node's applied metadata index at its latest heartbeat.
	AppliedIndex uint64
	// LastHeartbeat is when that heartbeat arrived.
	LastHeartbeat time.Time
	// LastCaughtUp is the latest time at which the node was known to have applied all
	// the controller had applied (Kafka's lastCaughtUpTimestamp); zero if never seen.
	LastCaughtUp time.Time
}

// ProgressReporter is implemented by a BrokerHandler (the controller) that tracks
// heartbeats; DescribeQuorum asks it for the nodes' progress. It answers only while it is
// the active controller (nil otherwise), since a deposed one's view is stale.
type ProgressReporter interface {
	BrokerProgress() map[int32]ReplicaProgress
}

// QuorumReplica is one node of the quorum as this node knows it. The JSON names are the
// forwarding protocol's (a forwarded DescribeQuorum's payload): never rename them.
type QuorumReplica struct {
	NodeID int32 `json:"node_id"`
	// Addr is the node's raft address (its CONTROLLER listener).
	Addr string `json:"addr"`
	// LastIndex is how far the node's metadata log reaches: this node's own last raft
	// index for itself; on the leader, a broker's applied index from its latest heartbeat;
	// -1 when unknown.
	LastIndex int64 `json:"last_index"`
	// LastFetch and LastCaughtUp are Kafka's lastFetchTimestamp and lastCaughtUpTimestamp,
	// from heartbeats (and the leader's clock for the leader itself); zero when unknown.
	LastFetch    time.Time `json:"last_fetch"`
	LastCaughtUp time.Time `json:"last_caught_up"`
}

// Quorum is a node's view of the metadata quorum, what DescribeQuorum reports. It crosses
// the forwarding protocol as JSON (see QuorumReplica).
type Quorum struct {
	LeaderID int32  `json:"leader_id"` // -1 while no leader is known
	Term     uint64 `json:"term"`
	// CommitIndex is the highest raft index known committed: the high watermark.
	CommitIndex uint64          `json:"commit_index"`
	Voters      []QuorumReplica `json:"voters"`
	Observers   []QuorumReplica `json:"observers"`
}

// describeForwardTimeout bounds asking the leader for its view, after which a node answers
// from its own; it covers a dial (forwardDialTimeout) and a retry at a new leader.
const describeForwardTimeout = 5 * time.Second

// errNoLeaderKnown is a DescribeQuorum that could not be forwarded: no leader is known.
var errNoLeaderKnown = errors.New("metadata: no quorum leader known")

// DescribeQuorum returns the leader's view of the quorum: the leader, the term, the commit
// index, and the voters and observers of its raft configuration with what it knows of
// their progress. Only the leader knows the others' progress, from the heartbeats its
// controller receives (hashicorp/raft keeps its followers' match indexes to itself), so a
// node that does not lead asks the leader over the forwarding protocol, as Kafka's brokers
// forward DescribeQuorum to the active controller. When no leader is known, or it cannot
// be reached or does not answer (an older version, a leadership change) within
// describeForwardTimeout, the node answers from its own view, with only its own progress:
// a stale answer serves a tool better than none during an election. A controller-only
// voter, which sends no heartbeats, stays unknown even on the leader. now is this node's
// clock for its own view; a forwarded answer carries the leader's times.
func (s *Store) DescribeQuorum(ctx context.Context, now time.Time) (Quorum, error) {
	if s.raft.State() != raft.Leader {
		q, err := s.leaderQuorum(ctx)
		if err == nil {
			return q, nil
		}
		s.logger.Debug("metadata: describe quorum answered from this node's view", "err", err)
	}
	return s.localQuorum(now)
}

// leaderQuorum asks the leader for its view: at the leader this node knows, then once
// more at the leader that one names if it no longer leads.
func (s *Store) leaderQuorum(ctx context.Context) (Quorum, error) {
	ctx, cancel := context.WithTimeout(ctx, describeForwardTimeout)
	defer cancel()
	addr, _ := s.raft.LeaderWithID()
	target := string(addr)
	for attempt := 0; ; attempt++ {
		if target == "" {
			return Quorum{}, errNoLeaderKnown
		}
		payload, hint, err := s.fwd.callPayload(ctx, target, reqDescribeQuorum, nil)
		if err == nil {
			return decodeQuorum(payload)
		}
		if attempt > 0 || !errors.Is(err, errNotLeader) || hint == target {
			return Quorum{}, fmt.Errorf("metadata: describe quorum at the leader %s: %w", target, err)
		}
		target = hint
	}
}

// serveDescribeQuorum answers a forwarded DescribeQuorum: this leader's own view, never
// forwarded again (a node that lost the lead answers errNotLeader, and the asker
// retries once at the leader it names).
func (s *Store) serveDescribeQuorum() ([]byte, error) {
	if s.raft.State() != raft.Leader {
		return nil, errNotLeader
	}
	q, err := s.localQuorum(time.Now())
	if err != nil {
		return nil, err
	}
	payload, err := json.Marshal(q)
	if err != nil {
		return nil, fmt.Errorf("metadata: encode the quorum: %w", err)
	}
	return payload, nil
}

// decodeQuorum reads a forwarded DescribeQuorum's payload.
func decodeQuorum(payload []byte) (Quorum, error) {
	var q Quorum
	if err := json.Unmarshal(payload, &q); err != nil {
		return Quorum{}, fmt.Errorf("metadata: decode the leader's quorum: %w", err)
	}
	return q, nil
}

// localQuorum is this node's own view of the quorum; only the leader's knows the others'
// progress (see DescribeQuorum).
func (s *Store) localQuorum(now time.Time) (Quorum, error) {
	servers, err := s.quorumServers()
	if err != nil {
		return Quorum{}, err
	}
	q := Quorum{LeaderID: s.ControllerID(), Term: s.raft.CurrentTerm(), CommitIndex: s.raft.CommitIndex()}
	leading := s.raft.State() == raft.Leader
	var progress map[int32]ReplicaProgress
	if h := s.brokerHandler.Load(); leading && h != nil {
		if r, ok := (*h).(ProgressReporter); ok {
			progress = r.BrokerProgress()
		}
	}
	for _, srv := range servers {
		rep := QuorumReplica{NodeID: srv.id, Addr: srv.addr, LastIndex: -1}
		switch p, ok := progress[srv.id]; {
		case srv.id == s.nodeID:
			s.describeSelf(&rep, leading, now)
		case ok:
			rep.LastIndex = int64(p.AppliedIndex)
			rep.LastFetch, rep.LastCaughtUp = p.LastHeartbeat, p.LastCaughtUp
		}
		if srv.voter {
			q.Voters = append(q.Voters, rep)
		} else {
			q.Observers = append(q.Observers, rep)
		}
	}
	return q, nil
}

// describeSelf fills in this node's own entry: its last raft index; as leader, now for
// both times, as Kafka's leader reports itself; as follower, its last contact with the
// leader as its last fetch.
func (s *Store) describeSelf(rep *QuorumReplica, leading bool, now time.Time) {
	rep.LastIndex = int64(s.raft.LastIndex())
	if leading {
		rep.LastFetch, rep.LastCaughtUp = now, now
		return
	}
	rep.LastFetch = s.raft.LastContact()
}
