package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nagare-dev/nagare/internal/api"
	"github.com/nagare-dev/nagare/internal/readpath"
	"github.com/nagare-dev/nagare/internal/stats"
)

// Defaults for zero Config fields, Kafka's where Kafka has the setting.
const (
	// DefaultMaxRequestBytes is Kafka's socket.request.max.bytes default (100 MiB).
	DefaultMaxRequestBytes = 104857600
	// DefaultConnectionsMaxIdle is Kafka's connections.max.idle.ms default.
	DefaultConnectionsMaxIdle = 10 * time.Minute
	// DefaultMaxInFlight bounds the replies queued per connection, so a client that
	// pipelines without reading cannot make the broker buffer without limit.
	DefaultMaxInFlight = 100
	// DefaultMaxAuthBytes is Kafka's sasl.server.max.receive.size default.
	DefaultMaxAuthBytes = 524288
	// DefaultListenerName is Kafka's name for an unauthenticated, unencrypted listener.
	DefaultListenerName = "PLAINTEXT"
)

// Errors returned by Start and Shutdown.
var (
	// ErrNoListeners: a Server needs at least one listener to be useful.
	ErrNoListeners = errors.New("server: no listeners configured")
	// ErrStarted: Start was called twice; a Server serves one lifetime.
	ErrStarted = errors.New("server: already started")
	// ErrClosed: Start after Shutdown; build a new Server instead.
	ErrClosed = errors.New("server: closed")
)

// Config is everything a Server needs; the broker fills it from broker configs.
type Config struct {
	// Listeners are the addresses to accept connections on, each with the name that
	// sessions and metrics report (Kafka's listener names).
	Listeners []ListenerConfig
	// MaxRequestBytes is the largest request frame accepted (socket.request.max.bytes);
	// a larger size prefix closes the connection. Zero or less means DefaultMaxRequestBytes.
	MaxRequestBytes int32
	// ConnectionsMaxIdle closes connections with nothing read, written or pending for
	// this long (connections.max.idle.ms). Zero means DefaultConnectionsMaxIdle; negative
	// disables idle closing and write timeouts.
	ConnectionsMaxIdle time.Duration
	// MaxInFlight bounds the replies queued per connection; the connection is not read
	// while that many wait. Zero means DefaultMaxInFlight.
	MaxInFlight int
	// MaxAuthBytes bounds every frame of a connection that has yet to authenticate
	// with SASL (sasl.server.max.receive.size); a larger one closes the connection. Zero
	// or less means DefaultMaxAuthBytes.
	MaxAuthBytes int32
	// TLSHandshakeTimeout bounds each TLS handshake; zero means DefaultTLSHandshakeTimeout.
	TLSHandshakeTimeout time.Duration
	// Registry receives the server's metrics at Start and loses them at Shutdown; nil
	// registers nothing.
	Registry *prometheus.Registry
	// Stats receives per-request and per-client metrics (internal/stats); nil turns
	// them off, and then no stage is timed.
	Stats *stats.Stats
	// ConnectionGate, if set, may refuse new connections (per-IP connection quotas).
	ConnectionGate ConnectionGate
}

// ListenerConfig is one listening socket.
type ListenerConfig struct {
	// Name is the listener's name, such as PLAINTEXT; empty means DefaultListenerName.
	Name string
	// Addr is host:port; port 0 picks a free port, which Server.Addrs reports.
	Addr string
	// Protocol is the listener's security protocol, Kafka's name (PLAINTEXT, SSL,
	// SASL_PLAINTEXT, SASL_SSL); SASL ones make connections authenticate before anything
	// but ApiVersions and the SASL requests. Empty means PLAINTEXT.
	Protocol string
	// TLS, when set, makes the listener speak TLS (SSL and SASL_SSL). The handshake runs
	// on each connection's reader goroutine, bounded by Config.TLSHandshakeTimeout.
	TLS *tls.Config
	// TLSPrincipal, when set, names the user of a TLS connection from its client
	// certificate (ssl.principal.mapping.rules); ok=false leaves it ANONYMOUS and an
	// error fails the connection.
	TLSPrincipal func(tls.ConnectionState) (user string, ok bool, err error)
}

