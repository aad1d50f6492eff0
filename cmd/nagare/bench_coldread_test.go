package main

import (
	"strings"
	"testing"
)

// A small coldread run in both modes: the report has each mode's latencies, the
// consumers read the whole topic, and the read path worked only with warm-up on. The
// consumers run in-process (the test binary cannot run itself as nagare).
func TestBenchColdReadSmall(t *testing.T) {
	args := []string{"bench", "coldread", "--data-dir", t.TempDir(), "--fill-bytes", "8MiB", "--fill-record-size", "4096",
		"--alone", "300ms", "--rate", "500", "--consumers", "2", "--consumers-in-process", "-o", "json"}
	r := mustRun(t, "", args...)
	var report coldReadReport
	decodeJSON(t, r.stdout, &report)
	if len(report.Runs) != 2 || !report.Runs[0].Warmup || report.Runs[1].Warmup {
		t.Fatalf("runs: %+v", report.Runs)
	}
	for _, run := range report.Runs {
		if run.Alone == nil || run.Loaded == nil || run.AloneRecords == 0 || run.LoadedRecords == 0 {
			t.Errorf("warm-up %t: latencies missing: %+v", run.Warmup, run)
		}
		if run.Consumed.Bytes < 8<<20 || run.Consumed.MiBPerSec <= 0 || run.Disk.ParallelMiBPerSec <= 0 || run.Disk.Streams != 2 {
			t.Errorf("warm-up %t: consumed %+v, disk %+v", run.Warmup, run.Consumed, run.Disk)
		}
		if len(run.Histograms.SendFile) == 0 {
			t.Errorf("warm-up %t: empty sendfile histogram", run.Warmup)
		}
	}
	if on, off := report.Runs[0].Stats, report.Runs[1].Stats; on.ResidentChecks+on.ColdChecks == 0 || off.ResidentChecks+off.ColdChecks != 0 {
		t.Errorf("read path stats: on %+v, off %+v", on, off)
	}
	if !strings.Contains(r.stderr, "filling topic") {
		t.Errorf("stderr does not report the fill: %q", r.stderr)
	}

	// The table, reusing the filled data dir: no second fill.
	args = append(args[:len(args)-2], "--modes", "on")
	args[3] = report.Settings.DataDir
	r = mustRun(t, "", args...)
	for _, want := range []string{"WARM-UP", "RATIO p50/p99/p99.9", "SENDFILE ON", "targets with warm-up on"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "already holds") {
		t.Errorf("second run filled again: %q", r.stderr)
	}
}
