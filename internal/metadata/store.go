package metadata

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

// DirName is the folder under the broker's data directory that holds the metadata quorum,
// named as Kafka names its metadata log so that operators recognise it.
const DirName = "__cluster_metadata"

// Defaults for Config's zero values. The timeouts suit a lone voter, which waits one
// HeartbeatTimeout (plus up to one more, randomised) before electing itself at every start:
// raft's 1s defaults would cost one to two seconds per start, these cost 50-100ms, and a lone
// voter's lease cannot lapse (its quorum is itself). A quorum of several voters should raise
// them (raft's defaults are 1s, 1s and 500ms) unless its network is fast and quiet: a leader
// that hears from no quorum within LeaderLeaseTimeout steps down.
const (
	DefaultBindAddr           = "127.0.0.1:0"
	DefaultHeartbeatTimeout   = 50 * time.Millisecond
	DefaultElectionTimeout    = 100 * time.Millisecond
	DefaultLeaderLeaseTimeout = 50 * time.Millisecond
	// The defaults of a quorum of several nodes (Config.Voters with more than one voter, or
	// a broker-only node): long enough that a busy machine or a GC pause does not cost the
	// leader its lease, short enough that a failover takes about a second.
	DefaultClusterHeartbeatTimeout   = 500 * time.Millisecond
	DefaultClusterElectionTimeout    = time.Second
	DefaultClusterLeaderLeaseTimeout = 500 * time.Millisecond
	// DefaultSnapshotThreshold is how many records accumulate before a snapshot: metadata
	// changes are few and an Image snapshot is small, so snapshot often and replay little.
	DefaultSnapshotThreshold = 1024
	// DefaultSnapshotInterval is how often raft checks the threshold.
	DefaultSnapshotInterval = 30 * time.Second
	// DefaultTrailingLogs is how many records stay in the log after a snapshot, so that a
	// voter that fell a little behind catches up from the log instead of a whole snapshot.
	DefaultTrailingLogs = 2048
)

const (
	// lockTimeout bounds the wait for the bolt file lock: a second process on the same data
	// directory must fail, not hang.
	lockTimeout = 500 * time.Millisecond
	// logCacheSize keeps the newest records in memory for replication and replay.
	logCacheSize = 512
	// snapshotsRetained are kept on disk, so that a corrupt newest one leaves an older one.
	snapshotsRetained = 2
	// transportPool and transportTimeout configure raft's TCP connections to other nodes.
	transportPool    = 3
	transportTimeout = 10 * time.Second
	// readyPoll backs up raft's leadership notification while WaitReady waits.
	readyPoll = 10 * time.Millisecond
)

// Config is everything Open needs; zero values take the defaults above.
type Config struct {
	// DataDir is the broker's data directory; the quorum lives in DataDir/__cluster_metadata.
	DataDir string
	// NodeID is the broker's node.id. Its decimal form is the raft server ID, so the quorum
	// and Kafka's metadata name a node alike.
	NodeID int32
	// BindAddr is where the raft transport listens (Kafka's CONTROLLER listener); the
	// forwarding protocol shares the port. Port 0 suits a lone voter (no peer needs to find
	// it); a node of a quorum needs a fixed port.
	BindAddr string
	// AdvertiseAddr is the address other nodes dial, when it differs from the bound one. A
	// voter's default is its own entry in Voters.
	AdvertiseAddr string
	// Voters is controller.quorum.voters: each voter's node ID and raft address. Empty means
	// the one-node cluster of a node started without cluster settings (itself the only
	// voter). Otherwise the node is a voter when NodeID is among them (process.roles holds
	// controller), and a broker-only non-voter when it is not: a voter with no raft state
	// bootstraps the quorum with exactly these voters, a non-voter asks the leader to add it.
	Voters map[int32]string
	// TLS, when set, makes the transport TLS (the CONTROLLER listener is SSL): raft's
	// connections and the forwarding protocol's, accepted and dialed. nil is PLAINTEXT.
	TLS *TransportTLS
	// Logger receives this package's logs and raft's; nil means slog.Default().
	Logger *slog.Logger
	// RaftLogLevel is the lowest level of raft's own lines that reach Logger; nil means Warn,
	// because raft logs every routine state change at Info.
	RaftLogLevel slog.Leveler

	// Raft's timing and log compaction, as in raft.Config; zero takes the Default* value.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	SnapshotThreshold  uint64
	SnapshotInterval   time.Duration
	TrailingLogs       uint64
}