// withDefaults fills zero fields.
func (cfg Config) withDefaults() Config {
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if cfg.ConnectionsMaxIdle == 0 {
		cfg.ConnectionsMaxIdle = DefaultConnectionsMaxIdle
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.MaxAuthBytes <= 0 {
		cfg.MaxAuthBytes = DefaultMaxAuthBytes
	}
	if cfg.TLSHandshakeTimeout <= 0 {
		cfg.TLSHandshakeTimeout = DefaultTLSHandshakeTimeout
	}
	cfg.Listeners = append([]ListenerConfig(nil), cfg.Listeners...)
	for i := range cfg.Listeners {
		if cfg.Listeners[i].Name == "" {
			cfg.Listeners[i].Name = DefaultListenerName
		}
	}
	return cfg
}

// Server accepts Kafka connections and serves their frames with one api.Handler. It
// serves one lifetime: New, Start, Shutdown.
type Server struct {
	cfg             Config
	handler         api.Handler
	logger          *slog.Logger
	metrics         *metrics
	frames          framePool
	sendfileLatency readpath.Histogram
	stopAccepting   chan struct{} // closed by Shutdown; wakes accept loops backing off
	acceptLoops     sync.WaitGroup

	mu        sync.Mutex
	state     serverState              // guarded by mu
	listeners []net.Listener           // guarded by mu; in Config order, set by Start
	conns     map[*conn]struct{}       // guarded by mu; open connections
	throttled map[net.Conn]*time.Timer // guarded by mu; refused connections held until closed
	drained   chan struct{}            // guarded by mu; closed when shutting down and conns is empty
}

type serverState int

const (
	stateNew serverState = iota
	stateRunning
	stateShutdown
)

// New returns a Server that will serve with handler once started. It does no I/O; zero
// Config fields take their defaults. A nil logger discards.
func New(cfg Config, handler api.Handler, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Server{
		cfg:           cfg.withDefaults(),
		handler:       handler,
		logger:        logger,
		metrics:       newMetrics(),
		stopAccepting: make(chan struct{}),
		conns:         make(map[*conn]struct{}),
		throttled:     make(map[net.Conn]*time.Timer),
		drained:       make(chan struct{}),
	}
}

// Start binds every listener and starts accepting. It returns once all are bound (so
// Addrs is valid) or with the first error, having closed what it bound.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.state == stateRunning:
		return ErrStarted
	case s.state == stateShutdown:
		return ErrClosed
	case len(s.cfg.Listeners) == 0:
		return ErrNoListeners
	}
	if err := s.metrics.register(s.cfg.Registry); err != nil {
		return err
	}
	listeners, err := listenAll(s.cfg.Listeners)
	if err != nil {
		s.metrics.unregister(s.cfg.Registry)
		return err
	}
	s.listeners, s.state = listeners, stateRunning
	for i, ln := range listeners {
		name := s.cfg.Listeners[i].Name
		s.logger.Info("server: listening", "listener", name, "addr", ln.Addr().String())
		s.acceptLoops.Add(1)
		go s.acceptLoop(ln, name, s.metrics.forListener(name))
	}
	return nil
}

func listenAll(configs []ListenerConfig) ([]net.Listener, error) {
	listeners := make([]net.Listener, 0, len(configs))
	for _, lc := range configs {
		ln, err := net.Listen("tcp", lc.Addr)
		if err != nil {
			for _, opened := range listeners {
				opened.Close()
			}
			return nil, fmt.Errorf("server: listen for %s on %s: %w", lc.Name, lc.Addr, err)
		}
		listeners = append(listeners, ln)
	}
	return listeners, nil
}

// Addrs returns the bound address of each listener, in Config order; nil before Start.
// With port 0 in the config, this is how to learn the port.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	addrs := make([]net.Addr, 0, len(s.listeners))
	for _, ln := range s.listeners {
		addrs = append(addrs, ln.Addr())
	}
	return addrs
}

