package metadata

import (
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/nagare-dev/nagare/internal/testcert"
)

// TestMuxStreamBoundsPendingConns floods a TLS controller listener with idle connections
// that never start their handshake: no more than maxPendingConns are ever in progress,
// the oldest are closed to admit newer ones, so a legitimate node still connects while
// the flood lasts, and the slots come back when the flood's connections close or time
// out.
func TestMuxStreamBoundsPendingConns(t *testing.T) {
	ca := testcert.NewCA(t, "cluster CA")
	security := nodeTLS(t, ca, ca.Pool)
	logger := slog.New(slog.DiscardHandler)
	server, err := listenMux("127.0.0.1:0", nil, security, logger, echoByte)
	if err != nil {
		t.Fatal(err)
	}
	server.firstByteTimeout = 2 * time.Second
	server.start()
	defer server.wait()
	defer server.Close()
	client, err := newMuxStream("127.0.0.1:0", nil, security, logger, func(net.Conn) {})
	if err != nil {
		t.Fatal(err)
	}
	defer client.wait()
	defer client.Close()
	addr := server.Addr().String()

	peak := watchPeak(t, server)
	const excess = 16
	flood := openIdle(t, addr, maxPendingConns+excess)
	waitFor(t, "the oldest connections evicted", func() bool { return server.rejected.Load() == excess })
	if n := server.pendingConns(); n != maxPendingConns {
		t.Fatalf("%d connections pending, want %d", n, maxPendingConns)
	}
	for _, c := range flood[:excess] { // the oldest were closed by the server
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("an evicted connection is still open")
		}
	}
	checkEcho(t, client, addr) // a node gets in at the bound, pushing out an idle one

	// Closed by their peer: the slots come back at once.
	for _, c := range flood {
		c.Close()
	}
	waitFor(t, "the closed connections' slots back", func() bool { return server.pendingConns() == 0 })
	checkEcho(t, client, addr)

	// Left idle: the slots come back after the first-byte timeout.
	flood = openIdle(t, addr, maxPendingConns)
	defer closeAll(flood)
	waitFor(t, "the idle connections pending", func() bool { return server.pendingConns() == maxPendingConns })
	waitFor(t, "the idle connections timed out", func() bool { return server.pendingConns() == 0 })
	checkEcho(t, client, addr)

	if p := peak.Load(); p > maxPendingConns {
		t.Errorf("%d connections were pending at once, the bound is %d", p, maxPendingConns)
	}
}

// echoByte is a forwarding server that answers one byte with itself.
func echoByte(c net.Conn) {
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err == nil {
		_, _ = c.Write(b[:])
	}
}

// checkEcho connects as a node would and has one byte echoed over the forwarding route.
func checkEcho(t *testing.T, client *muxStream, addr string) {
	t.Helper()
	c, err := client.Dial(raft.ServerAddress(addr), 5*time.Second)
	if err != nil {
		t.Fatalf("a node cannot connect: %v", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte{forwardMagic, 'x'}); err != nil {
		t.Fatalf("write: %v", err)
	}
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil || b[0] != 'x' {
		t.Fatalf("echo: %q %v", b[:], err)
	}
}

// openIdle opens n TCP connections to addr that send nothing, as a peer that never starts
// its TLS handshake.
func openIdle(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	for range n {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			closeAll(conns)
			t.Fatalf("open idle connection %d: %v", len(conns), err)
		}
		conns = append(conns, c)
	}
	return conns
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		c.Close()
	}
}

// watchPeak samples the stream's pending connections until the test ends and keeps the
// highest count seen.
func watchPeak(t *testing.T, m *muxStream) *atomic.Int64 {
	var peak atomic.Int64
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			if n := int64(m.pendingConns()); n > peak.Load() {
				peak.Store(n)
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return &peak
}