// Store is the metadata quorum on this node: raft with a durable log, applying records to an
// FSM whose Image every other package reads. All methods are safe for concurrent use.
type Store struct {
	logger     *slog.Logger
	nodeID     int32
	serverID   raft.ServerID
	voters     map[int32]string // Config.Voters; read-only
	voterAddrs []string         // the voters' addresses by node ID, for finding a leader
	observer   bool             // a broker-only node: a non-voter that joins the quorum
	fsm        *FSM
	raft       *raft.Raft
	stream     *muxStream // raft's connections and the forwarding protocol's
	fwd        *forwarder
	transport  *raft.NetworkTransport
	bolt       *raftboltdb.BoltStore
	// brokerHandler serves heartbeats and controlled shutdowns (broker_requests.go).
	brokerHandler atomic.Pointer[BrokerHandler]

	ready     chan struct{} // closed once this node has a leader and has applied its log
	started   chan struct{} // closed once s.raft is set; forwarding requests wait for it
	closing   chan struct{} // closed when Close starts
	ctx       context.Context
	cancel    context.CancelFunc // cancels ctx, which bounds work done for other nodes
	closeOnce sync.Once
	closeErr  error
	wg        sync.WaitGroup // the readiness goroutine

	watchMu     sync.Mutex
	watchers    map[uint64]chan struct{} // guarded by watchMu
	nextWatch   uint64                   // guarded by watchMu
	watchClosed bool                     // guarded by watchMu; set by Close
}

// Open opens (or creates) the metadata quorum in cfg.DataDir and starts raft. A directory
// with no quorum state is bootstrapped: with cfg.Voters when they are given and this node
// is one of them (every voter bootstraps the same configuration, so the quorum forms from
// any start order), else, without cluster settings, as a one-voter quorum of this node, so
// a node started without cluster settings is a cluster of one and runs the same code. A
// broker-only node bootstraps nothing: it asks the leader to add it as a non-voter. Open
// returns before the node has a leader and before the log is replayed: call WaitReady
// before trusting Image.
func Open(cfg Config) (*Store, error) {
	cfg = withDefaults(cfg)
	if cfg.DataDir == "" {
		return nil, errors.New("metadata: Config.DataDir is empty")
	}
	if cfg.NodeID < 0 {
		return nil, fmt.Errorf("metadata: node ID %d is negative", cfg.NodeID)
	}
	_, voter := cfg.Voters[cfg.NodeID]
	if len(cfg.Voters) > 0 && !voter && cfg.AdvertiseAddr == "" {
		if host, _, err := net.SplitHostPort(cfg.BindAddr); err != nil || host == "" || net.ParseIP(host).IsUnspecified() {
			return nil, fmt.Errorf("metadata: broker-only node %d binds %q: the quorum leader must be able to dial it, so set a host or an advertised address", cfg.NodeID, cfg.BindAddr)
		}
	}
	dir := filepath.Join(cfg.DataDir, DirName)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Store{
		logger:   cfg.Logger,
		nodeID:   cfg.NodeID,
		serverID: raft.ServerID(strconv.Itoa(int(cfg.NodeID))),
		voters:   cfg.Voters,
		observer: len(cfg.Voters) > 0 && !voter,
		ready:    make(chan struct{}),
		started:  make(chan struct{}),
		closing:  make(chan struct{}),
		ctx:      ctx,
		cancel:   cancel,
		watchers: make(map[uint64]chan struct{}),
	}
	for _, id := range slices.Sorted(maps.Keys(cfg.Voters)) {
		s.voterAddrs = append(s.voterAddrs, cfg.Voters[id])
	}
	hcl := newHCLogAdapter(cfg.Logger, cfg.RaftLogLevel)
	if err := s.openStorage(dir, cfg, hcl); err != nil {
		close(s.closing) // forwarding connections waiting for raft give up
		s.cancel()
		s.closeStorage()
		return nil, err
	}
	s.wg.Add(1)
	go s.awaitReady()
	return s, nil
}

