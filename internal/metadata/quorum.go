package metadata

import (
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

// QuorumReplica is one node of the quorum as this node knows it.
type QuorumReplica struct {
	NodeID int32
	// Addr is the node's raft address (its CONTROLLER listener).
	Addr string
	// LastIndex is how far the node's metadata log reaches: this node's own last raft
	// index for itself; on the leader, a broker's applied index from its latest heartbeat;
	// -1 when unknown.
	LastIndex int64
	// LastFetch and LastCaughtUp are Kafka's lastFetchTimestamp and lastCaughtUpTimestamp,
	// from heartbeats (and the leader's clock for the leader itself); zero when unknown.
	LastFetch    time.Time
	LastCaughtUp time.Time
}

// Quorum is this node's view of the metadata quorum, what DescribeQuorum reports.
type Quorum struct {
	LeaderID int32 // -1 while no leader is known
	Term     uint64
	// CommitIndex is the highest raft index known committed: the high watermark.
	CommitIndex       uint64
	Voters, Observers []QuorumReplica
}

// DescribeQuorum returns this node's view of the quorum: the leader, the term, the commit
// index, and the voters and observers of its raft configuration with what it knows of
// their progress. Only the leader knows the others' progress, from the heartbeats its
// controller receives (hashicorp/raft keeps its followers' match indexes to itself); a
// node that does not lead reports only its own, and a controller-only voter, which sends
// no heartbeats, stays unknown even on the leader.
func (s *Store) DescribeQuorum(now time.Time) (Quorum, error) {
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
