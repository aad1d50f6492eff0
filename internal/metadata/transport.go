package metadata

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// forwardMagic is the first byte of a connection that speaks the forwarding protocol
// (forward.go) rather than raft's. hashicorp/raft's NetworkTransport opens every connection
// with an RPC type byte, 0 to 4 in v1.7 (AppendEntries, RequestVote, InstallSnapshot,
// TimeoutNow, RequestPreVote); this value is far from them so that raft can add types.
const forwardMagic byte = 0xA5

// firstByteTimeout bounds how long an accepted connection may take over its TLS handshake
// and first byte, so that a stray client cannot hold a goroutine forever.
const firstByteTimeout = 10 * time.Second

// maxPendingConns bounds the accepted connections still in their handshake or waiting for
// their first byte: each holds a goroutine and, with TLS, a handshake (a private-key
// operation) for up to firstByteTimeout before its peer has proved anything, so without a
// bound anyone who can reach the port could open thousands. A cluster's nodes open a few
// connections each (raft's pool, the forwarders' pools), far below it. At the bound the
// oldest pending connection is closed to admit the new one, not the new one refused:
// idle sockets held open by a peer that cannot authenticate would otherwise lock every
// node out, while a node's handshake takes milliseconds and outlasts them.
const maxPendingConns = 64

// rejectLogInterval spaces the debug lines about connections refused at the bound.
const rejectLogInterval = 10 * time.Second

// errStreamClosed is what Accept returns once the stream layer is closed.
var errStreamClosed = errors.New("metadata: transport closed")

// muxStream is the raft.StreamLayer of the metadata quorum: one TCP listener (the CONTROLLER
// listener of a cluster node) shared by raft's RPCs and by the forwarding protocol. Each
// accepted connection is routed by its first byte: forwardMagic goes to the forwarding
// server, anything else (raft's RPC type) is handed to raft with that byte put back.
// With TLS (transport_tls.go) every connection, accepted or dialed, is TLS before its
// first byte, so raft and the forwarding protocol are secured alike.
//
// It owns every connection it accepts or dials, and Close closes them all: raft's
// NetworkTransport leaves its per-connection goroutines blocked in a read when it shuts
// down, and closing their connections is what ends them.
type muxStream struct {
	ln        net.Listener
	advertise net.Addr
	tls       *TransportTLS // nil: PLAINTEXT
	logger    *slog.Logger
	raftConns chan net.Conn  // accepted raft connections, handed to raft's Accept
	forward   func(net.Conn) // serves one forwarding connection until it ends
	done      chan struct{}  // closed by Close
	closeOnce sync.Once
	wg        sync.WaitGroup // the accept loop and the routing goroutines

	// firstByteTimeout is the package constant but in tests, set before start.
	firstByteTimeout time.Duration
	// pending are the accepted connections still in their handshake or before their
	// first byte, oldest first (at most maxPendingConns); the accept loop adds, route
	// removes.
	pending pendingConns
	// rejected counts pending connections closed to admit newer ones at the bound.
	rejected atomic.Uint64
	// lastRejectLog is when an eviction was last logged; only the accept loop touches it.
	lastRejectLog time.Time

	mu     sync.Mutex
	conns  map[*muxConn]struct{} // guarded by mu: every open connection
	closed bool                  // guarded by mu
}

var _ raft.StreamLayer = (*muxStream)(nil)

// newMuxStream listens on bind and starts routing. advertise is the address other nodes
// dial (nil: the bound address); security, when not nil, makes every connection TLS;
// forward serves forwarding connections.
func newMuxStream(bind string, advertise net.Addr, security *TransportTLS, logger *slog.Logger, forward func(net.Conn)) (*muxStream, error) {
	m, err := listenMux(bind, advertise, security, logger, forward)
	if err != nil {
		return nil, err
	}
	m.start()
	return m, nil
}