func withDefaults(cfg Config) Config {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BindAddr == "" {
		cfg.BindAddr = DefaultBindAddr
	}
	if _, voter := cfg.Voters[cfg.NodeID]; len(cfg.Voters) > 1 || (len(cfg.Voters) > 0 && !voter) {
		setDefault(&cfg.HeartbeatTimeout, DefaultClusterHeartbeatTimeout)
		setDefault(&cfg.ElectionTimeout, DefaultClusterElectionTimeout)
		setDefault(&cfg.LeaderLeaseTimeout, DefaultClusterLeaderLeaseTimeout)
	}
	setDefault(&cfg.HeartbeatTimeout, DefaultHeartbeatTimeout)
	setDefault(&cfg.ElectionTimeout, DefaultElectionTimeout)
	setDefault(&cfg.LeaderLeaseTimeout, DefaultLeaderLeaseTimeout)
	setDefault(&cfg.SnapshotInterval, DefaultSnapshotInterval)
	setDefault(&cfg.SnapshotThreshold, DefaultSnapshotThreshold)
	setDefault(&cfg.TrailingLogs, DefaultTrailingLogs)
	return cfg
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// openStorage opens the log, snapshots and transport, bootstraps a new quorum and starts
// raft, which restores the newest snapshot before returning. On error the caller closes
// whatever was opened.
func (s *Store) openStorage(dir string, cfg Config, hcl *hclogAdapter) error {
	var err error
	s.bolt, err = raftboltdb.New(raftboltdb.Options{
		Path:        filepath.Join(dir, "raft.db"),
		BoltOptions: &bbolt.Options{Timeout: lockTimeout},
	})
	if errors.Is(err, bbolt.ErrTimeout) {
		return fmt.Errorf("metadata: %s is in use by another process", dir)
	}
	if err != nil {
		return fmt.Errorf("metadata: open log: %w", err)
	}
	logs, err := raft.NewLogCache(logCacheSize, s.bolt)
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	snapshots, err := raft.NewFileSnapshotStoreWithLogger(dir, snapshotsRetained, hcl.Named("snapshot"))
	if err != nil {
		return fmt.Errorf("metadata: open snapshots: %w", err)
	}
	var advertise net.Addr
	if cfg.AdvertiseAddr == "" && !s.observer && len(cfg.Voters) > 0 {
		cfg.AdvertiseAddr = cfg.Voters[cfg.NodeID]
	}
	if cfg.AdvertiseAddr != "" {
		if _, _, err := net.SplitHostPort(cfg.AdvertiseAddr); err != nil {
			return fmt.Errorf("metadata: advertise address: %w", err)
		}
		advertise = stringAddr(cfg.AdvertiseAddr)
	}
	s.stream, err = newMuxStream(cfg.BindAddr, advertise, cfg.TLS, s.logger, s.forwardConn)
	if err != nil {
		return fmt.Errorf("metadata: raft transport: %w", err)
	}
	s.fwd = newForwarder(s.stream)
	s.transport = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  s.stream,
		MaxPool: transportPool,
		Timeout: transportTimeout,
		Logger:  hcl.Named("transport"),
	})

	rc := raft.DefaultConfig()
	rc.LocalID = s.serverID
	rc.Logger = hcl
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.TrailingLogs = cfg.TrailingLogs
	if err := raft.ValidateConfig(rc); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}

	exists, err := raft.HasExistingState(logs, s.bolt, snapshots)
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	if !exists && !s.observer {
		boot := raft.Configuration{Servers: []raft.Server{
			{Suffrage: raft.Voter, ID: s.serverID, Address: s.transport.LocalAddr()},
		}}
		if len(cfg.Voters) > 0 {
			boot.Servers = boot.Servers[:0]
			for _, id := range slices.Sorted(maps.Keys(cfg.Voters)) {
				boot.Servers = append(boot.Servers, raft.Server{Suffrage: raft.Voter,
					ID: raft.ServerID(strconv.Itoa(int(id))), Address: raft.ServerAddress(cfg.Voters[id])})
			}
		}
		if err := raft.BootstrapCluster(rc, logs, s.bolt, snapshots, s.transport, boot); err != nil {
			return fmt.Errorf("metadata: bootstrap: %w", err)
		}
		s.logger.Info("metadata quorum bootstrapped", "dir", dir, "node_id", cfg.NodeID, "voters", len(boot.Servers))
	}

	s.fsm = NewFSM(s.logger, s.notifyWatchers)
	s.raft, err = raft.NewRaft(rc, s.fsm, logs, s.bolt, snapshots, s.transport)
	if err != nil {
		return fmt.Errorf("metadata: start raft: %w", err)
	}
	close(s.started)
	return s.checkMembership()
}

