// Package server owns the broker's sockets: TCP listeners, Kafka framing, and the two
// goroutines of each connection. It turns bytes into request frames for an api.Handler
// and sends the handler's replies back, in order. Handlers never touch sockets.
//
// Main types:
//   - Server (server.go): listeners, accept loops, the set of open connections, and
//     graceful Shutdown. Config carries everything in; New does no I/O, Start binds.
//   - conn (conn.go): one client connection. Its reader goroutine reads size-checked frames
//     (frame.go), calls Handler.Handle and queues the returned *api.Reply.
//   - the writer (writer.go): the connection's second goroutine. It takes replies in queue
//     order, waits for each to complete, and writes them: in-memory parts coalesced into
//     one writev (net.Buffers), file parts with positional sendfile (readpath.SendFile).
//
// Goroutine ownership, per connection:
//   - The reader owns the read side of the socket and the send side of the reply queue; it
//     closes the queue when it stops. It writes to the socket only a small reply its
//     handler completed at once, in memory, with nothing queued before it and no request
//     read in behind it (writeInline), holding writeMu as the writer does: a client waiting for
//     each response is then answered without a hand-off between goroutines.
//   - The writer owns the write side of the socket (under writeMu) and every reply once
//     queued: it calls Release on each exactly once, written or dropped, then recycles its
//     frame buffer. It is the last goroutine of a connection to exit and removes it from
//     the Server.
//   - Either may close the connection (conn.close), as may Shutdown; closing cancels the
//     context handed to Handle, which obliges handlers to complete their pending replies
//     promptly, because the writer waits for completion before releasing a dropped reply.
//
// The ordering rule: replies leave in the order their requests were read, whatever order
// they complete in; the protocol requires it. The queue between reader and writer is a
// channel whose capacity is the per-connection in-flight bound, so a client that pipelines
// without reading stops being read once that many replies wait. A later reply that has
// completed waits behind an earlier one that has not.
//
// Frame ownership: a frame buffer comes from a size-classed pool and belongs to the handler
// until its reply completes; replies may alias it (an echo), so the buffer returns to the
// pool only after the reply has been written or dropped and released.
//
// Idle connections (no frame read and no reply pending or written for ConnectionsMaxIdle)
// are closed by the reader, using a read deadline that is re-armed lazily on expiry rather
// than per frame. The writer uses a write deadline of the same length, so a client that
// stops reading is closed too.
package server
