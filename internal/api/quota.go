package api

import (
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/quota"
)

// produceKey is Produce's api key: its request bytes count against producer_byte_rate.
const produceKey = 0

// A request's broker time is charged once, by whichever comes first: its response being
// built (respond, sendFetch, noResponse), which then also decides the throttle; or its
// handler returning with the response still to come (a long poll, acks=all, a group
// join), which charges the time so far without judging it. See docs/ARCHITECTURE.md.
const (
	chargeHandling int32 = iota // the handler is running; nothing charged yet
	chargeDone                  // the time up to the handler's return or the response is charged
)

// requestQuota is a request's quota state, inside request.
type requestQuota struct {
	manager      *quota.Manager // nil: quotas off
	start        time.Time      // Handle's entry, monotonic
	charge       atomic.Int32   // chargeHandling, then chargeDone
	byteThrottle time.Duration  // from the produce byte rate, decided at decode
	// mutationThrottle is from the controller mutation rate, decided per topic by the
	// handler (mutation_quota.go).
	mutationThrottle time.Duration
	exempt           bool // a broker's own request: charged to no client (exemptFromQuota)
}

// fromBroker says whether a fetch naming replica came from a broker: one the cluster
// knows by that id, authorized for CLUSTER_ACTION. Kafka exempts any follower fetch;
// naming a registered broker at least keeps a client from escaping its quota with an
// arbitrary replica id where no authorizer is configured.
func (d *Dispatcher) fromBroker(r *request, replica int32) bool {
	if replica < 0 {
		return false
	}
	if _, ok := d.cfg.Metadata.Image().Broker(replica); !ok {
		return false
	}
	return d.authorizedCluster(r, acl.OpClusterAction)
}

// exemptFromQuota takes a broker's own request, authorized by CLUSTER_ACTION (a
// follower's fetch, transaction markers), out of client quotas, as Kafka exempts cluster
// actions: its broker time still feeds the overhead calibration but is charged to no
// client, and its response carries no throttle and does not mute the connection. A
// follower throttled by the default request quota would stall every acks=all producer of
// the partitions it follows; replication has its own quota (replication_throttle.go).
// The handler calls it before anything is charged.
func (r *request) exemptFromQuota() { r.quota.exempt = true }

// chargeHandled charges the time from Handle's entry to now, once; it returns whether
// this call did. check says whether to judge the rate (and so return a throttle). now is
// the caller's clock read, if it made one, so that the metrics' stamps and the charge
// share it; zero reads the clock here.
func (r *request) chargeHandled(check bool, now time.Time) (charged bool, throttle time.Duration) {
	q := &r.quota
	if q.manager == nil || !q.charge.CompareAndSwap(chargeHandling, chargeDone) {
		return false, 0
	}
	if now.IsZero() {
		now = time.Now()
	}
	if q.exempt {
		q.manager.RecordExempt(now.Sub(q.start), true)
		return true, 0
	}
	return true, q.manager.RecordRequest(r.session.Principal(), r.header.ClientID, now.Sub(q.start), check)
}

// pending reports whether the request's broker time is still to be charged: quotas are
// on and no response has been built yet.
func (q *requestQuota) pending() bool {
	return q.manager != nil && q.charge.Load() == chargeHandling
}

// throttleNow decides the throttle as the response is built: the request rate with this
// request's time included, and the byte rates, whichever is longest (Kafka's max of the
// bandwidth and request throttles). responseBytes > 0 counts against consumer_byte_rate.
// decided is the clock read the decision made (zero with quotas off): a response encoded
// next starts then (encodeStart).
func (r *request) throttleNow(responseBytes int64) (throttle time.Duration, decided time.Time) {
	q := &r.quota
	if q.manager == nil {
		return 0, time.Time{}
	}
	decided = time.Now()
	charged, throttle := r.chargeHandled(true, decided)
	if q.exempt {
		return 0, decided
	}
	if !charged {
		// The handler returned earlier and charged its time; judge the rate as it is.
		throttle = q.manager.RecordTime(r.session.Principal(), r.header.ClientID, 0, true)
	}
	throttle = max(throttle, q.byteThrottle, q.mutationThrottle)
	if responseBytes > 0 {
		throttle = max(throttle, q.manager.RecordBytes(quota.ConsumerByteRate, r.session.Principal(), r.header.ClientID, responseBytes))
	}
	q.manager.RecordThrottle(r.session.Principal(), r.header.ClientID, throttle)
	r.reply.SetThrottle(throttle)
	return throttle, decided
}

// chargeEncode charges the encoding that followed the throttle decision, unjudged (as
// Kafka's recordNoThrottle charges what follows its decision).
func (r *request) chargeEncode(d time.Duration) {
	switch m := r.quota.manager; {
	case m == nil:
	case r.quota.exempt:
		m.RecordExempt(d, false)
	default:
		m.RecordTime(r.session.Principal(), r.header.ClientID, d, false)
	}
}

// throttleMillis is a throttle as the protocol's int32 milliseconds.
func throttleMillis(d time.Duration) int32 {
	return int32(min(d.Milliseconds(), 1<<31-1))
}

// throttleSetter is every kmsg response with a throttle_time_ms field.
type throttleSetter interface{ SetThrottle(int32) }

// setThrottle puts the throttle in resp if its type carries one; the older versions of a
// type without the field just do not encode it.
func setThrottle(resp kmsg.Response, d time.Duration) {
	if t, ok := resp.(throttleSetter); ok && d > 0 {
		t.SetThrottle(throttleMillis(d))
	}
}