// listenMux is newMuxStream without starting the accept loop, so that tests can change
// its limits first.
func listenMux(bind string, advertise net.Addr, security *TransportTLS, logger *slog.Logger, forward func(net.Conn)) (*muxStream, error) {
	if err := security.validate(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, fmt.Errorf("metadata: listen on %s: %w", bind, err)
	}
	if advertise == nil {
		advertise = ln.Addr()
	}
	return &muxStream{
		ln:               ln,
		advertise:        advertise,
		tls:              security,
		logger:           logger,
		raftConns:        make(chan net.Conn),
		forward:          forward,
		done:             make(chan struct{}),
		conns:            make(map[*muxConn]struct{}),
		firstByteTimeout: firstByteTimeout,
		pending:          pendingConns{max: maxPendingConns},
	}, nil
}

// start starts the accept loop, which Close ends.
func (m *muxStream) start() {
	m.wg.Add(1)
	go m.acceptLoop()
}

func (m *muxStream) acceptLoop() {
	defer m.wg.Done()
	for {
		c, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.done:
				return
			case <-time.After(10 * time.Millisecond): // a transient error (EMFILE): retry
				continue
			}
		}
		m.admit(c)
		var conn net.Conn = c
		if m.tls != nil {
			conn = tls.Server(c, m.tls.Server) // no I/O yet: route does the handshake
		}
		mc, ok := m.track(conn, c, nil)
		if !ok {
			m.pending.remove(c)
			continue
		}
		m.wg.Add(1)
		go m.route(mc)
	}
}

// admit adds a just-accepted socket to the pending connections; at maxPendingConns it
// closes the oldest pending one (its route goroutine then ends at once), so that a peer
// holding idle sockets cannot keep a node that completes its handshake out.
func (m *muxStream) admit(c net.Conn) {
	oldest := m.pending.add(c)
	if oldest == nil {
		return
	}
	oldest.Close()
	n := m.rejected.Add(1)
	if now := time.Now(); now.Sub(m.lastRejectLog) >= rejectLogInterval {
		m.lastRejectLog = now
		m.logger.Debug("metadata: controller listener has too many pending connections, closed the oldest",
			"remote", oldest.RemoteAddr().String(), "pending", m.pending.max, "evicted_total", n)
	}
}

// pendingConns is a bounded FIFO of accepted sockets not yet past their first byte.
type pendingConns struct {
	max   int
	mu    sync.Mutex
	conns []net.Conn // guarded by mu; oldest first
}

// add appends c and returns the oldest connection it pushed out at the bound, or nil.
func (p *pendingConns) add(c net.Conn) net.Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns = append(p.conns, c)
	if len(p.conns) <= p.max {
		return nil
	}
	oldest := p.conns[0]
	p.conns = slices.Delete(p.conns, 0, 1)
	return oldest
}

// remove takes c out, if it is still there (not evicted).
func (p *pendingConns) remove(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i := slices.Index(p.conns, c); i >= 0 {
		p.conns = slices.Delete(p.conns, i, i+1)
	}
}

func (p *pendingConns) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// route completes the TLS handshake, if any, reads the first byte and hands the
// connection to raft or to the forwarding server. The handshake runs here, not in the
// accept loop, so that a silent or slow peer holds only its own goroutine; handshake and
// first byte together get firstByteTimeout, and the pending token is given back once the
// first byte is in (or the connection is closed).
func (m *muxStream) route(c *muxConn) {
	defer m.wg.Done()
	first, ok := m.firstByte(c)
	m.pending.remove(c.raw)
	if !ok {
		c.Close()
		return
	}
	if first == forwardMagic {
		defer c.Close()
		m.forward(c)
		return
	}
	c.prefix = []byte{first}
	select {
	case m.raftConns <- c:
	case <-m.done:
		c.Close()
	}
}

