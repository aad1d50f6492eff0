package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nagare-dev/nagare/internal/api"
)

// Test frames: api key (2), api version (2), correlation id (4), then an op byte and its
// arguments. testHandler acts on the op; responses carry the correlation id first.
const (
	opEcho  = 'e' // args: delay ms (uint16); replies with frame[4:], aliasing the frame
	opNone  = 'n' // no response
	opClose = 'c' // close the connection
	opPanic = 'p' // panic in Handle
	opBlock = 'b' // reply (echo) once the handler's gate opens or the connection closes
	opFile  = 'f' // args: offset, length (int64 each); replies corr id, file range, "end"
)

type testHandler struct {
	calls atomic.Int32
	gate  chan struct{} // opBlock waits for it to close
	file  *os.File      // for opFile
}

func newTestHandler() *testHandler { return &testHandler{gate: make(chan struct{})} }

func (h *testHandler) Handle(ctx context.Context, _ *api.Session, frame []byte) *api.Reply {
	h.calls.Add(1)
	reply := api.NewReply()
	op := byte(opEcho)
	if len(frame) > 8 {
		op = frame[8]
	}
	switch op {
	case opNone:
		reply.NoResponse()
	case opClose:
		reply.CloseConnection()
	case opPanic:
		panic("test handler panic")
	case opBlock:
		go func() {
			select {
			case <-h.gate:
			case <-ctx.Done():
			}
			reply.SendBytes(frame[4:])
		}()
	case opFile:
		off := int64(binary.BigEndian.Uint64(frame[9:]))
		n := int64(binary.BigEndian.Uint64(frame[17:]))
		reply.Send([]api.Part{{Bytes: frame[4:8]}, {File: h.file, Offset: off, Length: n}, {Bytes: []byte("end")}}, nil)
	default:
		delay := time.Duration(0)
		if len(frame) >= 11 {
			delay = time.Duration(binary.BigEndian.Uint16(frame[9:])) * time.Millisecond
		}
		if delay == 0 {
			reply.SendBytes(frame[4:])
			break
		}
		go func() {
			select {
			case <-time.After(delay):
			case <-ctx.Done():
			}
			reply.SendBytes(frame[4:])
		}()
	}
	return reply
}

// request builds a size-prefixed test frame.
func request(corr int32, op byte, args ...byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(9+len(args)))
	b = append(b, 0, 1, 0, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = append(b, op)
	return append(b, args...)
}

func echo(corr int32, delay time.Duration, payload ...byte) []byte {
	args := binary.BigEndian.AppendUint16(nil, uint16(delay/time.Millisecond))
	return request(corr, opEcho, append(args, payload...)...)
}

// echoed is the response the test handler sends for an echo or block request.
func echoed(req []byte) []byte { return req[8:] }

type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// startServer starts a server on a loopback port 0 and shuts it down at cleanup.
func startServer(t testing.TB, h api.Handler, cfg Config) (*Server, *logBuffer) {
	t.Helper()
	if len(cfg.Listeners) == 0 {
		cfg.Listeners = []ListenerConfig{{Name: "test", Addr: "127.0.0.1:0"}}
	}
	logs := &logBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := New(cfg, h, logger)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s, logs
}

func dial(t testing.TB, s *Server) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func send(t testing.TB, c net.Conn, frames ...[]byte) {
	t.Helper()
	if _, err := c.Write(bytes.Join(frames, nil)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// readResponse reads one size-prefixed response.
func readResponse(c net.Conn) ([]byte, error) {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var prefix [4]byte
	if _, err := io.ReadFull(c, prefix[:]); err != nil {
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(prefix[:]))
	if _, err := io.ReadFull(c, body); err != nil {
		return nil, err
	}
	return body, nil
}

func expectResponse(t testing.TB, c net.Conn, want []byte) {
	t.Helper()
	got, err := readResponse(c)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("response = %x, want %x", got, want)
	}
}

// expectClosed reads until the server closes the connection; it fails on a timeout.
func expectClosed(t testing.TB, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("connection still open")
	}
}

