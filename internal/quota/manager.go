package quota

import (
	"maps"
	"slices"
	"sync"
	"time"
)

// Config is what a Manager needs.
type Config struct {
	// Windows is quota.window.num: how many samples a rate keeps. Zero means 11.
	Windows int
	// Window is quota.window.size.seconds: the span of each sample. Zero means 1s.
	Window time.Duration
	// Now is the clock; nil means time.Now. Only differences between its readings are
	// used, so time.Now's monotonic reading is what counts.
	Now func() time.Time
	// IdleExpiry is how long a client's usage and accounting are kept after its last
	// request (Kafka's one-hour inactive sensor expiration); ExpireIdle drops older ones.
	// Zero means DefaultIdleExpiry.
	IdleExpiry time.Duration
}

// DefaultIdleExpiry is Kafka's inactive sensor expiration for client quota sensors.
const DefaultIdleExpiry = time.Hour

// Quotas are the limits set on entities, by type. A missing type means no limit set on
// that entity for it.
type Quotas map[Entity]map[Type]float64

// Manager resolves quotas, measures usage and computes throttle times. See doc.go.
type Manager struct {
	windows    int
	window     time.Duration
	now        func() time.Time
	epoch      time.Time
	idleExpiry time.Duration

	mu       sync.RWMutex
	quotas   Quotas                    // guarded by mu; never modified once set
	defaults [numTypes]float64         // guarded by mu; <= 0 is no default
	clients  map[Key]*client           // guarded by mu; resolutions for the current quotas
	sensors  [numTypes]map[Key]*sensor // guarded by mu; usage per type and sharing key
	accounts map[Key]*account          // guarded by mu; per (user, client-id) totals
	ips      ipQuotas                  // guarded by mu; connection_creation_rate (ip.go)

	overhead overhead // per-request broker time outside the measured span (overhead.go)
}

// client is one (user, client-id)'s resolved quotas: the sensor and bound per type (nil
// sensor: unlimited) and its accounting.
type client struct {
	sensors [numTypes]*sensor
	bounds  [numTypes]float64
	account *account
}

// sensor measures one sharing key's usage of one quota type.
type sensor struct {
	mu       sync.Mutex
	rate     rate          // guarded by mu; every type but ControllerMutationRate
	bucket   tokenBucket   // guarded by mu; ControllerMutationRate
	lastUsed time.Duration // guarded by mu; Manager clock of the last record
}

// account is the running totals of one (user, client-id), for metrics.
type account struct {
	mu            sync.Mutex
	timeUsed      time.Duration // guarded by mu; broker time, see docs/ARCHITECTURE.md
	bytesIn       int64         // guarded by mu; produce request bytes
	bytesOut      int64         // guarded by mu; fetch response bytes
	throttled     time.Duration // guarded by mu; sum of throttle times given
	throttleCount int64         // guarded by mu; responses that carried a throttle
	lastRatio     float64       // guarded by mu; measured rate / bound at the last check
	lastUsed      time.Duration // guarded by mu; Manager clock of the last request charged
}

