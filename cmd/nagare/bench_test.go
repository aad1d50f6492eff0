package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary stand in for nagare in the child processes
// that bench starts as `<this binary> bench ...` (such as kfake-serve for
// --compare-kfake). The test binary's own arguments never start with "bench".
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && (os.Args[1] == "bench" || os.Args[1] == "serve") { // serve: cluster up's nodes
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

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
	for _, want := range []string{"TARGET", "RECORDS/S", "P99.9 ms", "nagare", "CLIENT CPU s/M"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestBenchProduceRate(t *testing.T) {
	boot := startKfake(t)
	// 300 records at 1,000/s from two clients: the last is due at 0.299s.
	r := mustRun(t, "", "bench", "produce", "--bootstrap", boot, "--records", "300", "--record-size", "16",
		"--clients", "2", "--rate", "1000", "--linger", "0s", "--acks", "1", "-o", "json")
	var report benchReport
	decodeJSON(t, r.stdout, &report)
	if run := report.Runs[0]; run.Records != 300 || run.Seconds < 0.29 || run.Seconds > 5 {
		t.Errorf("paced run: %d records in %.3fs, want 300 in about 0.3s", run.Records, run.Seconds)
	}
}

func TestBenchCompareKfake(t *testing.T) {
	boot := startKfake(t)
	for _, workload := range []string{"produce", "consume"} {
		// The "target" is kfake in this process; --server-pid points at it.
		r := mustRun(t, "", "bench", workload, "--bootstrap", boot, "--records", "200", "--record-size", "32",
			"--partitions", "1", "--compare-kfake", "--label", "target", "--repeat", "2",
			"--server-pid", strconv.Itoa(os.Getpid()), "-o", "json")
		var report benchReport
		decodeJSON(t, r.stdout, &report)
		if report.Repeat != 2 || len(report.Runs) != 6 || len(report.Medians) != 3 || len(report.Ratios) != 2 {
			t.Fatalf("%s: want 6 runs, 3 medians and 2 ratios: %s", workload, r.stdout)
		}
		// The second round starts where the first left off.
		order := []string{"target", kfakeMemoryName, kfakeDataDirName, kfakeMemoryName, kfakeDataDirName, "target"}
		for i, run := range report.Runs {
			if run.Target != order[i] || run.Repeat != 1+i/3 || run.Records != 200 || run.Partitions != 1 || run.RecordsPerSec <= 0 {
				t.Errorf("%s run %d: %+v", workload, i, run)
			}
			if runtime.GOOS == "linux" && (run.ServerCPUSeconds == nil || run.ServerCPUPerMillion == nil || run.ClientCPUSeconds == nil) {
				t.Errorf("%s run %d (%s) lacks CPU time: %+v", workload, i, run.Target, run)
			}
		}
		for i, name := range []string{"target", kfakeMemoryName, kfakeDataDirName} {
			if m := report.Medians[i]; m.Target != name || m.Repeat != 0 || m.Records != 200 {
				t.Errorf("%s median %d: %+v", workload, i, m)
			}
		}
		for _, ratio := range report.Ratios {
			if ratio.Target != "target" || ratio.Throughput <= 0 || (workload == "produce") != (ratio.P99 != nil) {
				t.Errorf("%s ratio: %+v", workload, ratio)
			}
		}
	}
}

func TestBenchKfakeChild(t *testing.T) {
	for _, persist := range []bool{false, true} {
		child, err := startKfakeChild(t.Context(), persist, 20*time.Second, os.Stderr)
		if err != nil {
			t.Fatal(err)
		}
		dir := child.dir
		cf := &clientFlags{bootstrap: child.addr, clientID: "test", timeout: 10 * time.Second}
		if _, err := ensureTopic(t.Context(), cf, "t", 1, -1, new(strings.Builder)); err != nil {
			t.Errorf("kfake child (persist %v) does not serve: %v", persist, err)
		}
		if err := child.stop(10 * time.Second); err != nil {
			t.Errorf("stop by closing stdin: %v", err)
		}
		if _, err := os.Stat(dir); persist && !os.IsNotExist(err) {
			t.Errorf("data dir %s left behind: %v", dir, err)
		}
	}

	// SIGTERM stops it too, with exit status 0.
	child, err := startKfakeChild(t.Context(), false, 20*time.Second, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	if err := child.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-child.done:
		if err != nil {
			t.Errorf("kfake child after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("kfake child ignored SIGTERM")
		_ = child.cmd.Process.Kill()
	}
	child.cleanUp(nil)
}

func TestBenchUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "produce", "--repeat", "0"}, "--repeat must be positive"},
		{[]string{"bench", "produce", "--http", "h:1", "--server-pid", "1"}, "not both"},
	} {
		r := nagare(t, "", tc.args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("nagare %v: exit %d, stderr %q; want %d and %q", tc.args, r.code, r.stderr, exitUsage, tc.want)
		}
	}
}

func TestMetricsMeter(t *testing.T) {
	var cpu float64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		cpu += 1.25
		fmt.Fprintf(w, "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"+
			"# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total_other 9\nprocess_cpu_seconds_total %g\n", cpu)
	}))
	defer srv.Close()
	m := newMetricsMeter(strings.TrimPrefix(srv.URL, "http://"))
	w := startCPU(m)
	if used := w.stop(); used == nil || *used != 1.25 {
		t.Errorf("CPU over the window: %v, want 1.25", used)
	}
	if _, err := newMetricsMeter(srv.URL + "/nothing").cpuSeconds(); err == nil {
		t.Errorf("a missing endpoint reads as CPU time")
	}
	if _, err := parseProcessCPU(bufio.NewScanner(strings.NewReader("go_goroutines 7\n")), "x"); err == nil ||
		!strings.Contains(err.Error(), "has no process_cpu_seconds_total") {
		t.Errorf("metrics without the counter: %v", err)
	}
	if startCPU(nil).stop() != nil {
		t.Errorf("a nil meter measured something")
	}
}

func TestMedianRun(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	runs := []benchRun{
		{Target: "a", Repeat: 1, Records: 10, RecordsPerSec: 300, ServerCPUPerMillion: f(4), LatencyMs: &latencySummary{P99: 9}},
		{Target: "a", Repeat: 2, Records: 10, RecordsPerSec: 100, ServerCPUPerMillion: nil, LatencyMs: &latencySummary{P99: 1}},
		{Target: "a", Repeat: 3, Records: 10, RecordsPerSec: 200, ServerCPUPerMillion: f(2), LatencyMs: &latencySummary{P99: 5}},
	}
	m := medianRun(runs)
	if m.Repeat != 0 || m.RecordsPerSec != 200 || m.LatencyMs.P99 != 5 || m.ServerCPUPerMillion == nil || *m.ServerCPUPerMillion != 3 {
		t.Errorf("medians: %+v latency %+v cpu %v", m, m.LatencyMs, m.ServerCPUPerMillion)
	}
	if runs[0].RecordsPerSec != 300 {
		t.Errorf("medianRun reordered its input")
	}
}

// produceSettingsJSON mirrors produceSettings for decoding.
type produceSettingsJSON struct {
	RecordSize int    `json:"record_size"`
	Clients    int    `json:"clients"`
	Acks       string `json:"acks"`
}
