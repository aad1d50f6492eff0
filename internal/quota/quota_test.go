package quota

import (
	"math"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestManager(windows int, window time.Duration) (*Manager, *fakeClock) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	return New(Config{Windows: windows, Window: window, Now: clk.now}), clk
}

func TestPrecedenceEightLevels(t *testing.T) {
	u, c, d, none := Named("alice"), Named("app"), DefaultPart(), Part{}
	levels := []Entity{
		{u, c}, {u, d}, {u, none}, {d, c}, {d, d}, {d, none}, {none, c}, {none, d},
	}
	q := Quotas{}
	for i, e := range levels {
		q[e] = map[Type]float64{ProducerByteRate: float64(i + 1)}
	}
	m, _ := newTestManager(11, time.Second)
	m.SetDefaults(map[Type]float64{ProducerByteRate: 99})
	for i := range levels {
		m.SetQuotas(q)
		got, ok := m.Limit(ProducerByteRate, "alice", "app")
		if !ok || got != float64(i+1) {
			t.Fatalf("with levels %d.. set: limit %v %v, want %d (%v)", i+1, got, ok, i+1, levels[i])
		}
		next := Quotas{}
		for e, v := range q {
			if e != levels[i] {
				next[e] = v
			}
		}
		q = next
	}
	m.SetQuotas(q)
	if got, ok := m.Limit(ProducerByteRate, "alice", "app"); !ok || got != 99 {
		t.Fatalf("static default: %v %v, want 99", got, ok)
	}
	if _, ok := m.Limit(ConsumerByteRate, "alice", "app"); ok {
		t.Fatal("a type with no quota anywhere has a limit")
	}
}

func TestPrecedenceIsPerType(t *testing.T) {
	m, _ := newTestManager(11, time.Second)
	m.SetQuotas(Quotas{
		{User: Named("alice")}:                     {ProducerByteRate: 10},
		{ClientID: Named("app")}:                   {ConsumerByteRate: 20, ProducerByteRate: 30},
		{User: Named("bob"), ClientID: Named("x")}: {ProducerByteRate: 40},
	})
	if v, _ := m.Limit(ProducerByteRate, "alice", "app"); v != 10 {
		t.Fatalf("producer: %v, want the user quota 10", v)
	}
	if v, _ := m.Limit(ConsumerByteRate, "alice", "app"); v != 20 {
		t.Fatalf("consumer: %v, want the client quota 20", v)
	}
	if v, _ := m.Limit(ProducerByteRate, "bob", "app"); v != 30 {
		t.Fatalf("bob/app producer: %v, want 30", v)
	}
}

func TestRateAndThrottleFormula(t *testing.T) {
	m, clk := newTestManager(11, time.Second)
	m.SetQuotas(Quotas{{ClientID: DefaultPart()}: {ProducerByteRate: 100}})
	// Span is padded to 10 windows at first: 1000 bytes is exactly 100 B/s, in bound.
	if th := m.RecordBytes(ProducerByteRate, "u", "c", 1000); th != 0 {
		t.Fatalf("at the bound: throttle %v, want 0", th)
	}
	// 1100 bytes over 10 s is 110 B/s: (110-100)/100 × 10000 ms = 1000 ms.
	if th := m.RecordBytes(ProducerByteRate, "u", "c", 100); th != time.Second {
		t.Fatalf("10%% over: throttle %v, want 1s", th)
	}
	// After 12 s every sample has expired.
	clk.advance(12 * time.Second)
	if th := m.RecordBytes(ProducerByteRate, "u", "c", 10); th != 0 {
		t.Fatalf("after expiry: throttle %v", th)
	}
}

