package server

import (
	"context"
	"io"
	"net"
	"testing"
	"testing/synctest"
	"time"
)

// The idle rule with exact times, over in-memory pipes in a synctest bubble: a quiet
// connection closes after ConnectionsMaxIdle, activity pushes that back, and a pending
// reply keeps the connection open however long it takes.
func TestIdleTimesSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const idle = time.Second
		h := newTestHandler()
		s := New(Config{ConnectionsMaxIdle: idle}, h, nil)
		s.state = stateRunning // no listeners: connections are handed in directly
		lm := s.metrics.forListener("pipe")
		pipe := func() net.Conn {
			server, client := net.Pipe()
			s.serveConn(server, "pipe", lm)
			return client
		}
		start := time.Now()
		closedAt := func(c net.Conn) time.Duration {
			io.Copy(io.Discard, c)
			return time.Since(start)
		}

		quiet := make(chan time.Duration)
		go func() { quiet <- closedAt(pipe()) }()

		active := make(chan time.Duration)
		go func() {
			c := pipe()
			time.Sleep(600 * time.Millisecond)
			roundTrip(t, c, 1)
			active <- closedAt(c)
		}()

		pending := make(chan time.Duration)
		go func() {
			c := pipe()
			req := request(2, opBlock)
			send(t, c, req)
			expectResponse(t, c, echoed(req)) // at 2.5s, when the gate opens
			pending <- closedAt(c)
		}()

		if got := <-quiet; got != idle {
			t.Errorf("quiet connection closed at %v, want %v", got, idle)
		}
		if got := <-active; got != 1600*time.Millisecond {
			t.Errorf("connection active at 600ms closed at %v, want 1.6s", got)
		}
		time.Sleep(2500*time.Millisecond - time.Since(start))
		close(h.gate)
		if got := <-pending; got != 3500*time.Millisecond {
			t.Errorf("connection whose reply was written at 2.5s closed at %v, want 3.5s", got)
		}
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}
