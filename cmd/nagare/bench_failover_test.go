package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// A small bench failover: two crash kills of the leader on a cluster with a short session
// timeout, each measured and followed by the broker's return to the ISR, and no
// acknowledged record lost. Then the table after one controlled shutdown.
func TestBenchFailoverSmall(t *testing.T) {
	args := []string{"bench", "failover", "--kills", "2", "--mode", "crash", "--session-timeout", "1s", "--settle", "200ms", "-o", "json"}
	stdout, stderr := runLong(t, args...)
	var report failoverReport
	decodeJSON(t, stdout, &report)
	if len(report.Kills) != 2 || report.Settings.Mode != failoverCrash || report.Settings.SessionTimeoutMs != 1000 {
		t.Fatalf("report: %+v", report)
	}
	for _, k := range report.Kills {
		if k.Node <= 0 || k.NewLeader <= 0 || k.NewLeader == k.Node || k.FailoverMs <= 0 || k.FirstAckMs <= 0 || k.RejoinMs <= 0 {
			t.Errorf("kill %+v", k)
		}
	}
	if s := report.FailoverMs; s.P50 <= 0 || s.P50 > s.P90 || s.P90 > s.Max {
		t.Errorf("failover summary %+v", s)
	}
	rec := report.Records
	if rec.Acked == 0 || rec.Lost != 0 || rec.OffsetMoved != 0 || rec.Consumed < rec.Acked {
		t.Errorf("records %+v", rec)
	}
	if rec.Duplicated != 0 {
		// The new leader holds the producer state its log replicated, so a retried batch
		// it already has is answered with its first offsets, never appended again.
		t.Errorf("duplicated records: %+v", rec.Duplicates)
	}
	if report.Target.LimitMs != 2000 {
		t.Errorf("target %+v", report.Target)
	}
	if !strings.Contains(stderr, "kill 2: broker") {
		t.Errorf("stderr does not report the kills: %q", stderr)
	}

	stdout, _ = runLong(t, "bench", "failover", "--kills", "1", "--mode", "controlled", "--session-timeout", "1s", "--settle", "200ms")
	for _, want := range []string{"FAILOVER ms", "first ack", "lost", "failover max under 2 s"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
	if r := nagare(t, "", "bench", "failover", "--mode", "sigkill"); r.code != exitUsage || !strings.Contains(r.stderr, "--mode takes crash or controlled") {
		t.Errorf("failover --mode sigkill: exit %d, stderr %q", r.code, r.stderr)
	}
}

// runLong runs the command line with more time than nagare() allows, failing unless it
// exits 0.
func runLong(t *testing.T, args ...string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	if code := run(ctx, args, strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("nagare %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	}
	return stdout.String(), stderr.String()
}
