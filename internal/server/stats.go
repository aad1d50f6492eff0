package server

import (
	"time"

	"github.com/nagare-dev/nagare/internal/api"
	"github.com/nagare-dev/nagare/internal/stats"
)

// Request metrics: the reader stamps when each frame was read (once the connection is
// no longer muted), the writer when it took a batch of replies and when the batch was
// written, and records each reply it wrote through its connection's stats handle (see
// internal/stats). With Config.Stats nil nothing here reads the clock.

// statsConn returns the connection's stats handle, or nil when metrics are off.
func (s *Server) statsConn(listener string, session *api.Session) *stats.Conn {
	if s.cfg.Stats == nil {
		return nil
	}
	return s.cfg.Stats.NewConn(listener, session)
}

// statsNow is the time for a stage stamp, or zero when metrics are off.
func (c *conn) statsNow() time.Time {
	if c.stats == nil {
		return time.Time{}
	}
	return time.Now()
}

// recordStats records one written reply (or one with nothing to write); under writeMu.
func (c *conn) recordStats(r *api.Reply, sent time.Time) {
	if c.stats == nil || !r.Stats(c.out.dequeued, sent, &c.out.request) {
		return
	}
	c.stats.Record(&c.out.request)
}

// closeStats takes the connection out of its client's open connections; writer only,
// when it ends, which is after the reader has closed the queue (dropRemaining), so no
// reply of the reader's own (writeInline) can be recording.
func (c *conn) closeStats() {
	if c.stats != nil {
		c.stats.Close()
	}
}
