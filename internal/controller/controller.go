package controller

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/nagare-dev/nagare/internal/config"
	"github.com/nagare-dev/nagare/internal/metadata"
)

// Store is what the controller needs of the metadata quorum (metadata.Store).
type Store interface {
	Image() *metadata.Image
	Watch() (<-chan struct{}, func())
	LeaderTerm() (uint64, bool)
	Barrier(ctx context.Context) error
	ProposeAsLeader(ctx context.Context, rec metadata.Record) (uint64, error)
	SetBrokerHandler(h metadata.BrokerHandler)
}

// Config is everything New needs.
type Config struct {
	Store Store
	// Broker is the node's broker config: the session timeout and the cluster default of
	// unclean.leader.election.enable, which a topic may override.
	Broker *config.Broker
	Logger *slog.Logger
	// SessionTimeout overrides broker.session.timeout.ms when positive (tests).
	SessionTimeout time.Duration
}

const (
	// pollInterval is how often the loop checks leadership and sessions: leadership has no
	// notification the loop could share with the Store's readiness, and a check is a
	// couple of atomic loads.
	pollInterval = 50 * time.Millisecond
	// proposeTimeout bounds one proposal of the loop, so a quorum that lost its majority
	// does not hold the loop past the leadership check.
	proposeTimeout = 5 * time.Second
)

// Controller is the active controller when this node leads the quorum, and idle otherwise.
type Controller struct {
	store          Store
	broker         *config.Broker
	logger         *slog.Logger
	sessionTimeout time.Duration

	mu       sync.Mutex
	active   bool                // guarded by mu; this node leads and has caught up
	term     uint64              // guarded by mu; the raft term active is for
	sessions map[int32]time.Time // guarded by mu; last heartbeat that renewed each broker's session
	// owed is, per broker, the metadata index the controller had applied at that broker's
	// previous heartbeat: the next heartbeat renews the session only if the broker has
	// applied that far (liveness.go). Guarded by mu.
	owed         map[int32]uint64
	reported     map[int32]uint64 // guarded by mu; each broker's applied index at its last heartbeat
	shuttingDown map[int32]bool   // guarded by mu; brokers in controlled shutdown
	// progress is what each broker's heartbeats of this term told of its metadata log,
	// for DescribeQuorum (quorum.go). Guarded by mu.
	progress map[int32]progress

	electMu sync.Mutex // serialises elect passes (election.go) and preferred elections (preferred.go)
	// rebalanceAt is when the next leader imbalance check is due (preferred.go); zero
	// until the first active poll. Loop goroutine only.
	rebalanceAt time.Time
	// idle tracks when the metadata log last moved, for the NoOp writer (liveness.go).
	// Loop goroutine only.
	idle idleLog

	kick chan struct{} // wakes the loop after a heartbeat changed something
	stop chan struct{}
	done chan struct{}
}

// New returns a controller; Start runs it.
func New(cfg Config) *Controller {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	timeout := cfg.SessionTimeout
	if timeout <= 0 {
		timeout = cfg.Broker.Duration("broker.session.timeout.ms")
	}
	return &Controller{
		store:          cfg.Store,
		broker:         cfg.Broker,
		logger:         logger,
		sessionTimeout: timeout,
		sessions:       map[int32]time.Time{},
		owed:           map[int32]uint64{},
		reported:       map[int32]uint64{},
		shuttingDown:   map[int32]bool{},
		progress:       map[int32]progress{},
		kick:           make(chan struct{}, 1),
		stop:           make(chan struct{}),
		done:           make(chan struct{}),
	}
}

// Start registers the controller as the Store's broker handler and starts its loop.
func (c *Controller) Start() {
	c.store.SetBrokerHandler(c)
	go c.run()
}

// Close stops the loop and unregisters the handler; it waits for the loop to end.
func (c *Controller) Close() {
	select {
	case <-c.stop:
		return
	default:
	}
	close(c.stop)
	<-c.done
	c.store.SetBrokerHandler(nil)
}

// Active reports whether this node is the active controller.
func (c *Controller) Active() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.active
}

