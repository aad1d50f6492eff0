package main

import (
	"testing"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// TestBenchShare runs `bench share` with a few records against a real broker: the JSON
// report has the settings, a classic phase and one share phase per --consumers count,
// the share ones with every record and an ack round trip.
func TestBenchShare(t *testing.T) {
	b := brokertest.Start(t, brokertest.WithProperties(map[string]string{
		"group.share.heartbeat.interval.ms":                "200",
		"share.coordinator.state.topic.replication.factor": "1",
		"share.coordinator.state.topic.min.isr":            "1",
	}))
	r := mustRun(t, "", "bench", "share", "--bootstrap", b.Addr(), "--topic", "bench-share",
		"--records", "40", "--record-size", "8", "--batch", "10", "--consumers", "1,2", "-o", "json")
	var report struct {
		Workload string
		Settings shareSettings
		Runs     []benchRun
	}
	decodeJSON(t, r.stdout, &report)
	s := report.Settings
	if report.Workload != "share" || len(report.Runs) != 1 || report.Runs[0].Records != 40 ||
		s.Records != 40 || s.RecordSize != 8 || s.Batch != 10 || len(s.Consumers) != 2 {
		t.Fatalf("report: %+v", report)
	}
	want := []struct {
		group     string
		consumers int
	}{{"classic", 1}, {"share", 1}, {"share", 2}}
	if len(s.Phases) != len(want) {
		t.Fatalf("phases: %+v", s.Phases)
	}
	for i, p := range s.Phases {
		w := want[i]
		// The classic phase leaves out its first poll's records (the join); a share
		// phase counts every record, each acquired once.
		records := p.Records == 40 || (p.Group == "classic" && p.Records >= 0 && p.Records <= 40)
		if p.Group != w.group || p.Consumers != w.consumers || !records || p.Repeat != 1 ||
			(p.Group == "share") != (p.AckMs != nil) {
			t.Errorf("phase %d: %+v, want a %s group of %d", i, p, w.group, w.consumers)
		}
	}
}
