package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nagare-dev/nagare/internal/api"
	"github.com/nagare-dev/nagare/internal/stats"
)

// readBufferBytes sizes each connection's read buffer: enough to take several small
// requests in one read, small enough for many idle connections. Frames larger than it
// are read straight into their own buffer.
const readBufferBytes = 8 << 10

// Reasons the reader stops, besides socket errors.
var (
	errDraining     = errors.New("server: connection draining for shutdown")
	errIdle         = errors.New("server: connection idle")
	errHandlerPanic = errors.New("server: handler panicked")
	errNilReply     = errors.New("server: handler returned a nil reply")
)

// queued is a reply waiting for the writer, with the frame it answers; the frame goes
// back to the pool once the reply is released.
type queued struct {
	reply *api.Reply
	frame *[]byte // nil if the frame must not be recycled
}

// conn is one client connection: a reader goroutine (this file) and a writer goroutine
// (writer.go) joined by the replies queue. See doc.go for who owns what.
type conn struct {
	server  *Server
	netConn net.Conn
	session *api.Session
	logger  *slog.Logger     // carries listener and remote address
	metrics *listenerMetrics // this connection's listener's counters
	born    time.Time        // monotonic base for lastActive

	// listener is the config of the listener the connection came on (TLS, protocol).
	listener ListenerConfig

	ctx       context.Context    // handed to Handle; canceled when the connection closes
	cancel    context.CancelFunc // cancels ctx
	replies   chan queued        // reader to writer, in request order; cap = MaxInFlight
	closing   chan struct{}      // closed once, by close
	closeOnce sync.Once          // guards closing, cancel and netConn.Close

	draining   atomic.Bool   // set by Shutdown: stop reading, finish what is queued
	drainWake  chan struct{} // closed by drain, so a muted reader wakes for shutdown
	drainOnce  sync.Once     // guards drainWake
	mutedUntil atomic.Int64  // sinceBorn until which the reader handles no frame (KIP-219)
	pending    atomic.Int32  // replies queued and not yet released; > 0 means not idle
	// waitingOn is the API key + 1 of the reply the writer waits for (0: none), so that a
	// shutdown that times out can say which requests held it (shutdown_report.go).
	waitingOn  atomic.Int32
	lastActive atomic.Int64 // time since born of the last frame read or reply written

	// Reader-only state.
	in         *bufio.Reader
	sizePrefix [sizePrefixBytes]byte

	// writeMu is held by whoever writes to the socket: the writer goroutine, or the
	// reader writing a reply of its own (writeInline).
	writeMu sync.Mutex
	out     writerState // guarded by writeMu (writer.go)

	stats *stats.Conn // request metrics (stats.go); nil when off; guarded by writeMu
}

func newConn(s *Server, nc net.Conn, listener string, lm *listenerMetrics) *conn {
	remote := nc.RemoteAddr().String()
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{
		server:    s,
		netConn:   nc,
		session:   &api.Session{RemoteAddr: remote, Listener: listener},
		logger:    s.logger.With("listener", listener, "remote", remote),
		metrics:   lm,
		born:      time.Now(),
		ctx:       ctx,
		cancel:    cancel,
		replies:   make(chan queued, s.cfg.MaxInFlight),
		closing:   make(chan struct{}),
		drainWake: make(chan struct{}),
		in:        bufio.NewReaderSize(nc, readBufferBytes),
	}
	c.stats = s.statsConn(listener, c.session)
	return c
}

// readLoop reads frames and queues their replies until the connection fails, closes, goes
// idle or drains. Closing the queue tells the writer nothing more will come.
func (c *conn) readLoop() {
	defer close(c.replies)
	if err := c.handshake(); err != nil {
		c.stopReading(err)
		return
	}
	if idle := c.server.cfg.ConnectionsMaxIdle; idle > 0 {
		if err := c.setReadDeadline(c.born.Add(idle)); err != nil {
			c.stopReading(err)
			return
		}
	}
	for !c.draining.Load() {
		if err := c.waitMuted(); err != nil {
			c.stopReading(err)
			return
		}
		frame, err := c.readFrame()
		if err == nil {
			// The writer may have muted the connection while this read waited.
			err = c.waitMuted()
		}
		if err != nil {
			c.stopReading(err)
			return
		}
		// Stamped after the mute, as Kafka, which does not read a muted channel, would
		// see it: the throttle is already counted in the response that asked for it.
		received := c.statsNow()
		reply, err := c.handle(*frame)
		if err != nil {
			c.stopReading(err)
			return
		}
		reply.SetReceived(received)
		if isDone(reply) {
			// Answered at once: mute now rather than when the writer gets to it, so a
			// pipelining client cannot slip requests in between.
			c.mute(reply.Throttle())
		}
		if taken, open := c.writeInline(reply, frame); taken {
			if !open {
				return // writeOut closed the connection
			}
			continue
		}
		c.pending.Add(1)
		c.replies <- queued{reply: reply, frame: frame} // blocks while MaxInFlight wait
	}
}

