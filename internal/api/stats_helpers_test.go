package api

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nagare-dev/nagare/internal/stats"
)

// prometheusGather returns the request error counters of st, keyed by their labels.
func prometheusGather(t *testing.T, st *stats.Stats) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(st.Collector())
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "nagare_request_errors_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			key := ""
			for i, l := range m.GetLabel() {
				if i > 0 {
					key += ","
				}
				key += l.GetName() + "=" + l.GetValue()
			}
			out[key] = m.GetCounter().GetValue()
		}
	}
	return out
}
