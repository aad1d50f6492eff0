package quota

import (
	"fmt"
	"testing"
	"time"
)

func TestMutationBucketAllowsBurstThenThrottles(t *testing.T) {
	m, clk := newTestManager(10, time.Second) // burst = 2/s × 10 s = 20 partitions
	m.SetQuotas(Quotas{{ClientID: Named("admin")}: {ControllerMutationRate: 2}})
	if d := m.MutationThrottle("ANONYMOUS", "admin"); d != 0 {
		t.Fatalf("fresh bucket throttles %v", d)
	}
	if d := m.RecordMutations("ANONYMOUS", "admin", 20); d != 0 {
		t.Fatalf("a burst of the bucket's size throttled %v", d)
	}
	// Overdraw by 10: Kafka checks before and charges after, so this is allowed once.
	if d := m.RecordMutations("ANONYMOUS", "admin", 10); d != 5*time.Second {
		t.Fatalf("overdrawn by 10 at 2/s: throttle %v, want 5s", d)
	}
	if d := m.MutationThrottle("ANONYMOUS", "admin"); d != 5*time.Second {
		t.Fatalf("check after overdraw: %v, want 5s", d)
	}
	clk.advance(4 * time.Second)
	if d := m.MutationThrottle("ANONYMOUS", "admin"); d != time.Second {
		t.Fatalf("after 4s of refill: %v, want 1s", d)
	}
	clk.advance(time.Minute)
	if d := m.MutationThrottle("ANONYMOUS", "admin"); d != 0 {
		t.Fatalf("after refill: %v", d)
	}
	if d := m.RecordMutations("ANONYMOUS", "other", 1000); d != 0 {
		t.Fatalf("a client without a mutation quota is throttled %v", d)
	}
}

func TestConnectionRatePerIP(t *testing.T) {
	m, clk := newTestManager(2, time.Second)
	if d := m.AdmitConnection("10.0.0.1"); d != 0 {
		t.Fatalf("no IP quota set, yet throttled %v", d)
	}
	m.SetIPQuotas(map[string]float64{"": 5, "10.0.0.9": 100})
	admitted := 0
	for range 20 {
		if m.AdmitConnection("10.0.0.1") == 0 {
			admitted++
		}
	}
	// The rate is measured over at least windows-1 = 1 s: 5 connections fit.
	if admitted != 5 {
		t.Fatalf("default 5/s: admitted %d of 20 at once, want 5", admitted)
	}
	if got := m.ConnectionsThrottled(); got != 15 {
		t.Fatalf("throttled count %d, want 15", got)
	}
	for range 20 {
		if d := m.AdmitConnection("10.0.0.9"); d != 0 {
			t.Fatalf("IP with its own 100/s quota throttled %v", d)
		}
	}
	clk.advance(3 * time.Second) // the refused ones were taken back out; old samples expire
	if d := m.AdmitConnection("10.0.0.1"); d != 0 {
		t.Fatalf("after the windows passed: throttled %v", d)
	}
}

func TestExpireIdleForgetsOldClients(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	m := New(Config{Windows: 11, Window: time.Second, Now: clk.now, IdleExpiry: time.Minute})
	m.SetDefaults(map[Type]float64{RequestPercentage: 100})
	m.SetIPQuotas(map[string]float64{"": 10})
	for i := range 1000 {
		m.RecordTime("ANONYMOUS", fmt.Sprintf("random-%d", i), time.Millisecond, true)
	}
	m.AdmitConnection("10.0.0.1")
	clk.advance(50 * time.Second)
	m.RecordTime("ANONYMOUS", "steady", time.Millisecond, true)
	if n := m.ExpireIdle(); n != 0 {
		t.Fatalf("expired %d before the idle time", n)
	}
	clk.advance(20 * time.Second)
	// 1000 accounts and 1000 request sensors, plus the IP's sensor.
	if n := m.ExpireIdle(); n != 2001 {
		t.Fatalf("expired %d, want 2001", n)
	}
	if u := m.Usage(); len(u) != 1 || u[0].ClientID != "steady" {
		t.Fatalf("usage after expiry: %+v", u)
	}
	if d := m.RecordTime("ANONYMOUS", "random-1", time.Millisecond, true); d != 0 {
		t.Fatalf("a returning client starts afresh, got throttle %v", d)
	}
}

func TestOverheadChargedPerRequest(t *testing.T) {
	m, _ := newTestManager(11, time.Second)
	m.Calibrate(10 * time.Second) // baseline
	// 1,000 requests measured at 5 µs each while the process used 25 ms of CPU: 20 µs of
	// each request's cost was outside the measured span.
	for range 1000 {
		m.RecordRequest("ANONYMOUS", "tiny", 5*time.Microsecond, false)
	}
	m.Calibrate(10*time.Second + 25*time.Millisecond)
	if got := m.RequestOverhead(); got != 10*time.Microsecond {
		t.Fatalf("overhead after one interval %v, want 10µs (half of 20µs: smoothed)", got)
	}
	for range 1000 {
		m.RecordRequest("ANONYMOUS", "tiny", 5*time.Microsecond, false)
	}
	m.Calibrate(10*time.Second + 50*time.Millisecond)
	if got := m.RequestOverhead(); got != 15*time.Microsecond {
		t.Fatalf("overhead after two intervals %v, want 15µs", got)
	}
	m.Calibrate(11 * time.Second) // an idle interval keeps the estimate
	if got := m.RequestOverhead(); got != 15*time.Microsecond {
		t.Fatalf("an idle interval changed the overhead to %v", got)
	}
	before := m.Usage()[0].TimeUsed
	m.RecordRequest("ANONYMOUS", "tiny", 5*time.Microsecond, false)
	m.RecordTime("ANONYMOUS", "tiny", 5*time.Microsecond, false) // an encode: no overhead
	if got := m.Usage()[0].TimeUsed - before; got != 25*time.Microsecond {
		t.Fatalf("charged %v for a request and its encode, want 5+15+5 = 25µs", got)
	}
	// A burst of background CPU over few requests is capped.
	m.RecordRequest("ANONYMOUS", "tiny", 0, false)
	m.Calibrate(20 * time.Second)
	if got := m.RequestOverhead(); got > maxRequestOverhead {
		t.Fatalf("overhead %v above the cap", got)
	}
}
