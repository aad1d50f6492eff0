package stats

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

type fakeSession struct {
	principal     string
	name, version string
}

func (f *fakeSession) Principal() string                      { return f.principal }
func (f *fakeSession) ClientSoftware() (name, version string) { return f.name, f.version }

// fakeClock is a settable clock for expiry and rates.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newTestStats(t testing.TB, cfg Config) (*Stats, *fakeClock) {
	t.Helper()
	clock := &fakeClock{now: time.Unix(1_000_000, 0)}
	cfg.Now = clock.Now
	cfg.APIName = func(key int16) string { return map[int16]string{0: "Produce", 1: "Fetch", 18: "ApiVersions"}[key] }
	return New(cfg), clock
}

func request(key int16, clientID string) *Request {
	r := &Request{Key: key, Version: 9, ClientID: clientID, RequestBytes: 100, ResponseBytes: 40,
		Total: 3 * time.Millisecond, BrokerTime: time.Millisecond}
	r.Stages[StageLocal] = time.Millisecond
	r.Stages[StageRemote] = 2 * time.Millisecond
	r.Stages[StageThrottle] = 5 * time.Millisecond
	return r
}

// gather collects s's metrics into name -> labels -> value (histograms: sample count).
func gather(t testing.TB, s *Stats) map[string]map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(s.Collector())
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]map[string]float64{}
	for _, f := range families {
		series := map[string]float64{}
		for _, m := range f.GetMetric() {
			series[labelString(m)] = value(m)
		}
		out[f.GetName()] = series
	}
	return out
}

func labelString(m *dto.Metric) string {
	s := ""
	for _, l := range m.GetLabel() {
		s += fmt.Sprintf("%s=%s,", l.GetName(), l.GetValue())
	}
	return s
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}

func TestRecordAttributesToClients(t *testing.T) {
	s, _ := newTestStats(t, Config{Listeners: []string{"PLAINTEXT"}})
	alice := s.NewConn("PLAINTEXT", &fakeSession{principal: "alice", name: "franz-go", version: "1.0"})
	bob := s.NewConn("PLAINTEXT", &fakeSession{principal: "ANONYMOUS"})
	alice.Record(request(18, "app-a"))
	for range 3 {
		alice.Record(request(0, "app-a"))
	}
	bob.Record(request(1, "app-b"))
	s.API(0).Error(3)
	s.API(0).Error(0) // NONE: not counted

	m := gather(t, s)
	want := map[string]map[string]float64{
		"nagare_client_requests_total": {
			"api=ApiVersions,client_id=app-a,principal=alice,": 1,
			"api=Produce,client_id=app-a,principal=alice,":     3,
			"api=Fetch,client_id=app-b,principal=ANONYMOUS,":   1,
		},
		"nagare_client_received_bytes_total":      {"client_id=app-a,principal=alice,": 400, "client_id=app-b,principal=ANONYMOUS,": 100},
		"nagare_client_sent_bytes_total":          {"client_id=app-a,principal=alice,": 160},
		"nagare_client_broker_time_seconds_total": {"client_id=app-a,principal=alice,": 0.004},
		"nagare_client_throttle_seconds_total":    {"client_id=app-b,principal=ANONYMOUS,": 0.005},
		"nagare_client_connections":               {"client_id=app-a,listener=PLAINTEXT,principal=alice,": 1},
		"nagare_client_info":                      {"client_id=app-a,principal=alice,software_name=franz-go,software_version=1.0,": 1},
		"nagare_requests_total":                   {"api=Produce,version=9,": 3, "api=Fetch,version=9,": 1},
		"nagare_request_errors_total":             {"api=Produce,error=3,": 1},
		"nagare_request_stage_seconds":            {"api=Produce,stage=remote,": 3},
		"nagare_clients_tracked":                  {"": 2},
	}
	for name, series := range want {
		for labels, v := range series {
			if got, ok := m[name][labels]; !ok || got != v {
				t.Errorf("%s{%s} = %v (present %v), want %v", name, labels, got, ok, v)
			}
		}
	}
	alice.Close()
	if got := gather(t, s)["nagare_client_connections"]["client_id=app-a,listener=PLAINTEXT,principal=alice,"]; got != 0 {
		t.Errorf("connections after Close = %v, want 0", got)
	}
}