// New returns a Manager with no quotas set.
func New(cfg Config) *Manager {
	if cfg.Windows <= 0 {
		cfg.Windows = 11
	}
	if cfg.Window <= 0 {
		cfg.Window = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.IdleExpiry <= 0 {
		cfg.IdleExpiry = DefaultIdleExpiry
	}
	m := &Manager{
		windows: cfg.Windows, window: cfg.Window, now: cfg.Now, epoch: cfg.Now(),
		idleExpiry: cfg.IdleExpiry,
		clients:    map[Key]*client{},
		accounts:   map[Key]*account{},
		ips:        newIPQuotas(),
	}
	for t := range m.sensors {
		m.sensors[t] = map[Key]*sensor{}
	}
	return m
}

// SetDefaults sets the broker's static default per type (value <= 0: none); they apply
// below every level of the precedence, as /clients/<default> would.
func (m *Manager) SetDefaults(defaults map[Type]float64) {
	var d [numTypes]float64
	for t, v := range defaults {
		if t >= 0 && t < numTypes {
			d[t] = v
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if d == m.defaults {
		return
	}
	m.defaults = d
	clear(m.clients)
}

// SetQuotas replaces every entity quota; q is the caller's no more.
func (m *Manager) SetQuotas(q Quotas) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if maps.EqualFunc(q, m.quotas, maps.Equal) {
		return
	}
	m.quotas = q
	clear(m.clients)
}

// Quotas returns the entity quotas in force. The map is shared: do not modify it.
func (m *Manager) Quotas() Quotas {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.quotas
}

// Limit returns the bound of type t that applies to (user, clientID), and whether any
// does.
func (m *Manager) Limit(t Type, user, clientID string) (float64, bool) {
	c := m.client(user, clientID)
	return c.bounds[t], c.sensors[t] != nil
}

// RecordTime records broker time d against RequestPercentage and returns the throttle
// time; check=false records without judging (work measured after the response was
// built, as Kafka's recordNoThrottle).
func (m *Manager) RecordTime(user, clientID string, d time.Duration, check bool) time.Duration {
	return m.recordTime(user, clientID, d, 0, check)
}

// recordTime charges measured broker time plus an estimated extra (overhead.go); only
// the measured part feeds the overhead estimate.
func (m *Manager) recordTime(user, clientID string, measured, extra time.Duration, check bool) time.Duration {
	m.overhead.measured.Add(int64(measured))
	d := measured + extra
	c := m.client(user, clientID)
	now := m.clock()
	c.account.mu.Lock()
	c.account.timeUsed += d
	c.account.lastUsed = now
	c.account.mu.Unlock()
	// Percent-seconds: a rate of them per second is a percentage of one thread.
	return m.record(c, RequestPercentage, d.Seconds()*100, check)
}

// RecordBytes records produce request bytes (ProducerByteRate) or fetch response bytes
// (ConsumerByteRate) and returns the throttle time.
func (m *Manager) RecordBytes(t Type, user, clientID string, n int64) time.Duration {
	c := m.client(user, clientID)
	c.account.mu.Lock()
	if t == ProducerByteRate {
		c.account.bytesIn += n
	} else {
		c.account.bytesOut += n
	}
	c.account.mu.Unlock()
	return m.record(c, t, float64(n), true)
}

// RecordThrottle counts a throttle given to (user, clientID), for its accounting.
func (m *Manager) RecordThrottle(user, clientID string, d time.Duration) {
	if d <= 0 {
		return
	}
	a := m.client(user, clientID).account
	a.mu.Lock()
	a.throttled += d
	a.throttleCount++
	a.mu.Unlock()
}

func (m *Manager) record(c *client, t Type, value float64, check bool) time.Duration {
	s := c.sensors[t]
	if s == nil {
		return 0
	}
	now := m.clock()
	s.mu.Lock()
	s.lastUsed = now
	s.rate.record(value, now, m.windows, m.window)
	var throttle time.Duration
	var measured float64
	if check {
		measured = s.rate.measure(now, m.windows, m.window)
		throttle = throttleTime(measured, c.bounds[t], s.rate.span(now, m.windows, m.window))
	}
	s.mu.Unlock()
	if check {
		c.account.mu.Lock()
		c.account.lastRatio = measured / c.bounds[t]
		c.account.mu.Unlock()
	}
	if t == RequestPercentage {
		// Kafka bounds request-quota throttles to one window (ClientRequestQuotaManager).
		throttle = min(throttle, m.window)
	}
	return throttle
}

// clock is the Manager's monotonic time.
func (m *Manager) clock() time.Duration { return m.now().Sub(m.epoch) }

// client returns the resolution for (user, clientID), resolving on first use after a
// quota change.
func (m *Manager) client(user, clientID string) *client {
	k := Key{user, clientID}
	m.mu.RLock()
	c := m.clients[k]
	m.mu.RUnlock()
	if c != nil {
		return c
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if c = m.clients[k]; c != nil {
		return c
	}
	c = &client{account: m.accounts[k]}
	if c.account == nil {
		c.account = &account{lastUsed: m.clock()}
		m.accounts[k] = c.account
	}
	for _, t := range Types {
		bound, key, ok := m.resolveLocked(t, user, clientID)
		if !ok {
			continue
		}
		s := m.sensors[t][key]
		if s == nil {
			now := m.clock()
			s = &sensor{rate: newRate(m.windows, now), lastUsed: now}
			m.sensors[t][key] = s
		}
		c.sensors[t], c.bounds[t] = s, bound
	}
	m.clients[k] = c
	return c
}

// resolveLocked walks the precedence for one type; see doc.go.
func (m *Manager) resolveLocked(t Type, user, clientID string) (float64, Key, bool) {
	for _, l := range precedence(user, clientID) {
		if v, ok := m.quotas[l.entity][t]; ok {
			return v, l.key, true
		}
	}
	if d := m.defaults[t]; d > 0 {
		return d, Key{ClientID: clientID}, true
	}
	return 0, Key{}, false
}

// Usage is one (user, client-id)'s accounting, for metrics.
type Usage struct {
	Key
	TimeUsed      time.Duration // broker time (docs/ARCHITECTURE.md says what counts)
	BytesIn       int64         // produce request bytes
	BytesOut      int64         // fetch response bytes
	Throttled     time.Duration // sum of throttle times given
	ThrottleCount int64         // responses that carried a throttle
	QuotaRatio    float64       // measured rate over bound at the last quota check
	RequestQuota  float64       // request_percentage in force; 0 when none
}

// Usage returns every client's accounting, sorted by user then client-id.
func (m *Manager) Usage() []Usage {
	m.mu.RLock()
	keys := slices.Collect(maps.Keys(m.accounts))
	accounts := make([]*account, len(keys))
	for i, k := range keys {
		accounts[i] = m.accounts[k]
	}
	m.mu.RUnlock()
	out := make([]Usage, len(keys))
	for i, a := range accounts {
		a.mu.Lock()
		out[i] = Usage{Key: keys[i], TimeUsed: a.timeUsed, BytesIn: a.bytesIn, BytesOut: a.bytesOut,
			Throttled: a.throttled, ThrottleCount: a.throttleCount, QuotaRatio: a.lastRatio}
		a.mu.Unlock()
		out[i].RequestQuota, _ = m.Limit(RequestPercentage, keys[i].User, keys[i].ClientID)
	}
	slices.SortFunc(out, func(a, b Usage) int {
		if a.User != b.User {
			if a.User < b.User {
				return -1
			}
			return 1
		}
		switch {
		case a.ClientID < b.ClientID:
			return -1
		case a.ClientID > b.ClientID:
			return 1
		}
		return 0
	})
	return out
}
