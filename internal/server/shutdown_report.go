package server

import "encoding/binary"

// noteWaiting records which API the writer is about to wait for: a request frame starts
// with its API key. A frame already recycled (nil) is recorded as unknown (-1).
func (c *conn) noteWaiting(q queued) {
	key := int32(-1)
	if q.frame != nil && len(*q.frame) >= 2 {
		key = int32(binary.BigEndian.Uint16(*q.frame))
	}
	c.waitingOn.Store(key + 1)
}

// reportStuck logs, when a shutdown gives up waiting, each connection whose writer is
// still waiting for a reply and the API of that request: a reply that never completes
// holds a graceful stop for the whole shutdown timeout, and this is where to look.
func (s *Server) reportStuck() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if key := c.waitingOn.Load(); key != 0 {
			c.logger.Warn("server: shutdown timed out waiting for a reply", "api_key", key-1,
				"pending", c.pending.Load()) // the logger carries the listener and remote address
		}
	}
}