// firstByte shakes hands, if TLS, and reads the connection's first byte, both by one
// deadline; false when either fails.
func (m *muxStream) firstByte(c *muxConn) (byte, bool) {
	deadline := time.Now().Add(m.firstByteTimeout)
	if !m.handshake(c, deadline) {
		return 0, false
	}
	var first [1]byte
	_ = c.SetReadDeadline(deadline)
	if _, err := c.Conn.Read(first[:]); err != nil {
		return 0, false
	}
	_ = c.SetReadDeadline(time.Time{})
	return first[0], true
}

// pendingConns is how many accepted connections are in their handshake or before their
// first byte.
func (m *muxStream) pendingConns() int { return m.pending.len() }

// track registers a connection so that Close closes it; false when already closed. c is
// what its users read and write (TLS or the socket itself), raw the socket under it.
func (m *muxStream) track(c, raw net.Conn, prefix []byte) (*muxConn, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		raw.Close()
		return nil, false
	}
	mc := &muxConn{Conn: c, raw: raw, prefix: prefix, stream: m}
	m.conns[mc] = struct{}{}
	return mc, true
}

// Accept implements net.Listener for raft: the next raft connection.
func (m *muxStream) Accept() (net.Conn, error) {
	select {
	case c := <-m.raftConns:
		return c, nil
	case <-m.done:
		return nil, errStreamClosed
	}
}

// Dial implements raft.StreamLayer; the forwarder dials through it too. With TLS the
// handshake is done within timeout before the connection is returned.
func (m *muxStream) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	deadline := time.Now().Add(timeout)
	d := net.Dialer{Deadline: deadline}
	c, err := d.Dial("tcp", string(address))
	if err != nil {
		return nil, err
	}
	var conn net.Conn = c
	if m.tls != nil {
		if conn, err = m.tls.client(c, string(address)); err != nil {
			c.Close()
			return nil, err
		}
	}
	mc, ok := m.track(conn, c, nil)
	if !ok {
		return nil, errStreamClosed
	}
	if err := m.tls.clientHandshake(mc, deadline); err != nil {
		mc.Close()
		return nil, fmt.Errorf("metadata: controller listener %s: %w", address, err)
	}
	return mc, nil
}

// Addr implements net.Listener: the advertised address, which raft puts in its
// configuration as this node's address.
func (m *muxStream) Addr() net.Addr { return m.advertise }

// Close implements net.Listener: it stops accepting and closes every connection. It does
// not wait for the routing goroutines (a forwarding handler may be inside raft, which is
// what is shutting down); wait does, once raft has stopped.
func (m *muxStream) Close() error {
	m.closeOnce.Do(func() {
		close(m.done)
		m.ln.Close()
		m.mu.Lock()
		m.closed = true
		conns := m.conns
		m.conns = nil
		m.mu.Unlock()
		for c := range conns {
			c.raw.Close() // not a TLS close_notify, which could wait on a stuck peer
		}
	})
	return nil
}

// wait blocks until the accept loop and every routing or forwarding goroutine has ended.
func (m *muxStream) wait() { m.wg.Wait() }

// muxConn is a connection the stream owns; prefix holds the routing byte until raft reads it.
type muxConn struct {
	net.Conn          // a *tls.Conn on a TLS controller listener, else raw
	raw      net.Conn // the TCP socket, which the stream's Close closes
	prefix   []byte   // read by the first Reads; only the connection's one reader touches it
	stream   *muxStream
	once     sync.Once
}

func (c *muxConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// Close closes the connection and forgets it.
func (c *muxConn) Close() error {
	var err error
	c.once.Do(func() {
		c.stream.mu.Lock()
		delete(c.stream.conns, c)
		c.stream.mu.Unlock()
		err = c.Conn.Close()
	})
	return err
}

// stringAddr is an advertised address kept exactly as configured (a host name stays a
// name), since raft compares configuration addresses as strings.
type stringAddr string

func (a stringAddr) Network() string { return "tcp" }
func (a stringAddr) String() string  { return string(a) }
