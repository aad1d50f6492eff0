package main

import (
	"strings"
	"testing"
)

// A tiny bench abuse: every phase measures the probe, the abuser (a child process of
// the test binary, see TestMain) runs in the abuse phases, and the quota phase holds it
// to the quota given. Then the table, with the abusers and the probe in process.
func TestBenchAbuseSmall(t *testing.T) {
	args := []string{"bench", "abuse", "--duration", "400ms", "--warmup", "200ms", "--rate", "200",
		"--connections", "2", "--quota", "5"}
	r := mustRun(t, "", append(args, "-o", "json")...)
	var report abuseReport
	decodeJSON(t, r.stdout, &report)
	if len(report.Runs) != 3 || len(report.Medians) != 3 {
		t.Fatalf("report: %+v", report)
	}
	for i, phase := range []string{phaseAlone, phaseNoQuota, phaseQuota} {
		run := report.Runs[i]
		if run.Phase != phase || run.Probe == nil || run.ProbeRecords == 0 || run.Probe.P99 <= 0 {
			t.Errorf("%s: %+v", phase, run)
		}
		if (run.Abuser == nil) != (phase == phaseAlone) {
			t.Errorf("%s: abuser %+v", phase, run.Abuser)
		}
		if run.Abuser != nil && (run.Abuser.Requests == 0 || run.Abuser.RequestsPerSec <= 0 || run.Abuser.BrokerTimePercent <= 0) {
			t.Errorf("%s: abuser %+v", phase, run.Abuser)
		}
	}
	if q := report.Runs[1].RequestQuota; q != 0 {
		t.Errorf("no-quota phase held the abuser to %g%%", q)
	}
	if q := report.Runs[2].RequestQuota; q != 5 {
		t.Errorf("quota phase held the abuser to %g%%, want 5", q)
	}
	if report.Runs[0].Ratio.P99 != 1 {
		t.Errorf("alone ratio %+v", report.Runs[0].Ratio)
	}

	r = mustRun(t, "", append(args, "--abusers-in-process", "--probe-in-process")...)
	for _, want := range []string{"PHASE", "no-quota", "ABUSER BROKER-TIME %", "targets with the default quota"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, r.stdout)
		}
	}
	if r := nagare(t, "", "bench", "abuse", "--bootstrap", "127.0.0.1:9092"); r.code != exitUsage || !strings.Contains(r.stderr, "abuse starts its own broker") {
		t.Errorf("abuse --bootstrap: exit %d, stderr %q", r.code, r.stderr)
	}
}
