package stats

import (
	"sync/atomic"
	"time"
)

// apiVersionsKey is ApiVersions' key: its request carries the client software's name.
const apiVersionsKey = 18

// clientKey identifies a client entry: who (principal) and what it calls itself.
type clientKey struct{ principal, clientID string }

// software is a client library's self-reported name and version (ApiVersions v3+).
type software struct{ name, version string }

// client is one client entry's counters. Everything but key is atomic: Conn.Record
// updates them from connection writers, collectors read them.
type client struct {
	key        clientKey
	software   atomic.Pointer[software]
	requests   [MaxAPIKey + 1]atomic.Uint64
	bytesIn    atomic.Uint64
	bytesOut   atomic.Uint64
	brokerTime atomic.Int64   // nanoseconds
	throttle   atomic.Int64   // nanoseconds
	conns      []atomic.Int32 // open connections per listener index
	// lastSeen is the Stats.sinceEpoch of the last connection change. Requests do not
	// stamp it: they only come while a connection is counted in the entry, and the
	// connection's leaving stamps it, so an entry with no connection was last used then.
	lastSeen atomic.Int64
}

func newClient(k clientKey, listeners int) *client {
	return &client{key: k, conns: make([]atomic.Int32, listeners)}
}

func (c *client) connections() int {
	var n int32
	for i := range c.conns {
		n += c.conns[i].Load()
	}
	return int(n)
}

// Session is what a Conn reads from its connection's session (api.Session).
type Session interface {
	// Principal is the authenticated user, or ANONYMOUS; read on every request.
	Principal() string
	// ClientSoftware is the client library's name and version from ApiVersions.
	ClientSoftware() (name, version string)
}

// Conn is one connection's handle. It keeps the client entry its requests count against
// and looks it up again only when the connection's client id or principal changes. Its
// methods are called by one goroutine, the connection's writer.
type Conn struct {
	stats    *Stats
	session  Session
	listener int
	stripe   int // the API counters' stripe this connection records into

	client    *client // nil until the first request
	clientID  string
	principal string
	evictions uint64 // stats.evictions when client was resolved to other
}

// NewConn returns the handle of a connection accepted on the named listener.
func (s *Stats) NewConn(listener string, session Session) *Conn {
	c := &Conn{stats: s, session: session, stripe: int(s.nextStripe.Add(1) % uint32(s.stripes))}
	for i, name := range s.cfg.Listeners {
		if name == listener {
			c.listener = i
		}
	}
	return c
}

// Record counts one answered request against its client and its API.
func (c *Conn) Record(r *Request) {
	s := c.stats
	principal := c.session.Principal()
	cl := c.client
	if cl == nil || r.ClientID != c.clientID || principal != c.principal ||
		(cl == s.other && s.evictions.Load() != c.evictions) {
		cl = c.resolve(r.ClientID, principal)
	}
	if r.Key == apiVersionsKey {
		if name, version := c.session.ClientSoftware(); name != "" {
			if sw := cl.software.Load(); sw == nil || sw.name != name || sw.version != version {
				// The api package checks both against Kafka's pattern; sanitised all the
				// same, as they become label values.
				cl.software.Store(&software{name: LabelValue(name), version: LabelValue(version)})
			}
		}
	}
	if r.Key >= 0 && r.Key <= MaxAPIKey {
		cl.requests[r.Key].Add(1)
		s.API(r.Key).record(r, c.stripe)
	}
	cl.bytesIn.Add(uint64(max(r.RequestBytes, 0)))
	cl.bytesOut.Add(uint64(max(r.ResponseBytes, 0)))
	cl.brokerTime.Add(int64(r.BrokerTime))
	cl.throttle.Add(int64(r.Stages[StageThrottle]))
}

// Close takes the connection out of its client's open connections.
func (c *Conn) Close() {
	if c.client != nil {
		c.client.leave(c.stats, c.listener)
		c.client = nil
	}
}

// leave takes one connection on listener out of the entry. lastSeen is stamped first:
// a sweep that sees the connection gone then also sees the stamp, and cannot take the
// entry for one idle since its connection opened.
func (c *client) leave(s *Stats, listener int) {
	c.lastSeen.Store(s.sinceEpoch())
	c.conns[listener].Add(-1)
}

// resolve moves the connection to the entry of (principal, clientID). The entry's key
// is the label-safe form of both (LabelValue); the raw ones are kept to compare with
// the next request's cheaply.
func (c *Conn) resolve(clientID, principal string) *client {
	s := c.stats
	next := s.lookup(clientKey{principal: LabelValue(principal), clientID: LabelValue(clientID)}, c.listener)
	if c.client != nil {
		c.client.leave(s, c.listener)
	}
	c.client, c.clientID, c.principal = next, clientID, principal
	c.evictions = s.evictions.Load()
	return next
}

// lookup returns the entry for k with this connection counted in it: the existing one, a
// new one if the cap allows, else other.
func (s *Stats) lookup(k clientKey, listener int) *client {
	s.mu.Lock()
	defer s.mu.Unlock()
	cl := s.clients[k]
	if cl == nil && k != s.other.key {
		if len(s.clients) >= s.cfg.MaxClients {
			s.sweepLocked(s.cfg.Now(), true)
		}
		if len(s.clients) < s.cfg.MaxClients {
			cl = newClient(k, len(s.cfg.Listeners))
			s.clients[k] = cl
		}
	}
	if cl == nil {
		cl = s.other
		s.folded.Add(1)
	}
	cl.conns[listener].Add(1)
	cl.lastSeen.Store(s.sinceEpoch())
	return cl
}

// sweepMinInterval bounds how often a full table forces a sweep on the lookup path, so a
// storm of new client ids costs one table scan per interval, not one per request.
const sweepMinInterval = time.Second

// sweepLocked removes entries with no open connection and no activity for IdleExpiry.
// onFull says the lookup path asks, which is rate-limited.
func (s *Stats) sweepLocked(now time.Time, onFull bool) {
	if onFull && now.Sub(s.lastSwept) < sweepMinInterval {
		return
	}
	s.lastSwept = now
	cutoff := int64(now.Sub(s.epoch) - s.cfg.IdleExpiry)
	removed := 0
	for k, cl := range s.clients {
		if cl.connections() == 0 && cl.lastSeen.Load() <= cutoff {
			delete(s.clients, k)
			delete(s.sample.prev, cl)
			removed++
		}
	}
	if removed > 0 {
		s.evictions.Add(uint64(removed))
	}
}

// Sweep removes idle client entries now. Collect (every scrape) and Sample (every
// /v1/clients read) do it too; nothing sweeps in the background.
func (s *Stats) Sweep() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(s.cfg.Now(), false)
}

// Tracked is the number of client entries, "other" not included.
func (s *Stats) Tracked() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients)
}

// MaxClients is the cap on client entries.
func (s *Stats) MaxClients() int { return s.cfg.MaxClients }