// roundTrip checks a connection still works.
func roundTrip(t testing.TB, c net.Conn, corr int32) {
	t.Helper()
	req := echo(corr, 0, []byte("ping")...)
	send(t, c, req)
	expectResponse(t, c, echoed(req))
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkNoLeak fails the test if goroutines outlive it. Call it first, so its cleanup
// runs after the server's Shutdown.
func checkNoLeak(t *testing.T) {
	t.Helper()
	base := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > base {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Fatalf("goroutines: %d, want at most %d\n%s", runtime.NumGoroutine(), base,
					buf[:runtime.Stack(buf, true)])
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func TestRepliesInRequestOrder(t *testing.T) {
	checkNoLeak(t)
	s, _ := startServer(t, newTestHandler(), Config{})
	c := dial(t, s)
	var reqs [][]byte
	for i, delay := range []time.Duration{200, 150, 100, 50, 0} {
		reqs = append(reqs, echo(int32(i+1), delay*time.Millisecond, byte(i)))
	}
	send(t, c, reqs...) // pipelined: all in flight at once; later ones complete first
	for _, req := range reqs {
		expectResponse(t, c, echoed(req))
	}
}

func TestPipelinedManyInFlight(t *testing.T) {
	checkNoLeak(t)
	s, _ := startServer(t, newTestHandler(), Config{MaxInFlight: 8})
	c := dial(t, s)
	var reqs [][]byte
	for i := range 60 {
		payload := bytes.Repeat([]byte{byte(i)}, (i*7919)%5000)
		if i == 30 {
			payload = bytes.Repeat([]byte{7}, 2<<20) // past the pooled size classes
		}
		reqs = append(reqs, echo(int32(i), time.Duration((i*37)%20)*time.Millisecond, payload...))
	}
	go func() { c.Write(bytes.Join(reqs, nil)) }()
	for _, req := range reqs {
		expectResponse(t, c, echoed(req))
	}
}

func TestInFlightBoundStopsReading(t *testing.T) {
	checkNoLeak(t)
	const maxInFlight = 2
	h := newTestHandler()
	s, _ := startServer(t, h, Config{MaxInFlight: maxInFlight})
	c := dial(t, s)
	var reqs [][]byte
	for i := range 10 {
		reqs = append(reqs, request(int32(i), opBlock))
	}
	send(t, c, reqs...)
	// The writer holds one reply, the queue holds maxInFlight, and the reader holds one
	// it cannot queue; nothing more is read.
	waitFor(t, "the reader to fill the queue", func() bool { return h.calls.Load() == maxInFlight+2 })
	time.Sleep(100 * time.Millisecond)
	if n := h.calls.Load(); n != maxInFlight+2 {
		t.Fatalf("handled %d requests while replies were pending, want %d", n, maxInFlight+2)
	}
	close(h.gate)
	for _, req := range reqs {
		expectResponse(t, c, echoed(req))
	}
}

func TestReplyNoneSendsNothing(t *testing.T) {
	checkNoLeak(t)
	s, _ := startServer(t, newTestHandler(), Config{})
	c := dial(t, s)
	first, third, fifth := echo(1, 30*time.Millisecond), echo(3, 60*time.Millisecond), echo(5, 0)
	send(t, c, first, request(2, opNone), third, request(4, opNone), fifth)
	expectResponse(t, c, echoed(first))
	expectResponse(t, c, echoed(third))
	expectResponse(t, c, echoed(fifth))
	roundTrip(t, c, 6)
}

func TestReplyCloseAfterEarlierReplies(t *testing.T) {
	checkNoLeak(t)
	s, _ := startServer(t, newTestHandler(), Config{})
	c := dial(t, s)
	first := echo(1, 50*time.Millisecond)
	send(t, c, first, request(2, opClose), echo(3, 0))
	expectResponse(t, c, echoed(first))
	expectClosed(t, c)
}

func TestBadFrameSizeClosesOnlyThatConnection(t *testing.T) {
	cases := []struct {
		name   string
		size   int32
		reason string
	}{
		{"too large", 1025, rejectTooLarge},
		{"negative", -1, rejectTooSmall},
		{"most negative", -1 << 31, rejectTooSmall},
		{"zero", 0, rejectTooSmall},
		{"below header", 7, rejectTooSmall},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkNoLeak(t)
			registry := prometheus.NewRegistry()
			s, logs := startServer(t, newTestHandler(), Config{MaxRequestBytes: 1024, Registry: registry})
			good, bad := dial(t, s), dial(t, s)
			roundTrip(t, good, 1)
			send(t, bad, binary.BigEndian.AppendUint32(nil, uint32(tc.size)), make([]byte, 64))
			expectClosed(t, bad)
			roundTrip(t, good, 2)
			if log := logs.String(); !strings.Contains(log, fmt.Sprintf("size=%d", tc.size)) ||
				!strings.Contains(log, "remote="+bad.LocalAddr().String()) {
				t.Errorf("log lacks the size and remote address:\n%s", log)
			}
			if got := metricValue(t, registry, "nagare_server_frames_rejected_total", "reason", tc.reason); got != 1 {
				t.Errorf("frames rejected (%s) = %v, want 1", tc.reason, got)
			}
		})
	}
}

func TestLargestFrameAccepted(t *testing.T) {
	s, _ := startServer(t, newTestHandler(), Config{MaxRequestBytes: 1024})
	c := dial(t, s)
	req := echo(1, 0, make([]byte, 1024-11)...)
	send(t, c, req)
	expectResponse(t, c, echoed(req))
}

func TestTruncatedFrameThenEOF(t *testing.T) {
	checkNoLeak(t)
	s, logs := startServer(t, newTestHandler(), Config{})
	good, bad := dial(t, s), dial(t, s)
	send(t, bad, binary.BigEndian.AppendUint32(nil, 100), make([]byte, 10))
	bad.(*net.TCPConn).CloseWrite()
	expectClosed(t, bad)
	roundTrip(t, good, 1)
	waitFor(t, "the truncation to be logged", func() bool { return strings.Contains(logs.String(), "truncated frame") })
}

func TestIdleConnectionClosed(t *testing.T) {
	checkNoLeak(t)
	const idle = 300 * time.Millisecond
	h := newTestHandler()
	s, _ := startServer(t, h, Config{ConnectionsMaxIdle: idle})
	start := time.Now() // before the server's clock for these connections starts
	quiet, busy, waiting := dial(t, s), dial(t, s), dial(t, s)
	blocked := request(1, opBlock)
	send(t, waiting, blocked) // pending longer than idle: must stay open

	closed := make(chan time.Duration, 1)
	go func() {
		quiet.SetReadDeadline(time.Now().Add(10 * time.Second))
		io.Copy(io.Discard, quiet)
		closed <- time.Since(start)
	}()
	for i := range 9 { // active for three idle periods
		roundTrip(t, busy, int32(i))
		time.Sleep(idle / 3)
	}
	select {
	case after := <-closed:
		if after < idle {
			t.Fatalf("quiet connection closed after %v, before the idle time %v", after, idle)
		}
	default:
		t.Fatal("quiet connection still open after three idle periods")
	}
	close(h.gate)
	expectResponse(t, waiting, echoed(blocked))
	roundTrip(t, busy, 100)
	expectClosed(t, waiting) // idle again once its reply is written
}

func TestShutdownWaitsForInFlightReply(t *testing.T) {
	checkNoLeak(t)
	h := newTestHandler()
	s, _ := startServer(t, h, Config{})
	c := dial(t, s)
	slow := echo(1, 300*time.Millisecond, []byte("slow")...)
	send(t, c, slow)
	waitFor(t, "the request to reach the handler", func() bool { return h.calls.Load() == 1 })

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	shutdown := make(chan error, 1)
	go func() { shutdown <- s.Shutdown(ctx) }()
	expectResponse(t, c, echoed(slow))
	expectClosed(t, c)
	if err := <-shutdown; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := net.DialTimeout("tcp", s.Addr().String(), time.Second); err == nil {
		t.Fatal("listener still accepting after Shutdown")
	}
	if err := s.Start(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Shutdown: %v, want ErrClosed", err)
	}
}

func TestShutdownForcedByContext(t *testing.T) {
	checkNoLeak(t)
	h := newTestHandler()
	s := New(Config{Listeners: []ListenerConfig{{Addr: "127.0.0.1:0"}}}, h, nil)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	c := dial(t, s)
	send(t, c, request(1, opBlock)) // completes only when its connection closes
	waitFor(t, "the request to reach the handler", func() bool { return h.calls.Load() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want DeadlineExceeded", err)
	}
	expectClosed(t, c)
}

func TestLifecycleErrors(t *testing.T) {
	s := New(Config{}, newTestHandler(), nil)
	if err := s.Start(); !errors.Is(err, ErrNoListeners) {
		t.Fatalf("Start without listeners: %v", err)
	}
	s = New(Config{Listeners: []ListenerConfig{{Addr: "127.0.0.1:0"}, {Name: "second", Addr: "127.0.0.1:0"}}}, newTestHandler(), nil)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); !errors.Is(err, ErrStarted) {
		t.Fatalf("second Start: %v", err)
	}
	if addrs := s.Addrs(); len(addrs) != 2 || addrs[0].String() == addrs[1].String() {
		t.Fatalf("Addrs = %v", addrs)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	if err := New(Config{}, nil, nil).Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown before Start: %v", err)
	}
}

func TestHandlerPanicClosesOnlyThatConnection(t *testing.T) {
	checkNoLeak(t)
	registry := prometheus.NewRegistry()
	s, logs := startServer(t, newTestHandler(), Config{Registry: registry})
	good, bad := dial(t, s), dial(t, s)
	roundTrip(t, good, 1)
	send(t, bad, echo(1, 0), request(2, opPanic))
	expectClosed(t, bad)
	roundTrip(t, good, 2)
	if log := logs.String(); !strings.Contains(log, "handler panicked") || !strings.Contains(log, "stack=") {
		t.Errorf("log lacks the panic and its stack:\n%s", log)
	}
	if got := metricValue(t, registry, "nagare_server_handler_panics_total", "listener", "test"); got != 1 {
		t.Errorf("handler panics = %v, want 1", got)
	}
}

func TestMetrics(t *testing.T) {
	registry := prometheus.NewRegistry()
	s := New(Config{Listeners: []ListenerConfig{{Name: "test", Addr: "127.0.0.1:0"}}, Registry: registry}, newTestHandler(), nil)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	c := dial(t, s)
	req := echo(1, 0, []byte("hello")...)
	roundTripReq := func() { send(t, c, req); expectResponse(t, c, echoed(req)) }
	roundTripReq()
	for name, want := range map[string]float64{
		"nagare_server_connections_accepted_total": 1,
		"nagare_server_connections_open":           1,
		"nagare_server_received_bytes_total":       float64(len(req)),
		"nagare_server_sent_bytes_total":           float64(4 + len(echoed(req))),
	} {
		// The writer counts bytes sent once its write returns, which may be just after
		// the client has read them: give it a moment.
		got := metricValue(t, registry, name, "listener", "test")
		for deadline := time.Now().Add(2 * time.Second); got != want && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
			got = metricValue(t, registry, name, "listener", "test")
		}
		if got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if families, _ := registry.Gather(); len(families) != 0 {
		t.Errorf("metrics still registered after Shutdown: %d families", len(families))
	}
}

// metricValue returns the value of the series of name that has label=value.
func metricValue(t *testing.T, registry *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	families, err := registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue() + m.GetGauge().GetValue()
				}
			}
		}
	}
	return 0
}