func TestSpanGrowsPastMinimum(t *testing.T) {
	r := newRate(3, 0)
	w := time.Second
	r.record(10, 0, 3, w)
	if got := r.span(500*time.Millisecond, 3, w); got != 2500*time.Millisecond {
		t.Fatalf("span %v, want 2.5s (0.5s elapsed + 2 padded windows)", got)
	}
	r.record(10, 2500*time.Millisecond, 3, w)
	if got := r.span(2500*time.Millisecond, 3, w); got != 2500*time.Millisecond {
		t.Fatalf("span %v, want 2.5s (2 full windows elapsed, no padding)", got)
	}
	if got := r.measure(2500*time.Millisecond, 3, w); got != 8 {
		t.Fatalf("rate %v, want 20/2.5 = 8", got)
	}
}

func TestRequestThrottleBoundedToWindow(t *testing.T) {
	m, _ := newTestManager(11, time.Second)
	m.SetDefaults(map[Type]float64{RequestPercentage: 10})
	// 5 s of broker time over a 10 s span is 50%: throttle (50-10)/10 × 10 s, capped at 1 s.
	if th := m.RecordTime("u", "c", 5*time.Second, true); th != time.Second {
		t.Fatalf("throttle %v, want 1s", th)
	}
	if th := m.RecordTime("u", "c", time.Second, false); th != 0 {
		t.Fatalf("unchecked record throttled %v", th)
	}
}

// A client that waits out every throttle converges to its quota.
func TestHonouringClientConverges(t *testing.T) {
	m, clk := newTestManager(11, time.Second)
	const bound = 1000.0
	m.SetQuotas(Quotas{{ClientID: Named("c")}: {ProducerByteRate: bound}})
	start := clk.t
	var sent int64
	for clk.t.Sub(start) < 120*time.Second {
		th := m.RecordBytes(ProducerByteRate, "u", "c", 300)
		sent += 300
		clk.advance(10*time.Millisecond + th)
	}
	got := float64(sent) / clk.t.Sub(start).Seconds()
	if math.Abs(got-bound)/bound > 0.05 {
		t.Fatalf("achieved %.0f B/s, want within 5%% of %.0f", got, bound)
	}
}

func TestSharingFollowsMatchedLevel(t *testing.T) {
	m, _ := newTestManager(11, time.Second)
	m.SetQuotas(Quotas{{User: Named("alice")}: {ProducerByteRate: 100}})
	m.RecordBytes(ProducerByteRate, "alice", "one", 1000)
	// The user quota is shared by alice's client-ids: "two" sees one's bytes.
	if th := m.RecordBytes(ProducerByteRate, "alice", "two", 100); th != time.Second {
		t.Fatalf("shared user quota: throttle %v, want 1s", th)
	}
	m.SetQuotas(Quotas{{ClientID: DefaultPart()}: {ConsumerByteRate: 100}})
	m.RecordBytes(ConsumerByteRate, "alice", "one", 1100)
	if th := m.RecordBytes(ConsumerByteRate, "alice", "two", 100); th != 0 {
		t.Fatalf("per-client-id default: two throttled %v by one's usage", th)
	}
}

func TestUsageAccounting(t *testing.T) {
	m, _ := newTestManager(11, time.Second)
	m.SetDefaults(map[Type]float64{RequestPercentage: 50})
	m.RecordTime("u", "c", 3*time.Millisecond, true)
	m.RecordBytes(ProducerByteRate, "u", "c", 10)
	m.RecordBytes(ConsumerByteRate, "u", "c", 20)
	m.RecordThrottle("u", "c", 5*time.Millisecond)
	us := m.Usage()
	if len(us) != 1 {
		t.Fatalf("usage %+v", us)
	}
	u := us[0]
	if u.TimeUsed != 3*time.Millisecond || u.BytesIn != 10 || u.BytesOut != 20 || u.Throttled != 5*time.Millisecond || u.ThrottleCount != 1 || u.RequestQuota != 50 {
		t.Fatalf("usage %+v", u)
	}
}

func BenchmarkRecordTime(b *testing.B) {
	m := New(Config{})
	m.SetDefaults(map[Type]float64{RequestPercentage: 100})
	b.ReportAllocs()
	for b.Loop() {
		m.RecordTime("ANONYMOUS", "bench", time.Microsecond, true)
	}
}
