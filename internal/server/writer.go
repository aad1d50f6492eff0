package server

import (
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/nagare-dev/nagare/internal/api"
	"github.com/nagare-dev/nagare/internal/readpath"
	"github.com/nagare-dev/nagare/internal/stats"
)

const (
	// maxBatch bounds the completed replies written with one writev.
	maxBatch = 64
	// maxIOV bounds the in-memory parts gathered before a write, so a reply made of many
	// small parts cannot grow the writer's slice without limit (Go splits at IOV_MAX).
	maxIOV = 1024
)

// writerState belongs to whoever holds the connection's writeMu: the writer goroutine
// for a batch, or the reader for a reply it writes itself (writeInline). held and
// hasHeld are the writer goroutine's alone.
type writerState struct {
	held      queued                           // received from the queue but not complete yet
	hasHeld   bool                             // held is set
	batch     []queued                         // the replies being written, in order
	iov       [][]byte                         // in-memory parts awaiting one writev
	bufs      net.Buffers                      // iov as consumed by WriteTo; a field so it does not escape per call
	prefixes  [maxBatch * sizePrefixBytes]byte // size prefix of batch[i] at i*4
	deadlined time.Duration                    // sinceBorn when the write deadline was last pushed
	dequeued  time.Time                        // when the batch's first reply was taken (stats.go)
	request   stats.Request                    // scratch for recordStats, so it does not escape
	appended  int                              // the batch's first replies wholly in iov or sent
	written   int                              // of those, the ones flushed: what the metrics record
}

// writeLoop writes replies in queue order until the queue closes or the connection
// fails, then closes the connection, releases whatever is left and removes the
// connection from the server. It is the connection's last goroutine to finish.
func (c *conn) writeLoop() {
	defer c.server.removeConn(c)
	defer c.closeStats()
	for c.writeNext() {
	}
	c.close()
	c.dropRemaining()
}

// writeNext writes the next reply and any completed ones queued behind it. It returns
// false when the connection is done: queue closed, connection closed, ReplyClose, or a
// write error.
func (c *conn) writeNext() bool {
	first, ok := c.nextQueued()
	if !ok {
		return false
	}
	c.noteWaiting(first)
	select {
	case <-first.reply.Done():
	case <-c.closing:
		c.drop(first)
		return false
	}
	c.waitingOn.Store(0)
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.out.dequeued = c.statsNow()
	return c.writeOut(c.collectCompleted(append(c.out.batch[:0], first)))
}

// writeInline writes a reply its handler completed at once from the reader itself, when
// nothing is queued before it, no further request is already read in, and the writer is
// idle: a client waiting for each response then gets it without the hand-off to the
// writer goroutine, a wake-up (often of another thread) that cost more than many
// handlers. A pipelining client's replies still go through the writer, which coalesces
// them into one writev. Only small replies held in memory (smallInMemory): file parts
// (fetch data) stay with the writer, so the reader never meets the disk. It returns
// whether the reply was taken (else the caller queues it) and whether the connection is
// still open.
func (c *conn) writeInline(reply *api.Reply, frame *[]byte) (taken, open bool) {
	if c.pending.Load() != 0 || c.in.Buffered() != 0 || !isDone(reply) || !smallInMemory(reply) || !c.writeMu.TryLock() {
		return false, true
	}
	defer c.writeMu.Unlock()
	select {
	case <-c.closing:
		return false, true // closing: queue it, and the writer drops (releases) it
	default:
	}
	// Only the reader adds to pending, and only the writer, under writeMu, takes from it:
	// it is still zero, so no earlier reply is waiting or being written.
	c.pending.Add(1)
	c.out.dequeued = c.statsNow()
	return true, c.writeOut(append(c.out.batch[:0], queued{reply: reply, frame: frame}))
}

// maxInlineBytes bounds a reply the reader writes itself: one that fits the socket
// buffers at once, so the reader is not held writing while the client, busy sending
// its next request, does not read (a pipelining client that reads and writes in turn
// would otherwise wait for the reader, and the reader for it). Produce, heartbeat,
// commit and small metadata replies are far below it.
const maxInlineBytes = 16 << 10