// A storm of random client ids on many connections must not grow the table past the
// cap: the rest are counted as "other", and the exported series stay bounded.
func TestClientCapUnderStorm(t *testing.T) {
	const maxClients = 100
	s, _ := newTestStats(t, Config{MaxClients: maxClients})
	sess := &fakeSession{principal: "ANONYMOUS"}
	conns := make([]*Conn, 50)
	for i := range conns {
		conns[i] = s.NewConn("", sess)
	}
	for i := range 10_000 {
		conns[i%len(conns)].Record(request(0, fmt.Sprintf("storm-%d", rand.Uint64())))
	}
	if got := s.Tracked(); got > maxClients {
		t.Fatalf("tracked %d clients, cap %d", got, maxClients)
	}
	m := gather(t, s)
	if n := len(m["nagare_client_requests_total"]); n > maxClients+1 {
		t.Errorf("%d client request series, want at most %d", n, maxClients+1)
	}
	other := m["nagare_client_requests_total"]["api=Produce,client_id=other,principal=other,"]
	if other < 10_000-maxClients {
		t.Errorf("other counted %v requests, want at least %d", other, 10_000-maxClients)
	}
	var total uint64
	for _, v := range s.Clients().Clients {
		total += v.Requests
	}
	if total != 10_000 {
		t.Errorf("requests across clients = %d, want 10000", total)
	}
}

// Idle entries expire, so the cap frees up for new clients, and a connection counted as
// "other" moves to its own entry.
func TestIdleClientsExpire(t *testing.T) {
	s, clock := newTestStats(t, Config{MaxClients: 2, IdleExpiry: time.Minute})
	sess := &fakeSession{principal: "ANONYMOUS"}
	for _, id := range []string{"a", "b"} {
		c := s.NewConn("", sess)
		c.Record(request(0, id))
		c.Close()
	}
	late := s.NewConn("", sess)
	late.Record(request(0, "c"))
	if late.client != s.other {
		t.Fatalf("third client with a full table: got entry %+v, want other", late.client.key)
	}
	clock.Advance(2 * time.Minute)
	s.Sweep()
	if got := s.Tracked(); got != 0 {
		t.Fatalf("tracked %d after expiry, want 0", got)
	}
	late.Record(request(0, "c"))
	if late.client == s.other || late.client.key.clientID != "c" {
		t.Fatalf("after expiry the connection is still counted as other")
	}
	// An entry with an open connection never expires.
	clock.Advance(2 * time.Minute)
	s.Sweep()
	if got := s.Tracked(); got != 1 {
		t.Fatalf("tracked %d, want the open connection's entry kept", got)
	}
}

// An idle client leaves /metrics after IdleExpiry with nothing but scrapes: Collect
// sweeps, so no /v1/clients reader or full table is needed.
func TestIdleClientLeavesMetrics(t *testing.T) {
	s, clock := newTestStats(t, Config{IdleExpiry: time.Minute})
	sess := &fakeSession{principal: "ANONYMOUS"}
	gone := s.NewConn("", sess)
	gone.Record(request(0, "gone"))
	gone.Close()
	kept := s.NewConn("", sess)
	kept.Record(request(0, "kept"))
	const goneSeries, keptSeries = "api=Produce,client_id=gone,principal=ANONYMOUS,", "api=Produce,client_id=kept,principal=ANONYMOUS,"
	clock.Advance(59 * time.Second)
	if _, ok := gather(t, s)["nagare_client_requests_total"][goneSeries]; !ok {
		t.Fatalf("client gone before its idle time")
	}
	clock.Advance(time.Second)
	m := gather(t, s)
	if _, ok := m["nagare_client_requests_total"][goneSeries]; ok {
		t.Errorf("idle client still exported after IdleExpiry")
	}
	if _, ok := m["nagare_client_requests_total"][keptSeries]; !ok {
		t.Errorf("client with an open connection swept")
	}
	if got := m["nagare_clients_evicted_total"][""]; got != 1 {
		t.Errorf("evicted = %v, want 1", got)
	}
}