// Addr returns the first listener's bound address, the common single-listener case;
// nil before Start.
func (s *Server) Addr() net.Addr {
	if addrs := s.Addrs(); len(addrs) > 0 {
		return addrs[0]
	}
	return nil
}

// SendFileLatency is the histogram of sendfile(2) call durations on this server's
// connections, for the metrics exporter: slow calls mean ranges reached the writer cold.
func (s *Server) SendFileLatency() *readpath.Histogram { return &s.sendfileLatency }

// acceptLoop accepts until its listener closes. Accept errors other than closing (such as
// running out of file descriptors) are retried with backoff rather than ending the loop.
func (s *Server) acceptLoop(ln net.Listener, name string, lm *listenerMetrics) {
	defer s.acceptLoops.Done()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err == nil {
			backoff = 0
			s.serveConn(nc, name, lm)
			continue
		}
		if errors.Is(err, net.ErrClosed) {
			return
		}
		backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
		s.logger.Warn("server: accept failed; retrying", "listener", name, "err", err, "backoff", backoff)
		select {
		case <-time.After(backoff):
		case <-s.stopAccepting:
			return
		}
	}
}

// serveConn registers a new connection and starts its reader and writer.
func (s *Server) serveConn(nc net.Conn, listener string, lm *listenerMetrics) {
	if !s.admit(nc, listener) {
		lm.throttled.Inc()
		return
	}
	lc := s.listenerConfig(listener)
	if lc.TLS != nil {
		nc = tls.Server(nc, lc.TLS) // the handshake runs on the connection's reader
	}
	c := newConn(s, nc, listener, lm)
	c.listener = lc
	c.session.RequireSASL = lc.Protocol == protocolSASLPlaintext || lc.Protocol == protocolSASLSSL
	s.mu.Lock()
	if s.state != stateRunning {
		s.mu.Unlock()
		nc.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	lm.accepted.Inc()
	lm.open.Inc()
	go c.readLoop()
	go c.writeLoop()
}

// removeConn forgets a connection whose goroutines have finished.
func (s *Server) removeConn(c *conn) {
	c.metrics.open.Dec()
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	if s.state == stateShutdown && len(s.conns) == 0 {
		closeOnce(s.drained)
	}
}

// Shutdown stops the server in three steps: it closes the listeners and waits for the
// accept loops to exit; it stops reading every connection, while replies already queued
// are still awaited and written, after which each connection closes itself; and it waits
// for all connections to finish. If ctx ends first, the remaining connections are closed at
// once (their handlers' contexts are canceled and their pending replies dropped) and
// ctx's error is returned without waiting further: their goroutines end as soon as their
// handlers complete the dropped replies. Calling Shutdown again waits the same way.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	first := s.state != stateShutdown
	wasRunning := s.state == stateRunning
	s.state = stateShutdown
	s.mu.Unlock()
	if first && wasRunning {
		s.stopListening()
		s.drainConns()
	}
	if first && !wasRunning {
		s.mu.Lock()
		closeOnce(s.drained)
		s.mu.Unlock()
	}
	select {
	case <-s.drained:
		s.metrics.unregister(s.cfg.Registry)
		return nil
	case <-ctx.Done():
		s.reportStuck()
		s.closeConns()
		s.metrics.unregister(s.cfg.Registry)
		return fmt.Errorf("server: shutdown: %w", ctx.Err())
	}
}

func (s *Server) stopListening() {
	close(s.stopAccepting)
	s.mu.Lock()
	listeners := s.listeners
	s.mu.Unlock()
	for _, ln := range listeners {
		ln.Close()
	}
	s.acceptLoops.Wait()
	s.closeAllThrottled()
}

// drainConns tells every connection to stop reading; it runs after the accept loops have
// exited, so the set is final.
func (s *Server) drainConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.conns) == 0 {
		closeOnce(s.drained)
	}
	for c := range s.conns {
		c.drain()
	}
}

func (s *Server) closeConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.close()
	}
}

// closeOnce closes ch unless it is already closed; callers serialise on a mutex.
func closeOnce(ch chan struct{}) {
	select {
	case <-ch:
	default:
		close(ch)
	}
}