// checkMembership refuses a data directory whose quorum does not list this node, which would
// otherwise wait forever for an election it cannot take part in, and one whose voters are
// not the configured ones: a one-node directory started as a cluster voter would elect
// itself alone and serve metadata that differs from its peers'.
func (s *Store) checkMembership() error {
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	servers := f.Configuration().Servers
	if s.observer && len(servers) == 0 {
		return nil // a new broker-only node: it joins once a leader answers
	}
	var ids, voterIDs []string
	found := false
	for _, srv := range servers {
		found = found || srv.ID == s.serverID
		ids = append(ids, string(srv.ID))
		if srv.Suffrage == raft.Voter {
			voterIDs = append(voterIDs, string(srv.ID))
		}
	}
	if !found && !s.observer {
		return fmt.Errorf("%w: its quorum is node(s) %v, this is node %s", ErrNodeIDMismatch, ids, s.serverID)
	}
	want := []string{string(s.serverID)}
	if len(s.voters) > 0 {
		want = want[:0]
		for id := range s.voters {
			want = append(want, strconv.Itoa(int(id)))
		}
	}
	slices.Sort(want)
	slices.Sort(voterIDs)
	if !slices.Equal(want, voterIDs) {
		return fmt.Errorf("%w: its quorum's voters are node(s) %v, but controller.quorum.voters lists %v", ErrVotersMismatch, voterIDs, want)
	}
	return nil
}

// closeStorage releases what openStorage opened; the transport goes with raft when raft
// started.
func (s *Store) closeStorage() error {
	var err error
	if s.raft != nil {
		err = s.raft.Shutdown().Error()
	} else if s.transport != nil {
		err = s.transport.Close()
	}
	if s.stream != nil {
		s.stream.Close() // raft closed it already, unless raft never started
		s.stream.wait()
	}
	if s.bolt != nil {
		err = errors.Join(err, s.bolt.Close())
	}
	return err
}

