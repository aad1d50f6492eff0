package readpath

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The collector exports every histogram with log2 µs bounds, the chosen method and the
// counters, and passes the registry's consistency checks.
func TestCollector(t *testing.T) {
	p := newTestPool(t, Config{Enabled: true})
	var sendfile Histogram
	sendfile.Observe(3 * time.Microsecond)
	sendfile.Observe(5 * time.Millisecond)
	p.ExportSendFile(&sendfile)
	reg := prometheus.NewRegistry()
	if err := reg.Register(p.Collector()); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]bool{}
	for _, f := range families {
		byName[f.GetName()] = true
		if f.GetName() != "nagare_readpath_sendfile_duration_seconds" {
			continue
		}
		h := f.GetMetric()[0].GetHistogram()
		if h.GetSampleCount() != 2 || h.GetBucket()[0].GetUpperBound() != 1e-6 {
			t.Fatalf("sendfile histogram: %v", h)
		}
		for _, b := range h.GetBucket() {
			if b.GetUpperBound() == 4e-6 && b.GetCumulativeCount() != 1 {
				t.Fatalf("bucket le=4µs holds %d, want 1", b.GetCumulativeCount())
			}
		}
	}
	for _, name := range []string{"nagare_readpath_sendfile_duration_seconds", "nagare_readpath_residency_check_duration_seconds",
		"nagare_readpath_warmup_duration_seconds", "nagare_readpath_warmup_queue_wait_seconds", "nagare_readpath_residency_method",
		"nagare_readpath_residency_checks_total", "nagare_readpath_warmup_threads"} {
		if !byName[name] {
			t.Errorf("%s not exported", name)
		}
	}
}
