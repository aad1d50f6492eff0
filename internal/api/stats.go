package api

import (
	"reflect"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/stats"
)

// Request metrics (internal/stats) are fed from two places: the dispatcher stamps the
// stages it sees on the Reply (handling started, handler returned, response completed)
// and counts the error codes of each response it builds; the server's writer adds when
// the frame was read and when the response left, and records the whole through
// Reply.Stats. See docs/ARCHITECTURE.md for the stage definitions.

// APIName is the Kafka name of an API key ("Produce", "Fetch"), for metric labels.
func APIName(key int16) string {
	if name := kmsg.NameForKey(key); name != "" && name != "Unknown" {
		return name
	}
	return "Unknown"
}

// ErrorName is the Kafka name of an error code ("UNKNOWN_TOPIC_OR_PARTITION"), for
// metric labels.
func ErrorName(code int16) string {
	if err := kerr.ErrorForCode(code); err != nil {
		if e, ok := err.(*kerr.Error); ok {
			return e.Message
		}
	}
	return "UNKNOWN_SERVER_ERROR"
}

// replyTiming is what a Reply carries for the request metrics. The dispatcher's stamps
// are written before the reply completes (completed by the completing goroutine, before
// Done closes); the server's before it queues the reply. All are read after Done.
type replyTiming struct {
	on           bool // the dispatcher stamped this reply: record it
	key, version int16
	clientID     string
	requestBytes int64
	received     time.Time     // the frame was read (server)
	handled      time.Time     // Handle was entered
	local        time.Time     // the handler returned
	completed    time.Time     // the reply completed
	encode       time.Duration // encoding the response (charged to broker time when late)
}

// StartTiming turns stage stamps on for this reply: the request metrics will record it.
// The Dispatcher calls it with Handle's entry as handled; it is exported for handlers
// built without the Dispatcher (the server's tests).
func (r *Reply) StartTiming(h Header, frameBytes int, handled time.Time) {
	r.timing = replyTiming{on: true, key: h.Key, version: h.Version, clientID: h.ClientID,
		requestBytes: int64(frameBytes) + sizePrefixBytes, handled: handled}
}

// stampLocal records that the handler returned, at now (read here if zero). A reply the
// handler completed needs no stamp: Stats ends the local stage at its completion.
func (r *Reply) stampLocal(now time.Time) {
	if !r.timing.on || r.completed() {
		return
	}
	if now.IsZero() {
		now = time.Now()
	}
	r.timing.local = now
}

// stampEncode records the encoding of the response, from start to end, and end as the
// reply's completion: the caller completes it at once, and complete then reads no clock.
// Called by the goroutine that completes the reply, before it does.
func (r *Reply) stampEncode(start, end time.Time) {
	if r.timing.on && !r.completed() {
		r.timing.encode = end.Sub(start)
		r.timing.completed = end
	}
}

// SetReceived records when the server finished reading the request's frame. Call it
// before queueing the reply to the writer.
func (r *Reply) SetReceived(t time.Time) { r.timing.received = t }

// Timed reports whether the reply carries stage stamps (request metrics are on and the
// request was a valid one). Valid after Handle returned.
func (r *Reply) Timed() bool { return r.timing.on }

// Stats fills out the request's metrics once its response has been sent: dequeued is when
// the writer took it, sent when the write finished. It returns false for replies without
// stamps.
func (r *Reply) Stats(dequeued, sent time.Time, out *stats.Request) bool {
	t := &r.timing
	if !t.on {
		return false
	}
	*out = stats.Request{Key: t.key, Version: t.version, ClientID: t.clientID, RequestBytes: t.requestBytes}
	if r.action == ReplySend {
		out.ResponseBytes = sizePrefixBytes
		for _, p := range r.parts {
			out.ResponseBytes += p.Size()
		}
	}
	local := t.local
	if t.local.IsZero() || t.completed.Before(t.local) {
		local = t.completed // answered before the handler returned: nothing remote
	}
	out.Stages[stats.StageRequestQueue] = nonNegative(t.handled.Sub(t.received))
	out.Stages[stats.StageLocal] = nonNegative(local.Sub(t.handled))
	out.Stages[stats.StageRemote] = nonNegative(t.completed.Sub(local))
	out.Stages[stats.StageThrottle] = r.throttle
	out.Stages[stats.StageResponseQueue] = nonNegative(dequeued.Sub(t.completed))
	out.Stages[stats.StageResponseSend] = nonNegative(sent.Sub(dequeued))
	out.Total = nonNegative(sent.Sub(t.received))
	out.BrokerTime = out.Stages[stats.StageLocal]
	if local.Before(t.completed) {
		out.BrokerTime += t.encode // encoded after the handler returned (a long poll)
	}
	return true
}