// smallInMemory reports whether a reply is all in memory and at most maxInlineBytes.
func smallInMemory(r *api.Reply) bool {
	size := 0
	for _, p := range r.Parts() {
		if p.File != nil {
			return false
		}
		if size += len(p.Bytes); size > maxInlineBytes {
			return false
		}
	}
	return true
}

// writeOut writes a batch of completed replies, then mutes, records and releases each;
// the caller holds writeMu. It returns false when the connection is done.
func (c *conn) writeOut(batch []queued) bool {
	open, err := c.writeBatch(batch)
	sent := c.statsNow()
	for i := range batch {
		c.mute(batch[i].reply.Throttle()) // from when the response left, as KIP-219 says
		if i < c.out.written {
			// Only what left: not the replies behind a close or a failed write.
			c.recordStats(batch[i].reply, sent)
		}
		c.finish(batch[i])
		batch[i] = queued{}
	}
	c.touch()
	if err != nil {
		c.logger.Debug("server: closing connection: write failed", "err", err)
	}
	if !open || err != nil {
		c.close() // under writeMu: the reader must not write behind a close (writeInline)
		return false
	}
	return true
}

// nextQueued returns the held reply, if any, else waits for the next one.
func (c *conn) nextQueued() (queued, bool) {
	if c.out.hasHeld {
		c.out.hasHeld = false
		q := c.out.held
		c.out.held = queued{}
		return q, true
	}
	q, ok := <-c.replies
	return q, ok
}

// collectCompleted appends queued replies that have already completed, stopping at the
// first that has not (it is held for the next round) or when none is waiting.
func (c *conn) collectCompleted(batch []queued) []queued {
	for len(batch) < maxBatch {
		select {
		case q, ok := <-c.replies:
			if !ok {
				return batch
			}
			if !isDone(q.reply) {
				c.out.held, c.out.hasHeld = q, true
				return batch
			}
			batch = append(batch, q)
		default:
			return batch
		}
	}
	return batch
}

// writeBatch writes completed replies in order. It returns open=false when a reply asks to
// close the connection (after the replies before it are written). Afterwards
// c.out.written says how many of the batch's first replies were written whole (or had
// nothing to write), for the metrics.
func (c *conn) writeBatch(batch []queued) (open bool, err error) {
	c.pushWriteDeadline()
	c.out.appended, c.out.written = 0, 0
	for i, q := range batch {
		switch action := q.reply.Action(); action {
		case api.ReplySend:
			if err := c.appendReply(i, q.reply.Parts()); err != nil {
				return false, err
			}
			c.out.appended = i + 1
			if q.reply.ClosesAfterSend() {
				c.logger.Debug("server: closing connection after its reply, as its handler asked")
				return false, c.flush()
			}
		case api.ReplyNone:
			c.out.appended = i + 1
		case api.ReplyClose:
			c.out.appended = i + 1
			c.logger.Debug("server: closing connection as its handler asked")
			return false, c.flush()
		default:
			return false, fmt.Errorf("server: reply with unknown action %d", action)
		}
	}
	return true, c.flush()
}

