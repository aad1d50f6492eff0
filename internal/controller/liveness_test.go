package controller

import (
	"testing"
	"time"

	"github.com/nagare-dev/nagare/internal/metadata"
)

// TestRenewSessionNeedsMetadata: a broker that heartbeats without applying the metadata
// log (cut off from the quorum's pushes) stops renewing its session; catching up renews it.
func TestRenewSessionNeedsMetadata(t *testing.T) {
	c := &Controller{sessions: map[int32]time.Time{}, owed: map[int32]uint64{}, reported: map[int32]uint64{}}
	hb := func(applied uint64) metadata.BrokerHeartbeat {
		return metadata.BrokerHeartbeat{NodeID: 2, Epoch: 7, MetadataOffset: applied}
	}
	steps := []struct {
		brokerApplied, controllerApplied uint64
		want                             bool
	}{
		{10, 10, true},  // first heartbeat: nothing owed yet
		{10, 12, true},  // has what the controller had at the last renewal (10)
		{11, 15, true},  // owes 12 but moved since its last heartbeat: slow, not stuck
		{11, 20, false}, // owes 15 and has not moved: stuck
		{11, 25, false}, // still stuck: frozen brokers never renew
		{15, 30, true},  // caught up with what it owed (15)
		{15, 30, false}, // owes 30 now and has not moved
		{0, 30, false},
	}
	for i, s := range steps {
		delete(c.sessions, 2)
		if got := c.renewSession(hb(s.brokerApplied), s.controllerApplied); got != s.want {
			t.Fatalf("step %d: renewed %v, want %v", i, got, s.want)
		}
		if _, renewed := c.sessions[2]; renewed != s.want {
			t.Fatalf("step %d: session time moved %v, want %v", i, renewed, s.want)
		}
	}
	old := metadata.BrokerHeartbeat{NodeID: 3, Epoch: metadata.NoBrokerEpoch}
	for range 3 {
		if !c.renewSession(old, 99) {
			t.Fatal("a broker predating epochs sends no metadata offset and must be renewed")
		}
	}
}