// run follows leadership: idle while another node leads; active (sessions, elections)
// while this one does, from the barrier that catches its Image up until leadership is
// lost. Each active term has its own context, cancelled when leadership is lost, which
// bounds the term's proposals. Sessions are checked every poll; an election pass runs
// when the Image changed, a request woke the loop, or the last pass left work undone.
func (c *Controller) run() {
	defer close(c.done)
	changed, cancelWatch := c.store.Watch()
	defer cancelWatch()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	term := newTermContext()
	defer func() { term.cancel() }()
	pending := true    // an election pass is due
	var content uint64 // the Image content index the last wake-up saw
	for {
		leaderTerm, leader := c.store.LeaderTerm()
		c.mu.Lock()
		wasActive, activeTerm := c.active, c.term
		c.mu.Unlock()
		if wasActive && (!leader || leaderTerm != activeTerm) {
			c.deactivate()
			term.cancel()
			term = newTermContext()
		}
		if leader && !(wasActive && leaderTerm == activeTerm) && c.activate(term.ctx, leaderTerm) {
			pending = true
		}
		if c.Active() {
			c.fenceExpired(term.ctx)
			if pending {
				pending = !c.elect(term.ctx)
				pending = !c.reassign(term.ctx) || pending // reassign.go
			}
			c.maybeRebalance(term.ctx, time.Now()) // preferred.go
			c.maybeWriteNoOp(term.ctx, time.Now()) // liveness.go
		}
		select {
		case <-c.stop:
			c.deactivate()
			return
		case <-tick.C:
		case _, ok := <-changed:
			if !ok { // the Store closed: nothing to control until Close
				c.deactivate()
				<-c.stop
				return
			}
			if ci := c.store.Image().ContentIndex(); ci != content { // not a NoOp only
				content, pending = ci, true
			}
		case <-c.kick:
			pending = true
		}
	}
}

// termContext bounds the work of one active term.
type termContext struct {
	ctx    context.Context
	cancel context.CancelFunc
}

func newTermContext() termContext {
	ctx, cancel := context.WithCancel(context.Background())
	return termContext{ctx: ctx, cancel: cancel}
}

// activate makes this node the active controller for term, once its Image has every record
// of earlier terms. Every registered broker starts with a fresh session: the predecessor's
// heartbeat times died with it.
func (c *Controller) activate(ctx context.Context, term uint64) bool {
	bctx, cancel := context.WithTimeout(ctx, proposeTimeout)
	err := c.store.Barrier(bctx)
	cancel()
	if err != nil {
		c.logger.Debug("controller: not active yet", "err", err)
		return false
	}
	if now, ok := c.store.LeaderTerm(); !ok || now != term {
		return false
	}
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.active, c.term = true, term
	c.rebalanceAt = time.Time{} // a new term waits a whole interval before its first check
	clear(c.sessions)
	clear(c.owed)
	clear(c.reported)
	clear(c.shuttingDown)
	clear(c.progress)
	for _, b := range c.store.Image().Brokers() {
		c.sessions[b.NodeID] = now
	}
	c.logger.Info("controller: active", "term", term)
	return true
}

func (c *Controller) deactivate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.active {
		c.logger.Info("controller: no longer active", "term", c.term)
	}
	c.active = false
}

// fenceExpired fences every unfenced broker whose session lapsed. A broker registered since
// the last check starts its session now.
func (c *Controller) fenceExpired(ctx context.Context) {
	now := time.Now()
	var expired []int32
	c.mu.Lock()
	for _, b := range c.store.Image().Brokers() {
		if b.Fenced {
			continue
		}
		last, ok := c.sessions[b.NodeID]
		switch {
		case !ok:
			c.sessions[b.NodeID] = now
		case now.Sub(last) > c.sessionTimeout:
			expired = append(expired, b.NodeID)
		}
	}
	c.mu.Unlock()
	for _, id := range expired {
		c.logger.Warn("controller: fencing broker, its session expired", "node_id", id, "session_timeout", c.sessionTimeout)
		if err := c.propose(ctx, metadata.FenceBroker{NodeID: id}); err != nil {
			c.logger.Warn("controller: cannot fence broker", "node_id", id, "err", err)
		}
	}
}

func (c *Controller) propose(ctx context.Context, rec metadata.Record) error {
	ctx, cancel := context.WithTimeout(ctx, proposeTimeout)
	defer cancel()
	_, err := c.store.ProposeAsLeader(ctx, rec)
	return err
}

func (c *Controller) wake() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// errLost reports whether err means this node no longer leads, in which case the loop
// stops proposing until leadership is settled.
func errLost(err error) bool {
	return errors.Is(err, metadata.ErrNotController) || errors.Is(err, metadata.ErrClosed) || errors.Is(err, context.Canceled)
}
