package main

import (
	"strings"
	"testing"
)

func TestBenchProduceAndConsume(t *testing.T) {
	boot := startKfake(t)
	b := []string{"--bootstrap", boot, "--records", "300", "--record-size", "64"}

	r := mustRun(t, "", append([]string{"bench", "produce", "--partitions", "2", "--clients", "2", "-o", "json"}, b...)...)
	var report struct {
		Workload string
		Settings produceSettingsJSON
		Runs     []benchRun
		Ratios   []benchRatio
	}
	decodeJSON(t, r.stdout, &report)
	if report.Workload != "produce" || len(report.Runs) != 1 || len(report.Ratios) != 0 {
		t.Fatalf("report: %+v", report)
	}
	run := report.Runs[0]
	if run.Target != "nagare" || run.Partitions != 2 || run.Records != 300 || run.Bytes != 300*64 ||
		run.RecordsPerSec <= 0 || run.LatencyMs == nil || run.LatencyMs.P50 <= 0 || run.LatencyMs.P50 > run.LatencyMs.Max {
		t.Errorf("produce run: %+v latency %+v", run, run.LatencyMs)
	}
	if report.Settings.RecordSize != 64 || report.Settings.Clients != 2 || report.Settings.Acks != "all" {
		t.Errorf("settings: %+v", report.Settings)
	}
	if !strings.Contains(r.stderr, `created topic "nagare-bench" (2 partitions)`) {
		t.Errorf("stderr does not say the topic was created: %q", r.stderr)
	}

	// The topic now holds 302 records (300 and a warm-up record per client):
	// consuming 500 produces the missing ones first, and says so.
	r = mustRun(t, "", append([]string{"bench", "consume", "--records", "500", "-o", "json"}, b[:2]...)...)
	report.Runs = nil
	decodeJSON(t, r.stdout, &report)
	if report.Workload != "consume" || len(report.Runs) != 1 || report.Runs[0].Records != 500 || report.Runs[0].LatencyMs != nil {
		t.Errorf("consume report: %+v", report)
	}
	if !strings.Contains(r.stderr, "holds 302 records; producing 198 more") {
		t.Errorf("stderr does not announce the records produced first: %q", r.stderr)
	}

	// The table is for people.
	r = mustRun(t, "", append([]string{"bench", "produce", "--acks", "1", "--linger", "0s", "--rate", "2000"}, b...)...)
	for _, want := range []string{"TARGET", "RECORDS/S", "P99.9 ms", "nagare"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestBenchCompareKfake(t *testing.T) {
	boot := startKfake(t)
	for _, workload := range []string{"produce", "consume"} {
		r := mustRun(t, "", "bench", workload, "--bootstrap", boot, "--records", "200", "--record-size", "32",
			"--partitions", "1", "--compare-kfake", "--label", "target", "-o", "json")
		var report benchReport
		decodeJSON(t, r.stdout, &report)
		if len(report.Runs) != 3 || len(report.Ratios) != 2 {
			t.Fatalf("%s: want 3 runs and 2 ratios: %s", workload, r.stdout)
		}
		for i, name := range []string{"target", kfakeMemoryName, kfakeDataDirName} {
			run := report.Runs[i]
			if run.Target != name || run.Records != 200 || run.Partitions != 1 || run.RecordsPerSec <= 0 {
				t.Errorf("%s run %d: %+v", workload, i, run)
			}
		}
		for _, ratio := range report.Ratios {
			if ratio.Target != "target" || ratio.Throughput <= 0 || (workload == "produce") != (ratio.P99 != nil) {
				t.Errorf("%s ratio: %+v", workload, ratio)
			}
		}
	}
}

// produceSettingsJSON mirrors produceSettings for decoding.
type produceSettingsJSON struct {
	RecordSize int    `json:"record_size"`
	Clients    int    `json:"clients"`
	Acks       string `json:"acks"`
}
