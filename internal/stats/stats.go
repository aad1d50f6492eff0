package stats

import (
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Limits of the fixed tables the hot path indexes without bounds surprises.
const (
	// MaxAPIKey is the largest Kafka API key counted; larger keys are not counted.
	MaxAPIKey = 127
	// maxVersion is the largest API version counted per key; larger ones count here.
	maxVersion = 31
	// minErrorCode and maxErrorCode bound the Kafka error codes counted one by one;
	// codes outside count as maxErrorCode+1 ("other").
	minErrorCode  = -1
	maxErrorCode  = 190
	numErrorSlots = maxErrorCode - minErrorCode + 2
)

// Defaults for zero Config fields.
const (
	// DefaultMaxClients is nagare.metrics.max.clients' default.
	DefaultMaxClients = 1000
	// DefaultIdleExpiry is how long a client entry with no connection and no request is
	// kept: long enough that a scrape interval never misses a client that came and went.
	DefaultIdleExpiry = 5 * time.Minute
	// DefaultSampleInterval is the shortest interval rates for /v1/clients are computed
	// over.
	DefaultSampleInterval = time.Second
	// OtherClient is the client id (and principal) of the entry that counts every client
	// beyond the cap.
	OtherClient = "other"
)

// Config is what Stats needs; zero fields take the defaults above.
type Config struct {
	// MaxClients caps the client entries (nagare.metrics.max.clients).
	MaxClients int
	// IdleExpiry removes entries with no connection and no request for this long.
	IdleExpiry time.Duration
	// SampleInterval is the shortest period of the rates Clients reports.
	SampleInterval time.Duration
	// Listeners names the broker's listeners; a connection's listener index points here.
	Listeners []string
	// APIName names an API key for labels and JSON (the api package's names); nil uses
	// the number.
	APIName func(key int16) string
	// ErrorName names a Kafka error code for labels; nil uses the number.
	ErrorName func(code int16) string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Stats aggregates requests per API and per client. See doc.go.
type Stats struct {
	cfg   Config
	epoch time.Time // monotonic base of lastSeen stamps

	apis       [MaxAPIKey + 1]atomic.Pointer[API] // allocated on an API's first request
	stripes    int                                // per API: GOMAXPROCS at New, at most maxStripes
	nextStripe atomic.Uint32                      // deals stripes to connections

	// evictions counts removed entries; a connection counted as "other" re-resolves
	// when it changes, as room may have freed up.
	evictions atomic.Uint64
	other     *client // the entry for clients beyond the cap; never removed

	mu        sync.Mutex
	clients   map[clientKey]*client // guarded by mu; at most cfg.MaxClients
	folded    atomic.Uint64         // resolutions folded into other, for the cap's metric
	lastSwept time.Time             // guarded by mu
	sample    sample                // guarded by mu; see sample.go
}

// New returns empty Stats.
func New(cfg Config) *Stats {
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = DefaultMaxClients
	}
	if cfg.IdleExpiry <= 0 {
		cfg.IdleExpiry = DefaultIdleExpiry
	}
	if cfg.SampleInterval <= 0 {
		cfg.SampleInterval = DefaultSampleInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.APIName == nil {
		cfg.APIName = func(key int16) string { return strconv.Itoa(int(key)) }
	}
	if cfg.ErrorName == nil {
		cfg.ErrorName = func(code int16) string { return strconv.Itoa(int(code)) }
	}
	if len(cfg.Listeners) == 0 {
		cfg.Listeners = []string{""}
	}
	s := &Stats{cfg: cfg, epoch: cfg.Now(), clients: map[clientKey]*client{},
		stripes: min(max(runtime.GOMAXPROCS(0), 1), maxStripes)}
	s.other = newClient(clientKey{principal: OtherClient, clientID: OtherClient}, len(cfg.Listeners))
	return s
}

// Stage is one of the parts a request's time is split into, Kafka's request metrics'.
type Stage int

// The stages, in the order a request goes through them.
const (
	// StageRequestQueue is from the frame being read to its handling starting (Kafka's
	// RequestQueueTimeMs). The reader hands each frame straight to the handler, so it is
	// near zero. Time a frame waited on a connection muted by a throttle is not here: it
	// is the throttled response's StageThrottle, and Kafka does not read a muted channel.
	StageRequestQueue Stage = iota
	// StageLocal is the handler: decoding, the handler's own work and, when the response
	// is built before the handler returns, its encoding (LocalTimeMs).
	StageLocal
	// StageRemote is from the handler returning to the response completing: a fetch long
	// poll, a warm-up wait, a group rebalance (RemoteTimeMs).
	StageRemote
	// StageThrottle is the throttle the response carried (ThrottleTimeMs).
	StageThrottle
	// StageResponseQueue is from the response completing to the writer taking it: the
	// wait for earlier responses on the connection (ResponseQueueTimeMs).
	StageResponseQueue
	// StageResponseSend is the writer sending the batch the response went out in
	// (ResponseSendTimeMs; shared by the responses of one writev).
	StageResponseSend
	numStages
)

// stageNames are the "stage" label values.
var stageNames = [numStages]string{"request_queue", "local", "remote", "throttle", "response_queue", "response_send"}

// String is the stage's label value.
func (s Stage) String() string { return stageNames[s] }

// Request is one answered request, as the server's writer reports it once the response
// has left (or was not to be sent).
type Request struct {
	Key, Version  int16
	ClientID      string
	RequestBytes  int64 // the frame, size prefix included
	ResponseBytes int64 // the response, size prefix included; 0 when none is sent
	Stages        [numStages]time.Duration
	Total         time.Duration // frame read (unmuted) to response sent
	BrokerTime    time.Duration // what quotas meter: see docs/ARCHITECTURE.md
}

// API is one API key's aggregates.
type API struct {
	errors  [numErrorSlots]atomic.Uint64 // counted by the dispatcher, not per connection
	stripes []apiStripe                  // Stats.stripes of them
}

// apiStripe is a share of an API's per-request counters. Each connection records into
// one stripe (Conn.stripe, dealt round robin) and a scrape adds them up, so connections
// on different CPUs seldom write the same cache lines: with one set of counters, two
// CPUs recording the same API at once got through fewer requests than one alone
// (BenchmarkRecordParallel, docs/BENCHMARKS.md).
type apiStripe struct {
	versions [maxVersion + 1]atomic.Uint64
	stages   [numStages]histogram // microseconds
	total    histogram            // microseconds
	reqSize  histogram            // bytes
	respSize histogram            // bytes
}

// maxStripes bounds the stripes per API (each about 3.7 KiB).
const maxStripes = 8

// API returns key's aggregates, created on first use; nil for a key out of range. The
// dispatcher counts response error codes into it.
func (s *Stats) API(key int16) *API {
	if key < 0 || key > MaxAPIKey {
		return nil
	}
	if a := s.apis[key].Load(); a != nil {
		return a
	}
	s.apis[key].CompareAndSwap(nil, &API{stripes: make([]apiStripe, s.stripes)})
	return s.apis[key].Load()
}

// Error counts one error code in a response (Kafka's ErrorsPerSec); code 0 (NONE) is not
// counted. Safe on a nil API.
func (a *API) Error(code int16) {
	if a == nil || code == 0 {
		return
	}
	a.errors[errorSlot(code)].Add(1)
}

func errorSlot(code int16) int {
	if code < minErrorCode || code > maxErrorCode {
		return numErrorSlots - 1
	}
	return int(code) - minErrorCode
}

func (a *API) record(r *Request, stripe int) {
	st := &a.stripes[stripe]
	st.versions[min(max(r.Version, 0), maxVersion)].Add(1)
	for i, d := range r.Stages {
		st.stages[i].observe(d.Microseconds())
	}
	st.total.observe(r.Total.Microseconds())
	st.reqSize.observe(r.RequestBytes)
	if r.ResponseBytes > 0 {
		st.respSize.observe(r.ResponseBytes)
	}
}

// sinceEpoch is now as a monotonic offset, for lastSeen stamps.
func (s *Stats) sinceEpoch() int64 { return int64(s.cfg.Now().Sub(s.epoch)) }
