package metadata

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// TestForwardConnIdleTimeout: the forwarding server closes a connection on which no
// request comes for forwardIdleTimeout (a peer that sent the magic byte and then nothing),
// the wait starting again at each request, and a forwarder whose pooled connection was
// closed that way dials anew.
func TestForwardConnIdleTimeout(t *testing.T) {
	const idle = 500 * time.Millisecond
	saved := forwardIdleTimeout
	forwardIdleTimeout = idle
	t.Cleanup(func() { forwardIdleTimeout = saved }) // runs after the Store's Close
	addr := freeAddrs(t, 1)[0]
	s := openReady(t, clusterConfig(t, t.TempDir(), 1, addr, map[int32]string{1: addr}))

	// Silent after the magic byte: closed once idle has passed.
	c := dialForward(t, addr)
	start := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(testTimeout))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("idle forwarding connection: read %v, want EOF (closed by the server)", err)
	}
	if took := time.Since(start); took < idle*9/10 {
		t.Fatalf("idle forwarding connection closed after %v, before the idle timeout %v", took, idle)
	}

	// Requests keep it open past the timeout; silence then closes it.
	c = dialForward(t, addr)
	for range 4 {
		readIndex(t, c)
		time.Sleep(idle / 3)
	}
	_ = c.SetReadDeadline(time.Now().Add(testTimeout))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("forwarding connection idle after requests: read %v, want EOF", err)
	}

	// The forwarder's pooled connection, closed by the server while idle, is not reused.
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	for i := range 2 {
		if i > 0 {
			time.Sleep(2 * idle)
		}
		if _, _, err := s.fwd.call(ctx, addr, reqReadIndex, nil); err != nil {
			t.Fatalf("forwarded read index %d: %v", i, err)
		}
	}
}

// dialForward opens a forwarding connection to addr, closed when the test ends.
func dialForward(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write([]byte{forwardMagic}); err != nil {
		t.Fatal(err)
	}
	return c
}

// readIndex sends a read index request on c and checks that an index is answered.
func readIndex(t *testing.T, c net.Conn) {
	t.Helper()
	frame := binary.BigEndian.AppendUint32(nil, 5)
	frame = append(frame, reqReadIndex)
	frame = binary.BigEndian.AppendUint32(frame, uint32(testTimeout.Milliseconds()))
	_ = c.SetDeadline(time.Now().Add(testTimeout))
	if _, err := c.Write(frame); err != nil {
		t.Fatal(err)
	}
	answer, err := readFrame(c)
	if err != nil {
		t.Fatalf("read index answer: %v", err)
	}
	if _, _, err := decodeAnswer(answer); err != nil {
		t.Fatalf("read index answer: %v", err)
	}
}