// sizePrefixBytes is the response frame's size prefix.
const sizePrefixBytes = 4

func nonNegative(d time.Duration) time.Duration { return max(d, 0) }

// errorCounter counts one API's response error codes into its stats.
type errorCounter struct {
	api  *stats.API
	plan atomic.Pointer[errorPlan] // built from the response type on first use
}

// count counts the error codes in resp: Produce by hand (the hot one), every other kmsg
// response through a plan of where its type keeps ErrorCode fields, built once by
// reflection, so a response costs a walk over the fields that matter.
func (c *errorCounter) count(resp kmsg.Response) {
	if c == nil {
		return
	}
	if p, ok := resp.(*kmsg.ProduceResponse); ok {
		for i := range p.Topics {
			for j := range p.Topics[i].Partitions {
				c.api.Error(p.Topics[i].Partitions[j].ErrorCode)
			}
		}
		return
	}
	v := reflect.ValueOf(resp)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return
	}
	v = v.Elem()
	plan := c.plan.Load()
	if plan == nil || plan.typ != v.Type() {
		plan = newErrorPlan(v.Type(), 0)
		if plan == nil {
			plan = &errorPlan{typ: v.Type()}
		}
		c.plan.Store(plan)
	}
	plan.count(v, c.api)
}

// countFetched counts a fetch response as it is sent: the record bytes per partition
// (always; atomic adds) and, with metrics on, its error codes (not a kmsg type, so by
// hand).
func countFetched(c *errorCounter, resp *fetchResponse) {
	for i := range resp.topics {
		for j := range resp.topics[i].partitions {
			p := &resp.topics[i].partitions[j]
			if p.part != nil && p.records.Length > 0 {
				p.part.CountFetched(p.records.Length)
			}
		}
	}
	if c == nil {
		return
	}
	c.api.Error(resp.errorCode)
	for i := range resp.topics {
		for j := range resp.topics[i].partitions {
			c.api.Error(resp.topics[i].partitions[j].errorCode)
		}
	}
}

// errorPlan says where a struct type keeps error codes: its own int16 ErrorCode fields
// and the fields (structs, slices of structs) whose elements hold some.
type errorPlan struct {
	typ    reflect.Type
	codes  []int
	nested []nestedPlan
}

type nestedPlan struct {
	field int
	slice bool
	elem  *errorPlan
}

// maxPlanDepth bounds the type walk; kmsg's responses nest a few levels.
const maxPlanDepth = 8

// newErrorPlan returns the plan of struct type t, or nil if it holds no error code.
func newErrorPlan(t reflect.Type, depth int) *errorPlan {
	if t.Kind() != reflect.Struct || depth > maxPlanDepth {
		return nil
	}
	p := &errorPlan{typ: t}
	for i := range t.NumField() {
		f := t.Field(i)
		switch {
		case f.Name == "ErrorCode" && f.Type.Kind() == reflect.Int16:
			p.codes = append(p.codes, i)
		case f.Type.Kind() == reflect.Struct:
			if e := newErrorPlan(f.Type, depth+1); e != nil {
				p.nested = append(p.nested, nestedPlan{field: i, elem: e})
			}
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
			if e := newErrorPlan(f.Type.Elem(), depth+1); e != nil {
				p.nested = append(p.nested, nestedPlan{field: i, slice: true, elem: e})
			}
		}
	}
	if len(p.codes) == 0 && len(p.nested) == 0 {
		return nil
	}
	return p
}

func (p *errorPlan) count(v reflect.Value, a *stats.API) {
	for _, i := range p.codes {
		a.Error(int16(v.Field(i).Int()))
	}
	for _, n := range p.nested {
		f := v.Field(n.field)
		if !n.slice {
			n.elem.count(f, a)
			continue
		}
		for j := range f.Len() {
			n.elem.count(f.Index(j), a)
		}
	}
}