// handle calls the handler, turning a panic into an error so one bad request cannot stop
// the broker. After a panic the frame is not recycled: the handler may still hold it.
func (c *conn) handle(frame []byte) (reply *api.Reply, err error) {
	defer func() {
		if p := recover(); p != nil {
			c.metrics.panics.Inc()
			c.logger.Error("server: handler panicked; closing its connection",
				"panic", p, "stack", string(debug.Stack()))
			reply, err = nil, errHandlerPanic
		}
	}()
	reply = c.server.handler.Handle(c.ctx, c.session, frame)
	if reply == nil {
		c.logger.Error("server: handler returned a nil reply; closing its connection")
		return nil, errNilReply
	}
	return reply, nil
}

// stopReading logs why the reader stopped and closes the connection, except when draining:
// then the writer still sends what is queued and closes the connection itself.
func (c *conn) stopReading(err error) {
	var sizeErr *frameSizeError
	switch {
	case errors.Is(err, errDraining):
		return
	case errors.As(err, &sizeErr):
		c.metrics.countRejected(err)
		c.logger.Warn("server: closing connection: frame size out of range",
			"size", sizeErr.size, "max", sizeErr.max)
	case errors.Is(err, errIdle):
		c.logger.Info("server: closing idle connection", "idle", c.server.cfg.ConnectionsMaxIdle)
	case errors.Is(err, io.ErrUnexpectedEOF):
		c.logger.Info("server: closing connection: truncated frame", "err", err)
	case errors.Is(err, errTLSHandshake):
		c.logger.Info("server: closing connection", "err", err)
	case errors.Is(err, errHandlerPanic), errors.Is(err, errNilReply), errors.Is(err, io.EOF),
		errors.Is(err, net.ErrClosed):
		// Logged where it happened, or an ordinary end.
	default:
		c.logger.Debug("server: closing connection: read failed", "err", err)
	}
	c.close()
}

// onReadTimeout decides what an expired read deadline means: nothing, if the connection
// was active or has replies pending (the deadline is re-armed); errIdle if it has been
// quiet for ConnectionsMaxIdle; errDraining if Shutdown asked the reader to stop. Arming
// lazily on expiry spares a deadline update per frame.
func (c *conn) onReadTimeout() error {
	if c.draining.Load() {
		return errDraining
	}
	idle := c.server.cfg.ConnectionsMaxIdle
	if idle <= 0 {
		return errIdle // unreachable: no deadline is set when idle closing is disabled
	}
	now := c.sinceBorn()
	next := now + idle
	if c.pending.Load() == 0 {
		last := time.Duration(c.lastActive.Load())
		if now-last >= idle {
			return errIdle
		}
		next = last + idle
	}
	return c.setReadDeadline(c.born.Add(next))
}

// setReadDeadline sets the read deadline, then checks draining: Shutdown sets draining
// before its own deadline, so if draining is still false here Shutdown's deadline (in
// the past) comes after ours and wins.
func (c *conn) setReadDeadline(t time.Time) error {
	if err := c.netConn.SetReadDeadline(t); err != nil {
		return err
	}
	if c.draining.Load() {
		return errDraining
	}
	return nil
}

// mute leaves the connection unread for d from now, or longer if already muted longer:
// the client is throttled (KIP-219), and a client that ignores throttle_time_ms is held
// all the same because nothing it sends is handled meanwhile.
func (c *conn) mute(d time.Duration) {
	if d <= 0 {
		return
	}
	until := int64(c.sinceBorn() + d)
	for {
		cur := c.mutedUntil.Load()
		if cur >= until {
			return
		}
		if c.mutedUntil.CompareAndSwap(cur, until) {
			c.metrics.muted.Add(time.Duration(until - max(cur, until-int64(d))).Seconds())
			return
		}
	}
}

// waitMuted returns once the connection is no longer muted, or with why the reader must
// stop instead (the connection closed, or Shutdown is draining it).
func (c *conn) waitMuted() error {
	for {
		d := time.Duration(c.mutedUntil.Load()) - c.sinceBorn()
		if d <= 0 {
			return nil
		}
		timer := time.NewTimer(d)
		select {
		case <-timer.C:
		case <-c.closing:
			timer.Stop()
			return net.ErrClosed
		case <-c.drainWake:
			timer.Stop()
			return errDraining
		}
	}
}

// drain makes the reader stop at its next read and the connection's parked long polls
// answer now (api.Session.Drain), so that the writer can send the last replies and close
// without waiting out a client's max wait; called by Shutdown.
func (c *conn) drain() {
	c.draining.Store(true)
	c.drainOnce.Do(func() { close(c.drainWake) })
	c.session.Drain()                     // parked long polls answer now
	c.netConn.SetReadDeadline(time.Now()) // error means already closed: nothing to wake
}

// close closes the connection once: it cancels the handlers' context, wakes the writer
// and unblocks both goroutines' socket calls.
func (c *conn) close() {
	c.closeOnce.Do(func() {
		c.cancel()
		close(c.closing)
		c.netConn.Close()
	})
}

// touch records activity for the idle check.
func (c *conn) touch() { c.lastActive.Store(int64(c.sinceBorn())) }

func (c *conn) sinceBorn() time.Duration { return time.Since(c.born) }

func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
