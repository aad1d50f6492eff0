package server

import (
	"context"
	"encoding/binary"
	"math"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/nagare-dev/nagare/internal/api"
	"github.com/nagare-dev/nagare/internal/stats"
)

// Ops of timedHandler, whose replies carry stage stamps as the Dispatcher's do.
const (
	opTimed     = 'T' // args: delay ms, throttle ms (uint16 each); replies corr id + "ok"
	opTimedGate = 'G' // replies (timed) once the gate closes
)

type timedHandler struct{ gate chan struct{} }

func (h *timedHandler) Handle(ctx context.Context, _ *api.Session, frame []byte) *api.Reply {
	reply := api.NewReply()
	switch frame[8] {
	case opClose:
		reply.CloseConnection()
		return reply
	case opTimedGate:
		reply.StartTiming(api.Header{ClientID: "timed"}, len(frame), time.Now())
		go func() {
			<-h.gate
			reply.SendBytes(append(frame[4:8:8], "ok"...))
		}()
		return reply
	}
	reply.StartTiming(api.Header{ClientID: "timed"}, len(frame), time.Now())
	delay := time.Duration(binary.BigEndian.Uint16(frame[9:])) * time.Millisecond
	reply.SetThrottle(time.Duration(binary.BigEndian.Uint16(frame[11:])) * time.Millisecond)
	go func() {
		time.Sleep(delay)
		reply.SendBytes(append(frame[4:8:8], "ok"...))
	}()
	return reply
}

// ok is timedHandler's response to req (size-prefixed): its correlation id and "ok".
func ok(req []byte) []byte { return append(req[8:12:12], "ok"...) }

func timed(corr int32, delay, throttle time.Duration) []byte {
	args := binary.BigEndian.AppendUint16(nil, uint16(delay/time.Millisecond))
	return request(corr, opTimed, binary.BigEndian.AppendUint16(args, uint16(throttle/time.Millisecond))...)
}

// pipeServer runs a server with request metrics on st, in a synctest bubble, and
// returns the client end of one connection. Shut the server down before the bubble ends.
func pipeServer(t *testing.T, h api.Handler, st *stats.Stats) (*Server, net.Conn) {
	s := New(Config{Stats: st}, h, nil)
	s.state = stateRunning // no listeners: the connection is handed in directly
	server, client := net.Pipe()
	s.serveConn(server, "pipe", s.metrics.forListener("pipe"))
	return s, client
}

// gatherStats returns st's metric families by name.
func gatherStats(t *testing.T, st *stats.Stats) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(st.Collector())
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range families {
		out[f.GetName()] = f
	}
	return out
}

// stageSum is the sum, in seconds, of API "0"'s histogram for stage ("" for the
// request duration).
func stageSum(t *testing.T, families map[string]*dto.MetricFamily, stage string) float64 {
	t.Helper()
	name := "nagare_request_stage_seconds"
	if stage == "" {
		name = "nagare_request_duration_seconds"
	}
	for _, m := range families[name].GetMetric() {
		for _, l := range m.GetLabel() {
			if stage == "" || l.GetName() == "stage" && l.GetValue() == stage {
				return m.GetHistogram().GetSampleSum()
			}
		}
	}
	t.Fatalf("no %s for stage %q", name, stage)
	return 0
}

// A request read while its connection is muted for an earlier response's throttle
// waits out the mute before it is stamped: the throttle counts once, in the throttled
// response's throttle stage, not again in the next request's queue time and duration.
func TestMutedTimeNotInNextRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := stats.New(stats.Config{})
		s, c := pipeServer(t, &timedHandler{}, st)
		defer s.Shutdown(context.Background())
		first := timed(1, 10*time.Millisecond, 100*time.Millisecond)
		send(t, c, first)
		expectResponse(t, c, ok(first)) // at 10ms; then muted to 110ms
		synctest.Wait()                 // the writer has muted the connection
		second := timed(2, 0, 0)
		send(t, c, second) // read at 10ms, handled at 110ms
		expectResponse(t, c, ok(second))
		synctest.Wait() // recorded
		f := gatherStats(t, st)
		if got := stageSum(t, f, "throttle"); math.Abs(got-0.1) > 1e-9 {
			t.Errorf("throttle stage = %vs, want 0.1", got)
		}
		if got := stageSum(t, f, "request_queue"); got != 0 {
			t.Errorf("request_queue stage = %vs, want 0: the mute counted again", got)
		}
		if got := stageSum(t, f, ""); math.Abs(got-0.01) > 1e-9 {
			t.Errorf("request duration = %vs, want 0.01 (the first's delay)", got)
		}
	})
}

// Replies in a batch behind a close are never written, so they are not recorded: the
// client's bytes out are what left.
func TestUnwrittenRepliesNotRecorded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := stats.New(stats.Config{})
		h := &timedHandler{gate: make(chan struct{})}
		s, c := pipeServer(t, h, st)
		defer s.Shutdown(context.Background())
		gated := request(1, opTimedGate)
		send(t, c, gated, request(2, opClose), timed(3, 0, 0))
		synctest.Wait() // all three handled and queued; the writer waits for the first
		close(h.gate)   // one batch: written, close, never written
		expectResponse(t, c, ok(gated))
		expectClosed(t, c)
		synctest.Wait()
		f := gatherStats(t, st)
		if got := f["nagare_requests_total"].GetMetric()[0].GetCounter().GetValue(); got != 1 {
			t.Errorf("requests recorded = %v, want 1", got)
		}
		if got := f["nagare_client_sent_bytes_total"].GetMetric()[0].GetCounter().GetValue(); got != 4+6 {
			t.Errorf("bytes out = %v, want 10 (one response)", got)
		}
	})
}