// appendReply adds one reply's size prefix and in-memory parts to the pending writev; a
// file part flushes what is pending, then goes out with sendfile.
func (c *conn) appendReply(slot int, parts []api.Part) error {
	size, err := replySize(parts)
	if err != nil {
		return err
	}
	prefix := c.out.prefixes[slot*sizePrefixBytes : (slot+1)*sizePrefixBytes : (slot+1)*sizePrefixBytes]
	binary.BigEndian.PutUint32(prefix, uint32(size))
	c.out.iov = append(c.out.iov, prefix)
	for _, p := range parts {
		if p.File != nil {
			if err := c.flush(); err != nil {
				return err
			}
			if err := c.sendFile(p); err != nil {
				return err
			}
			continue
		}
		if len(p.Bytes) > 0 {
			c.out.iov = append(c.out.iov, p.Bytes)
		}
		if len(c.out.iov) >= maxIOV {
			if err := c.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// replySize is the size prefix of a reply, checked to fit the protocol's int32.
func replySize(parts []api.Part) (int64, error) {
	var size int64
	for _, p := range parts {
		if p.File != nil && (p.Offset < 0 || p.Length < 0) {
			return 0, fmt.Errorf("server: reply file part [%d, +%d) of %s is invalid",
				p.Offset, p.Length, p.File.Name())
		}
		size += p.Size()
	}
	if size > math.MaxInt32 {
		return 0, fmt.Errorf("server: reply of %d bytes exceeds the protocol's limit", size)
	}
	return size, nil
}

// flush writes the pending in-memory parts with one writev (more if over the kernel's
// limit) and forgets them, so they do not pin frames or parts after their release. On
// success every reply appended so far has left: c.out.written catches up.
func (c *conn) flush() error {
	if len(c.out.iov) == 0 {
		c.out.written = c.out.appended
		return nil
	}
	c.out.bufs = c.out.iov
	n, err := c.out.bufs.WriteTo(c.netConn)
	c.metrics.sent.Add(float64(n))
	clear(c.out.iov)
	c.out.iov, c.out.bufs = c.out.iov[:0], nil
	if err != nil {
		return fmt.Errorf("server: write response: %w", err)
	}
	c.out.written = c.out.appended
	return nil
}

// sendFile sends one file part: positional sendfile on a TCP socket, a pread copy on
// anything else.
func (c *conn) sendFile(p api.Part) error {
	var n int64
	var err error
	if sc, ok := c.netConn.(syscall.Conn); ok {
		n, err = readpath.SendFileObserved(sc, p.File, p.Offset, p.Length, &c.server.sendfileLatency)
	} else {
		n, err = readpath.CopyRange(c.netConn, p.File, p.Offset, p.Length, nil)
	}
	c.metrics.sent.Add(float64(n))
	if err != nil {
		return fmt.Errorf("server: send file part: %w", err)
	}
	return nil
}

// pushWriteDeadline keeps the write deadline about ConnectionsMaxIdle ahead, so a client
// that stops reading is closed like an idle one. It moves the deadline only when an
// eighth of the period has passed, not on every batch.
func (c *conn) pushWriteDeadline() {
	idle := c.server.cfg.ConnectionsMaxIdle
	if idle <= 0 {
		return
	}
	now := c.sinceBorn()
	if c.out.deadlined != 0 && now-c.out.deadlined < idle/8 {
		return
	}
	c.out.deadlined = now
	c.netConn.SetWriteDeadline(c.born.Add(now + idle)) // an error means closed: writes will say so
}

// dropRemaining releases every reply the writer will not write: the held one and the
// rest of the queue, until the reader closes it.
func (c *conn) dropRemaining() {
	if c.out.hasHeld {
		c.out.hasHeld = false
		c.drop(c.out.held)
		c.out.held = queued{}
	}
	for q := range c.replies {
		c.drop(q)
	}
}

// drop waits for a reply that will not be written to complete, then releases it. The
// wait ends promptly because the connection's context is canceled once it is closing.
func (c *conn) drop(q queued) {
	<-q.reply.Done()
	c.finish(q)
}

// finish releases a written or dropped reply and recycles its frame.
func (c *conn) finish(q queued) {
	c.release(q.reply)
	if q.frame != nil {
		c.server.frames.put(q.frame)
	}
	c.pending.Add(-1)
}

// release runs the reply's release function; it is handler code, so a panic in it is
// recovered, logged and counted like one in Handle.
func (c *conn) release(r *api.Reply) {
	defer func() {
		if p := recover(); p != nil {
			c.metrics.panics.Inc()
			c.logger.Error("server: reply release panicked", "panic", p, "stack", string(debug.Stack()))
		}
	}()
	r.Release()
}

func isDone(r *api.Reply) bool {
	select {
	case <-r.Done():
		return true
	default:
		return false
	}
}