// awaitReady closes s.ready once this node has a leader and its Image includes every record
// the leader had applied when asked: raft replays the log only after an election commits
// it, so until then Image holds only the newest snapshot. On the leader that takes a barrier
// (every record before its term applied); on any other node, the leader's applied index read
// over the forwarding protocol and this node's FSM reaching it. A broker-only node first
// asks the leader to add it to the quorum.
func (s *Store) awaitReady() {
	defer s.wg.Done()
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	joined := !s.observer
	var target uint64 // the leader's applied index, once known
	known := false
	retry := time.Time{}
	for {
		switch {
		case s.raft.State() == raft.Leader:
			err := s.raft.Barrier(0).Error()
			if err == nil {
				s.refreshAddresses()
				close(s.ready)
				return
			}
			if errors.Is(err, raft.ErrRaftShutdown) {
				return
			}
			// Leadership lost before the barrier applied: wait for the next term.
		case known:
			if s.fsm.Image().Index() >= target || s.fsm.Err() != nil {
				close(s.ready)
				return
			}
		case time.Now().After(retry) && (!joined || s.hasLeader()):
			retry = time.Now().Add(forwardBackoffMax)
			ctx, cancel := context.WithTimeout(s.ctx, forwardBackoffMax)
			if !joined {
				joined = s.join(ctx) == nil
			} else if index, err := s.toLeader(ctx, reqReadIndex, nil, s.localReadIndex); err == nil {
				target, known = index, true
			}
			cancel()
			continue
		}
		select {
		case <-s.raft.LeaderCh(): // raft allows one reader of LeaderCh: this loop
		case <-tick.C:
		case <-s.closing:
			return
		}
	}
}

// hasLeader reports whether this node knows a leader.
func (s *Store) hasLeader() bool {
	addr, _ := s.raft.LeaderWithID()
	return addr != ""
}

// CatchUp waits until this node has applied every record the quorum's leader had applied
// when asked (a read index through the leader, as at start-up), so that its Image holds
// whatever the controller had recorded before the call: an admin request naming a topic
// created a moment ago on another broker finds it here as Kafka's controller would.
func (s *Store) CatchUp(ctx context.Context) error {
	index, err := s.toLeader(ctx, reqReadIndex, nil, s.localReadIndex)
	if err != nil {
		return fmt.Errorf("metadata: catch up: %w", err)
	}
	return s.waitApplied(ctx, index)
}

// localReadIndex answers a read-index request on the leader itself.
func (s *Store) localReadIndex(context.Context) (uint64, error) {
	return s.serveRequest(s.ctx, reqReadIndex, nil)
}

// join asks the leader to add this broker-only node to the quorum as a non-voter.
func (s *Store) join(ctx context.Context) error {
	body := binary.BigEndian.AppendUint32(nil, uint32(s.nodeID))
	body = append(body, s.transport.LocalAddr()...)
	_, err := s.toLeader(ctx, reqJoin, body, func(context.Context) (uint64, error) {
		return 0, errNotLeader // a non-voter never leads
	})
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		s.logger.Warn("metadata quorum: cannot join", "err", err)
	}
	return err
}

// refreshAddresses updates addresses in the quorum configuration that differ from the
// configured ones: this node's own when BindAddr has port 0 (it changes at every start and
// a node added later must find this one), and, in a cluster, each voter's from
// controller.quorum.voters, so that moving a voter is a config change and a restart.
func (s *Store) refreshAddresses() {
	f := s.raft.GetConfiguration()
	if f.Error() != nil {
		return
	}
	want := map[raft.ServerID]raft.ServerAddress{s.serverID: s.transport.LocalAddr()}
	for id, addr := range s.voters {
		want[raft.ServerID(strconv.Itoa(int(id)))] = raft.ServerAddress(addr)
	}
	for _, srv := range f.Configuration().Servers {
		addr, ok := want[srv.ID]
		if !ok || srv.Suffrage != raft.Voter || srv.Address == addr {
			continue
		}
		if err := s.raft.AddVoter(srv.ID, addr, 0, 0).Error(); err != nil && !errors.Is(err, raft.ErrRaftShutdown) {
			s.logger.Warn("metadata quorum: cannot update a voter's address", "node_id", srv.ID, "from", srv.Address, "to", addr, "err", err)
		}
	}
}

