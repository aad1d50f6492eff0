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