func TestLabelValue(t *testing.T) {
	long := strings.Repeat("é", MaxLabelBytes) // 2 bytes a rune: the cut falls inside one
	for _, in := range []string{"ok", "bad\xff", "\xff\xfe", long, strings.Repeat("x", 32<<10) + "\xff"} {
		got := LabelValue(in)
		if !utf8.ValidString(got) || len(got) > MaxLabelBytes {
			t.Errorf("LabelValue(%.20q) = %.20q (%d bytes)", in, got, len(got))
		}
	}
	if got := LabelValue("ok"); got != "ok" {
		t.Errorf("LabelValue(ok) = %q", got)
	}
	if got := LabelValue(long); len(got) != MaxLabelBytes || got != long[:MaxLabelBytes] {
		t.Errorf("LabelValue cut a multi-byte string to %d bytes", len(got))
	}
}

// A client id that is not UTF-8, or is 32 KiB long, must not break the scrape (a label
// value client_golang rejects fails every metric), and two ids that sanitise alike
// share one entry rather than export duplicate series.
func TestClientIDsUnfitForLabels(t *testing.T) {
	s, _ := newTestStats(t, Config{})
	sess := &fakeSession{principal: "ANONYMOUS"}
	for _, id := range []string{"good", "bad\xff", "bad\xfe", strings.Repeat("x", 32<<10)} {
		c := s.NewConn("", sess)
		c.Record(request(0, id))
	}
	bad := s.NewConn("", &fakeSession{principal: "user\xff"})
	bad.Record(request(0, "good"))
	m := gather(t, s) // the pedantic registry fails on an invalid or duplicate series
	series := m["nagare_client_requests_total"]
	for labels, want := range map[string]float64{
		"api=Produce,client_id=good,principal=ANONYMOUS,":                                       1,
		"api=Produce,client_id=bad\uFFFD,principal=ANONYMOUS,":                                  2,
		"api=Produce,client_id=" + strings.Repeat("x", MaxLabelBytes) + ",principal=ANONYMOUS,": 1,
		"api=Produce,client_id=good,principal=user\uFFFD,":                                      1,
	} {
		if got := series[labels]; got != want {
			t.Errorf("nagare_client_requests_total{%.60s} = %v, want %v", labels, got, want)
		}
	}
	if len(series) != 4 {
		t.Errorf("%d client series, want 4: %v", len(series), series)
	}
}

func TestClientsRates(t *testing.T) {
	s, clock := newTestStats(t, Config{})
	c := s.NewConn("", &fakeSession{principal: "ANONYMOUS"})
	s.Sample()
	for range 10 {
		c.Record(request(0, "busy"))
	}
	clock.Advance(2 * time.Second)
	v := s.Clients()
	if len(v.Clients) != 1 {
		t.Fatalf("clients = %+v", v.Clients)
	}
	got := v.Clients[0]
	if got.ClientID != "busy" || got.RequestsPerSec["Produce"] != 5 || got.RequestRate != 5 ||
		got.BytesInPerSec != 500 || got.BytesOutPerSec != 200 || got.BrokerTimePercent != 0.5 ||
		got.ThrottleMsPerSec != 25 || got.Connections != 1 || got.Requests != 10 {
		t.Errorf("view = %+v", got)
	}
}

func BenchmarkRecord(b *testing.B) {
	s, _ := newTestStats(b, Config{})
	c := s.NewConn("", &fakeSession{principal: "ANONYMOUS"})
	r := request(0, "bench")
	b.ReportAllocs()
	for b.Loop() {
		c.Record(r)
	}
}

// BenchmarkRecordParallel is Record from one connection per goroutine, every one the
// same API and client: the counters' contention across CPUs.
func BenchmarkRecordParallel(b *testing.B) {
	s := New(Config{})
	sess := &fakeSession{principal: "ANONYMOUS"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		c := s.NewConn("", sess)
		r := request(0, "bench")
		for pb.Next() {
			c.Record(r)
		}
	})
}