// WaitReady blocks until this node has a leader (itself, or another node) and its Image
// includes every record the leader had applied by then, or until ctx ends. It returns the
// FSM's halt error, if any, because serving metadata frozen at an older record is not
// ready.
func (s *Store) WaitReady(ctx context.Context) error {
	select {
	case <-s.closing: // first, since a closed store was usually ready too
		return ErrClosed
	default:
	}
	select {
	case <-s.ready:
		return s.fsm.Err()
	case <-s.closing:
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("metadata: waiting for the quorum: %w", ctx.Err())
	}
}

// Propose appends rec to the metadata log and waits until it is committed and applied here.
// On a node that does not lead the quorum it forwards rec to the leader (retrying while
// the leader changes, as long as nothing was proposed) and then waits until this node's FSM
// has applied it. It returns rec's index in the log (Image().Index() is at least that
// afterwards), or why not: the FSM's validation error (ErrTopicExists and kin, also when
// answered by the leader), ErrNotController when leadership was lost with the outcome
// unknown, ErrClosed, the halt error, or ctx's error. When ctx ends first the record may
// still be applied later, as with any Kafka request that times out.
func (s *Store) Propose(ctx context.Context, rec Record) (uint64, error) {
	if err := s.fsm.Err(); err != nil {
		return 0, err
	}
	data, err := EncodeRecord(rec)
	if err != nil {
		return 0, err
	}
	index, err := s.toLeader(ctx, reqPropose, data, func(ctx context.Context) (uint64, error) {
		return s.applyLocal(ctx, rec, data)
	})
	if err != nil {
		return 0, err
	}
	if err := s.waitApplied(ctx, index); err != nil {
		return 0, err
	}
	return index, nil
}

// applyLocal proposes data (rec, encoded) on this node, which leads, and waits until it is
// applied here.
func (s *Store) applyLocal(ctx context.Context, rec Record, data []byte) (uint64, error) {
	var timeout time.Duration // raft's timeout bounds only the wait to enqueue; 0 is none
	if deadline, ok := ctx.Deadline(); ok {
		if timeout = time.Until(deadline); timeout <= 0 {
			return 0, fmt.Errorf("metadata: propose %v: %w", rec.Type(), context.DeadlineExceeded)
		}
	}
	future := s.raft.Apply(data, timeout)
	if ctx.Done() != nil {
		// An ApplyFuture has no channel; this goroutine ends when raft resolves the future,
		// which it does for every future by Shutdown at the latest.
		done := make(chan struct{})
		go func() {
			_ = future.Error()
			close(done)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			return 0, fmt.Errorf("metadata: propose %v (it may still be applied): %w", rec.Type(), ctx.Err())
		}
	}
	if err := future.Error(); err != nil {
		return 0, raftError(rec, err)
	}
	if err, ok := future.Response().(error); ok && err != nil {
		return 0, err
	}
	return future.Index(), nil
}

// raftError turns raft's errors into this package's, so that callers need not import raft.
// ErrNotLeader means raft refused the record before logging it, so Propose may try the new
// leader; after ErrLeadershipLost the outcome is unknown.
func raftError(rec Record, err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader):
		return fmt.Errorf("%w: propose %v: %v", errNotLeader, rec.Type(), err)
	case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return fmt.Errorf("%w: propose %v: %v", ErrNotController, rec.Type(), err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrClosed
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("metadata: propose %v: %w", rec.Type(), context.DeadlineExceeded)
	}
	return fmt.Errorf("metadata: propose %v: %w", rec.Type(), err)
}

// EnsureClusterID returns the cluster's ID (Kafka's cluster.id), first proposing a new
// random one when the Image has none. Kafka's operators create the ID with kafka-storage
// format before a node first starts; here the first leader creates it, and the log keeps it
// through restarts. The broker calls this once after WaitReady, since only the leader can
// propose. Racing calls all return the ID that was applied first.
//
// A method rather than a step of becoming ready, so that readiness stays about raft alone:
// a failure here (ctx, lost leadership) is the broker's to handle, and WaitReady's halt
// handling stays as it is.
func (s *Store) EnsureClusterID(ctx context.Context) (string, error) {
	if id := s.Image().ClusterID(); id != "" {
		return id, nil
	}
	switch _, err := s.Propose(ctx, SetClusterID{ID: newClusterID()}); {
	case err == nil, errors.Is(err, ErrInvalidRecord):
		// Applied, or refused because another ID was applied first: either way Propose
		// returned after the Image took the winner.
		return s.Image().ClusterID(), nil
	default:
		return "", err
	}
}

