package api

import (
	"context"
	"os"
	"sync"
	"time"
)

// Handler serves request frames. The server calls Handle from a connection's reader
// goroutine, one frame at a time and in arrival order; the returned Reply may complete
// later (a fetch long poll, an acks=all produce), and the server's writer sends replies in
// the order their requests arrived regardless of when each completes.
type Handler interface {
	// Handle decodes and serves one frame: the request header and body, without the
	// 4-byte size prefix. The frame is owned by the handler until its Reply completes.
	Handle(ctx context.Context, session *Session, frame []byte) *Reply
}

// Part is one piece of an encoded response: bytes in memory, or a range of an open file
// that the server's writer sends with sendfile. Exactly one of Bytes or File is set.
type Part struct {
	Bytes  []byte
	File   *os.File
	Offset int64 // position of the range in File
	Length int64 // bytes of the range
}

// Size is the number of bytes the part puts on the wire.
func (p Part) Size() int64 {
	if p.File != nil {
		return p.Length
	}
	return int64(len(p.Bytes))
}

// ReplyAction says what the server does with a completed reply.
type ReplyAction int

const (
	// ReplySend writes the reply's parts, framed with a size prefix.
	ReplySend ReplyAction = iota
	// ReplyNone sends nothing: the protocol expects no response (acks=0 produce).
	ReplyNone
	// ReplyClose closes the connection after the replies before it are written:
	// the protocol prescribes closing (an unparsable request, failed authentication).
	ReplyClose
)

// Reply is a response that may complete after Handle returns. It completes exactly once;
// the server waits on Done, then reads Action and Parts and, once the parts are written
// (or dropped because the connection closed), calls Release.
type Reply struct {
	done    chan struct{}
	once    sync.Once
	action  ReplyAction
	parts   []Part
	release func()
	// throttle is how long the server leaves the connection unread once the reply has
	// completed (KIP-219); set before completion, read after Done.
	throttle time.Duration
	// closeAfter asks the server to close the connection once the reply's parts are
	// written (failed authentication); set before completion, read after Done.
	closeAfter bool
	// timing holds the stage stamps for request metrics (stats.go); off unless the
	// dispatcher turned it on.
	timing replyTiming
}

// NewReply returns a reply that has not yet completed.
func NewReply() *Reply { return &Reply{done: make(chan struct{})} }

// Send completes the reply with parts (the response header and body, without the size
// prefix). release, if not nil, runs once the parts have left or will never leave; it
// lets file ranges pin their segments until sendfile is done with them.
func (r *Reply) Send(parts []Part, release func()) {
	r.complete(ReplySend, parts, release)
}

// SendBytes completes the reply with one in-memory buffer.
func (r *Reply) SendBytes(b []byte) { r.Send([]Part{{Bytes: b}}, nil) }

// NoResponse completes the reply with nothing to send.
func (r *Reply) NoResponse() { r.complete(ReplyNone, nil, nil) }

// CloseConnection completes the reply by asking the server to close the connection.
func (r *Reply) CloseConnection() { r.complete(ReplyClose, nil, nil) }

func (r *Reply) complete(action ReplyAction, parts []Part, release func()) {
	done := false
	r.once.Do(func() {
		r.action, r.parts, r.release = action, parts, release
		if r.timing.on && r.timing.completed.IsZero() { // stampEncode may have set it
			r.timing.completed = time.Now()
		}
		close(r.done)
		done = true
	})
	if !done && release != nil {
		release() // a second completion is a bug upstream; never leak what it pinned
	}
}

// SetThrottle asks the server not to read the connection for d once the reply has
// completed: the client is over a quota (KIP-219). Call it before completing the reply.
func (r *Reply) SetThrottle(d time.Duration) { r.throttle = d }

// CloseAfterSend asks the server to close the connection once this reply has been
// written, as the protocol prescribes after a failed authentication. Call it before
// completing the reply.
func (r *Reply) CloseAfterSend() { r.closeAfter = true }

// ClosesAfterSend reports whether the connection closes after this reply. Valid after Done.
func (r *Reply) ClosesAfterSend() bool { return r.closeAfter }

// Throttle is how long the connection stays unread after this reply. Valid after Done.
func (r *Reply) Throttle() time.Duration { return r.throttle }

// Done is closed when the reply has completed.
func (r *Reply) Done() <-chan struct{} { return r.done }

// completed reports whether the reply has completed, without waiting.
func (r *Reply) completed() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// Action says what to do with the completed reply. Valid after Done.
func (r *Reply) Action() ReplyAction { return r.action }

// Parts are the reply's pieces in wire order. Valid after Done.
func (r *Reply) Parts() []Part { return r.parts }

// Release lets go of whatever the reply's parts pin. Safe to call more than once.
func (r *Reply) Release() {
	if f := r.release; f != nil {
		r.release = nil
		f()
	}
}
