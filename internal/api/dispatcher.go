package api

import (
	"context"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/config"
	"github.com/nagare-dev/nagare/internal/group"
	"github.com/nagare-dev/nagare/internal/metadata"
	"github.com/nagare-dev/nagare/internal/partition"
	"github.com/nagare-dev/nagare/internal/quota"
	"github.com/nagare-dev/nagare/internal/readpath"
	"github.com/nagare-dev/nagare/internal/share"
	"github.com/nagare-dev/nagare/internal/stats"
	"github.com/nagare-dev/nagare/internal/txn"
)

// Config is what the handlers need from the rest of the broker.
type Config struct {
	NodeID     int32
	ClusterID  string
	Metadata   *metadata.Store
	Partitions *partition.Registry
	Broker     *config.Broker
	// ProducerIDs hands out producer ids that are never reused, even across restarts.
	ProducerIDs ProducerIDAllocator
	// Groups coordinates the consumer groups whose __consumer_offsets partitions this
	// broker leads.
	Groups *group.Coordinator
	// Shares holds the share-partitions of the partitions this broker leads and the
	// members' share sessions (KIP-932); nil answers share fetches UNSUPPORTED_VERSION.
	Shares *share.Manager
	// Transactions coordinates the transactional ids whose __transaction_state
	// partitions this broker leads; nil answers COORDINATOR_NOT_AVAILABLE.
	Transactions *txn.Coordinator
	// TxnMarkers learns the outcome of transactions whose markers WriteTxnMarkers wrote
	// to __consumer_offsets partitions (the group coordinator's onTransactionCompleted);
	// nil: nobody listens.
	TxnMarkers TxnMarkerListener
	// Quotas holds clients to their quotas (KIP-219 throttling); nil serves everyone
	// unthrottled.
	Quotas *quota.Manager
	// LeaderReplicationQuota is leader.replication.throttled.rate: replica fetches of
	// throttled replicas not in the ISR wait while it is exceeded (replication_throttle.go);
	// nil throttles nothing.
	LeaderReplicationQuota *quota.ReplicationQuota
	// Authorizer enforces ACLs; nil allows everything and the ACL APIs answer
	// SECURITY_DISABLED (a broker whose listeners authenticate nobody).
	Authorizer *acl.Authorizer
	// Stats receives request metrics (error codes here, stage stamps on each Reply for
	// the server to record); nil turns per-request accounting off.
	Stats *stats.Stats
	// SASL serves SaslHandshake and SaslAuthenticate on SASL listeners.
	SASL SASLConfig
	// ListenerAddr returns this broker's advertised address on the named listener, so
	// that Metadata, FindCoordinator and DescribeCluster lead a client back to the
	// listener it came on (Kafka answers with the request's listener); nil, or ok=false,
	// uses the registered address.
	ListenerAddr func(listener string) (host string, port int32, ok bool)
	// ReadPath checks fetched ranges for page cache residency and warms cold ones; nil
	// (or disabled) sends ranges to the writer as read.
	ReadPath *readpath.Pool
	Logger   *slog.Logger
	// OnPanic, if set, counts a panic recovered on a goroutine a handler started (guard),
	// with the request's listener: the server counts those on its readers itself, and
	// handler_panics_total must see both.
	OnPanic func(listener string)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// ProducerIDAllocator returns fresh producer ids.
type ProducerIDAllocator interface {
	NextProducerID(ctx context.Context) (int64, error)
}

// Dispatcher decodes request frames and routes them to the handler for their API key.
type Dispatcher struct {
	cfg  Config
	apis [maxAPIKey + 1]*apiEntry
	// errors counts response error codes per API key (stats.go); nil entries when
	// Config.Stats is nil.
	errors [maxAPIKey + 1]*errorCounter
	// versions is the ApiVersions list (18_api_versions.go), built once.
	versions []kmsg.ApiVersionsResponseApiKey
}

// NewDispatcher builds the dispatcher from the registry table.
func NewDispatcher(cfg Config) *Dispatcher {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	d := &Dispatcher{cfg: cfg}
	for i := range registry {
		e := &registry[i]
		d.apis[e.key] = e
		if cfg.Stats != nil {
			d.errors[e.key] = &errorCounter{api: cfg.Stats.API(e.key)}
		}
	}
	d.versions = d.apiKeys()
	return d
}

// request is one decoded request on its way through a handler.
type request struct {
	header   Header
	body     kmsg.Request
	session  *Session
	reply    *Reply
	received time.Time
	quota    requestQuota
	errors   *errorCounter // nil: request metrics off
}

// Handle implements Handler.
func (d *Dispatcher) Handle(ctx context.Context, s *Session, frame []byte) *Reply {
	start := time.Now() // broker time starts here: see docs/ARCHITECTURE.md
	if s.AwaitingRawSASLToken() {
		return d.handleRawSASLToken(ctx, s, frame) // no request header: KIP-152 v0 framing
	}
	reply := NewReply()
	h, body, err := parseHeader(frame)
	if err != nil {
		d.cfg.Logger.Warn("closing connection: unparsable request header", "remote", s.RemoteAddr, "err", err)
		reply.CloseConnection()
		return reply
	}
	if reason := d.saslGate(s, h.Key); reason != "" {
		d.cfg.Logger.Info("closing connection: "+reason, "remote", s.RemoteAddr, "listener", s.Listener,
			"client_id", h.ClientID, "api", kmsg.NameForKey(h.Key))
		reply.CloseConnection()
		return reply
	}
	e := d.entry(h.Key)
	if h.Key == apiVersionsKey && (h.Version < e.min || h.Version > e.max) {
		d.unsupportedAPIVersions(h, reply)
		return reply
	}
	if e == nil || h.Version < e.min || h.Version > e.max {
		d.cfg.Logger.Warn("closing connection: unsupported api or version", "remote", s.RemoteAddr,
			"client_id", h.ClientID, "api", kmsg.NameForKey(h.Key), "key", h.Key, "version", h.Version)
		reply.CloseConnection()
		return reply
	}
	req := kmsg.RequestForKey(h.Key)
	req.SetVersion(h.Version)
	if err := req.ReadFrom(body); err != nil {
		d.cfg.Logger.Warn("closing connection: malformed request", "remote", s.RemoteAddr,
			"client_id", h.ClientID, "api", kmsg.NameForKey(h.Key), "version", h.Version, "err", err)
		reply.CloseConnection()
		return reply
	}
	r := &request{header: h, body: req, session: s, reply: reply, received: d.cfg.Now()}
	if m := d.cfg.Quotas; m != nil {
		r.quota.manager, r.quota.start = m, start
		if h.Key == produceKey {
			// Kafka counts the whole request against producer_byte_rate.
			r.quota.byteThrottle = m.RecordBytes(quota.ProducerByteRate, s.Principal(), h.ClientID, int64(len(frame)))
		}
	}
	if d.cfg.Stats != nil {
		r.errors = d.errors[h.Key]
		reply.StartTiming(h, len(frame), start)
	}
	e.handle(d, ctx, r)
	r.handlerReturned()
	return reply
}

// spawn runs fn, the rest of r's work, on a goroutine of its own: a long poll, a wait
// for replication or warm-up, anything that must not hold the connection's reader.
func (d *Dispatcher) spawn(r *request, fn func()) {
	go func() {
		defer d.guard(r)
		fn()
	}()
}

// guard, deferred first in every goroutine of a request off the reader, stands in for
// the server's panic guard, which covers only the reader: a panic closes the request's
// connection, as one in a handler does, instead of the broker.
func (d *Dispatcher) guard(r *request) {
	if p := recover(); p != nil {
		d.cfg.Logger.Error("request panicked off the reader; closing its connection", "api_key", r.header.Key,
			"panic", p, "stack", string(debug.Stack()))
		if d.cfg.OnPanic != nil {
			d.cfg.OnPanic(r.session.Listener)
		}
		r.reply.CloseConnection() // a no-op if the request already answered
	}
}

// handlerReturned stamps the end of the local stage and charges the time so far when the
// response is still to come, with one clock read between them, and none when the
// handler already completed the reply (the stamps of its response serve).
func (r *request) handlerReturned() {
	var now time.Time
	if (r.reply.timing.on && !r.reply.completed()) || r.quota.pending() {
		now = time.Now()
	}
	r.reply.stampLocal(now)
	r.chargeHandled(false, now) // a response still to come: charge the time up to here
}

func (d *Dispatcher) entry(key int16) *apiEntry {
	if key < 0 || int(key) >= len(d.apis) {
		return nil
	}
	return d.apis[key]
}

// respond encodes resp with the request's version and completes the reply, with the
// throttle the client's quotas call for set in the response and on the reply.
func (r *request) respond(resp kmsg.Response) {
	throttle, decided := r.throttleNow(0)
	setThrottle(resp, throttle)
	start := r.encodeStart(decided)
	b := encodeResponse(r.header, resp)
	r.encoded(start, start)
	r.errors.count(resp)
	r.reply.SendBytes(b)
}

// encodeStart is when encoding a response starts: at, the clock read the throttle
// decision just made, if any; else now; zero when neither quotas nor request metrics
// want the encoding's time, so that a broker with both off reads no clock for it.
func (r *request) encodeStart(at time.Time) time.Time {
	switch {
	case r.quota.manager == nil && !r.reply.timing.on:
		return time.Time{}
	case !at.IsZero():
		return at
	}
	return time.Now()
}

// encoded stamps the encoding that started at start for the metrics and charges the
// quota from chargeFrom (start, unless the caller already charged part of it), with one
// clock read that also stands for the reply's completion, which follows at once. A zero
// start (nothing wants it) does nothing.
func (r *request) encoded(start, chargeFrom time.Time) {
	if start.IsZero() {
		return
	}
	end := time.Now()
	r.chargeEncode(end.Sub(chargeFrom))
	r.reply.stampEncode(start, end)
}

// noResponse completes a request the protocol does not answer (acks=0), still charging
// its time and muting the connection if the client is over its quota.
func (r *request) noResponse() {
	r.throttleNow(0)
	r.reply.NoResponse()
}

// closeConnection answers by closing the connection, where no response can carry an
// error (a failed acks=0 produce); the time is charged as for any answer.
func (r *request) closeConnection() {
	r.throttleNow(0)
	r.reply.CloseConnection()
}

// encodeResponse writes the response header and body. ApiVersions always answers with
// header v0, so a client that sent a version we do not speak can still read it.
func encodeResponse(h Header, resp kmsg.Response) []byte {
	resp.SetVersion(h.Version)
	buf := make([]byte, 0, 128)
	buf = kbin.AppendInt32(buf, h.CorrelationID)
	if resp.IsFlexible() && h.Key != apiVersionsKey {
		buf = append(buf, 0) // no header tags
	}
	return resp.AppendTo(buf)
}