// newClusterID returns a new cluster ID in Kafka's form: a random UUID in unpadded URL-safe
// base64, as kafka-storage random-uuid prints it. Kafka makes topic IDs with the same
// generator, and so does this.
func newClusterID() string { return NewTopicID().String() }

// Image returns the current Image: one atomic load, never nil, never blocking.
func (s *Store) Image() *Image { return s.fsm.Image() }

// Err returns the error that halted the FSM (a record this version cannot read), or nil.
// A broker that finds it set should stop serving: its metadata is frozen.
func (s *Store) Err() error { return s.fsm.Err() }

// IsLeader reports whether this node leads the quorum, which makes it Kafka's active
// controller: the node where proposals are applied first (others forward theirs to it).
func (s *Store) IsLeader() bool { return s.raft.State() == raft.Leader }

// ControllerID is the node ID of the quorum's leader, Kafka's active controller, as
// Metadata and DescribeCluster responses name it; -1 while no leader is known.
func (s *Store) ControllerID() int32 {
	_, id := s.raft.LeaderWithID()
	n, err := strconv.ParseInt(string(id), 10, 32)
	if id == "" || err != nil {
		return -1
	}
	return int32(n)
}

// ClientControllerID is the controller ID that Metadata and DescribeCluster answer
// clients with: the active controller when it is an unfenced broker (a combined node),
// else the lowest unfenced broker, since a controller-only node has no Kafka listener
// (Kafka's brokers name a random live broker); -1 when no broker is live. Clients send
// admin requests there, and any broker forwards them.
func (s *Store) ClientControllerID() int32 {
	img := s.Image()
	if id := s.ControllerID(); id >= 0 {
		if b, ok := img.Broker(id); ok && !b.Fenced {
			return id
		}
	}
	if live := img.UnfencedBrokers(); len(live) > 0 {
		return live[0].NodeID
	}
	return -1
}

// Addr returns the address the raft transport listens on.
func (s *Store) Addr() string { return string(s.transport.LocalAddr()) }

// Watch subscribes to Image changes: the channel receives a value after a new Image is
// published (or the FSM halts). Signals coalesce (the channel holds one), so a subscriber
// reads Image() after each and compares it with the last one it handled; a slow subscriber
// never delays the FSM. The channel is closed by cancel and by Close.
func (s *Store) Watch() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	if s.watchClosed {
		close(ch)
		return ch, func() {}
	}
	id := s.nextWatch
	s.nextWatch++
	s.watchers[id] = ch
	return ch, func() {
		s.watchMu.Lock()
		defer s.watchMu.Unlock()
		if c, ok := s.watchers[id]; ok {
			delete(s.watchers, id)
			close(c)
		}
	}
}

// notifyWatchers is the FSM's onChange: it runs on raft's FSM goroutine and never blocks.
func (s *Store) notifyWatchers() {
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	for _, ch := range s.watchers {
		select {
		case ch <- struct{}{}:
		default: // a signal is already pending
		}
	}
}

// Close shuts raft down (it waits for raft's goroutines and an in-flight snapshot), closes
// the transport and the log, and closes every Watch channel. Proposals in flight return
// ErrClosed. Close is idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.cancel()
		s.closeErr = s.closeStorage()
		s.wg.Wait()
		s.watchMu.Lock()
		defer s.watchMu.Unlock()
		s.watchClosed = true
		for id, ch := range s.watchers {
			delete(s.watchers, id)
			close(ch)
		}
	})
	return s.closeErr
}
