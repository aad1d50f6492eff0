package metadata

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
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
	// transportPool and transportTimeout configure raft's TCP connections to other voters.
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
	// BindAddr is where the raft transport listens. Port 0 suits a lone voter (no peer needs
	// to find it); a node that is or will be one of several voters needs a fixed port.
	BindAddr string
	// AdvertiseAddr is the address other voters dial, when it differs from the bound one.
	AdvertiseAddr string
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
	logger    *slog.Logger
	serverID  raft.ServerID
	fsm       *FSM
	raft      *raft.Raft
	transport *raft.NetworkTransport
	bolt      *raftboltdb.BoltStore

	ready     chan struct{} // closed once this node leads and has applied its whole log
	closing   chan struct{} // closed when Close starts
	closeOnce sync.Once
	closeErr  error
	wg        sync.WaitGroup // the readiness goroutine

	watchMu     sync.Mutex
	watchers    map[uint64]chan struct{} // guarded by watchMu
	nextWatch   uint64                   // guarded by watchMu
	watchClosed bool                     // guarded by watchMu; set by Close
}

// Open opens (or creates) the metadata quorum in cfg.DataDir and starts raft. A directory
// with no quorum state is bootstrapped as a one-voter quorum of this node, so a node started
// without cluster settings is a cluster of one, and growing it adds voters (raft AddVoter)
// rather than changing code paths. Open returns before the node is the leader and before
// the log is replayed: call WaitReady before trusting Image or proposing.
func Open(cfg Config) (*Store, error) {
	cfg = withDefaults(cfg)
	if cfg.DataDir == "" {
		return nil, errors.New("metadata: Config.DataDir is empty")
	}
	if cfg.NodeID < 0 {
		return nil, fmt.Errorf("metadata: node ID %d is negative", cfg.NodeID)
	}
	dir := filepath.Join(cfg.DataDir, DirName)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	s := &Store{
		logger:   cfg.Logger,
		serverID: raft.ServerID(strconv.Itoa(int(cfg.NodeID))),
		ready:    make(chan struct{}),
		closing:  make(chan struct{}),
		watchers: make(map[uint64]chan struct{}),
	}
	hcl := newHCLogAdapter(cfg.Logger, cfg.RaftLogLevel)
	if err := s.openStorage(dir, cfg, hcl); err != nil {
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
	if cfg.AdvertiseAddr != "" {
		if advertise, err = net.ResolveTCPAddr("tcp", cfg.AdvertiseAddr); err != nil {
			return fmt.Errorf("metadata: advertise address: %w", err)
		}
	}
	s.transport, err = raft.NewTCPTransportWithLogger(cfg.BindAddr, advertise, transportPool, transportTimeout, hcl.Named("transport"))
	if err != nil {
		return fmt.Errorf("metadata: raft transport: %w", err)
	}

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
	if !exists {
		boot := raft.Configuration{Servers: []raft.Server{
			{Suffrage: raft.Voter, ID: s.serverID, Address: s.transport.LocalAddr()},
		}}
		if err := raft.BootstrapCluster(rc, logs, s.bolt, snapshots, s.transport, boot); err != nil {
			return fmt.Errorf("metadata: bootstrap: %w", err)
		}
		s.logger.Info("metadata quorum bootstrapped with this node as its only voter",
			"dir", dir, "node_id", cfg.NodeID)
	}

	s.fsm = NewFSM(s.logger, s.notifyWatchers)
	s.raft, err = raft.NewRaft(rc, s.fsm, logs, s.bolt, snapshots, s.transport)
	if err != nil {
		return fmt.Errorf("metadata: start raft: %w", err)
	}
	return s.checkMembership()
}

// checkMembership refuses a data directory whose quorum does not list this node, which would
// otherwise wait forever for an election it cannot take part in.
func (s *Store) checkMembership() error {
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	var ids []raft.ServerID
	for _, srv := range f.Configuration().Servers {
		if srv.ID == s.serverID {
			return nil
		}
		ids = append(ids, srv.ID)
	}
	return fmt.Errorf("%w: its quorum is node(s) %v, this is node %s", ErrNodeIDMismatch, ids, s.serverID)
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
	if s.bolt != nil {
		err = errors.Join(err, s.bolt.Close())
	}
	return err
}

// awaitReady closes s.ready once this node leads and has applied every record before its
// term: raft replays the log only after an election commits it, so until then Image holds
// only the newest snapshot. A node that is not the leader does not become ready; every node
// is a lone voter for now (see doc.go).
func (s *Store) awaitReady() {
	defer s.wg.Done()
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	for {
		if s.raft.State() == raft.Leader {
			err := s.raft.Barrier(0).Error()
			if err == nil {
				s.refreshAddress()
				close(s.ready)
				return
			}
			if errors.Is(err, raft.ErrRaftShutdown) {
				return
			}
			// Leadership lost before the barrier applied: wait for the next term.
		}
		select {
		case <-s.raft.LeaderCh(): // raft allows one reader of LeaderCh: this loop
		case <-tick.C:
		case <-s.closing:
			return
		}
	}
}

// refreshAddress updates this node's address in the quorum configuration when it changed
// since the configuration was written: with BindAddr port 0 it changes at every start, and a
// voter added later must find this node at its current address.
func (s *Store) refreshAddress() {
	f := s.raft.GetConfiguration()
	if f.Error() != nil {
		return
	}
	addr := s.transport.LocalAddr()
	for _, srv := range f.Configuration().Servers {
		if srv.ID != s.serverID || srv.Suffrage != raft.Voter || srv.Address == addr {
			continue
		}
		if err := s.raft.AddVoter(srv.ID, addr, 0, 0).Error(); err != nil && !errors.Is(err, raft.ErrRaftShutdown) {
			s.logger.Warn("metadata quorum: cannot update this node's address", "from", srv.Address, "to", addr, "err", err)
		}
	}
}

// WaitReady blocks until this node leads the metadata quorum and its Image includes every
// record in the log, or until ctx ends. It returns the FSM's halt error, if any, because
// serving metadata frozen at an older record is not ready.
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
// It returns rec's index in the log (Image().Index() is at least that afterwards), or why
// not: the FSM's validation error (ErrTopicExists and kin), ErrNotController, ErrClosed, the
// halt error, or ctx's error. When ctx ends first the record may still be applied later, as
// with any Kafka request that times out.
func (s *Store) Propose(ctx context.Context, rec Record) (uint64, error) {
	if err := s.fsm.Err(); err != nil {
		return 0, err
	}
	data, err := EncodeRecord(rec)
	if err != nil {
		return 0, err
	}
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
func raftError(rec Record, err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost),
		errors.Is(err, raft.ErrLeadershipTransferInProgress):
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
// controller: the one node that may propose.
func (s *Store) IsLeader() bool { return s.raft.State() == raft.Leader }

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
