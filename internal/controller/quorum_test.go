package controller

import (
	"testing"
	"time"

	"github.com/nagare-dev/nagare/internal/metadata"
)

// TestBrokerProgressCaughtUp: a heartbeat caught up with the controller is caught up at
// its own time; one behind, but at or past what the controller had at the previous
// heartbeat, was caught up at the previous heartbeat's time (Kafka's rule for fetches);
// an inactive controller reports nothing.
func TestBrokerProgressCaughtUp(t *testing.T) {
	c := &Controller{progress: map[int32]progress{}, active: true}
	t0 := time.Unix(1000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	steps := []struct {
		brokerApplied, controllerApplied uint64
		now, wantCaughtUp                time.Time
	}{
		{5, 10, at(0), time.Time{}}, // behind, no earlier heartbeat
		{10, 12, at(1), at(0)},      // has what the controller had at 0
		{12, 12, at(2), at(2)},      // caught up now
		{13, 20, at(3), at(2)},      // behind 20, but has the 12 it lacked at 2: caught up then
		{15, 25, at(4), at(2)},      // still short of 20: stays
		{25, 25, at(5), at(5)},
	}
	for i, s := range steps {
		c.recordProgress(metadata.BrokerHeartbeat{NodeID: 2, MetadataOffset: s.brokerApplied}, s.controllerApplied, s.now)
		got := c.BrokerProgress()[2]
		if got.AppliedIndex != s.brokerApplied || !got.LastHeartbeat.Equal(s.now) || !got.LastCaughtUp.Equal(s.wantCaughtUp) {
			t.Fatalf("step %d: %+v, want applied %d, heartbeat %v, caught up %v", i, got, s.brokerApplied, s.now, s.wantCaughtUp)
		}
	}
	c.active = false
	if p := c.BrokerProgress(); p != nil {
		t.Fatalf("inactive controller reports %v", p)
	}
}
