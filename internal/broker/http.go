package broker

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/nagare-dev/nagare/internal/readpath"
)

// startHTTP serves /metrics (Prometheus text, or OpenMetrics when the scraper asks),
// /healthz (the process is up), /readyz (the broker has loaded its logs and metadata and
// its listeners are open), /v1/clients (the per-client view, JSON), /v1/io (the read
// path's log2 histograms, JSON), /v1/share-groups (share-partitions' in-flight counts,
// JSON) and, with Config.PProf, /debug/pprof.
func (b *Broker) startHTTP(addr string, withPProf bool) error {
	if err := b.openStats(); err != nil {
		return err
	}
	if addr == "" {
		return nil
	}
	// The runtime's GC pause and scheduler latency histograms besides the defaults
	// (goroutines, OS threads): a build-up of threads blocked in syscalls shows there.
	b.registry.MustRegister(
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(collectors.MetricsGC, collectors.MetricsScheduler)),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(b.registry, promhttp.HandlerOpts{Registry: b.registry, EnableOpenMetrics: true}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !b.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("/v1/clients", b.serveClients)
	mux.HandleFunc("/v1/io", b.serveIO)
	mux.HandleFunc("/v1/share-groups", b.serveShareGroups)
	if withPProf {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("http listener: %w", err)
	}
	b.httpAddr = ln.Addr()
	b.http = &http.Server{Handler: mux}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		if err := b.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			b.logger.Error("http server", "err", err)
		}
	}()
	return nil
}

// serveClients answers /v1/clients: every tracked client, busiest by broker time first,
// with rates over the last sample interval (stats.ClientsView).
func (b *Broker) serveClients(w http.ResponseWriter, _ *http.Request) {
	if b.stats == nil {
		http.Error(w, "request metrics are off (nagare.metrics.enable=false)", http.StatusNotFound)
		return
	}
	writeJSON(w, b.stats.Clients())
}

// IOView is /v1/io: the read path's log2 histograms, the seed's SystemTap view. Bucket 0
// counts durations under 1µs, bucket i durations in [2^(i-1), 2^i) µs.
type IOView struct {
	Method    string            `json:"residency_method"`
	Warmup    bool              `json:"warmup"`
	Histogram map[string]IOHist `json:"histograms"`
}

// IOHist is one log2 µs histogram, trailing empty buckets cut.
type IOHist struct {
	Buckets []uint64 `json:"buckets"`
	SumUs   int64    `json:"sum_us"`
}

// serveIO answers /v1/io, for `nagare top --io`.
func (b *Broker) serveIO(w http.ResponseWriter, _ *http.Request) {
	if !b.ready.Load() { // readPath is set during start; ready is stored after it
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	p := b.readPath
	v := IOView{Method: string(p.Method()), Warmup: p.Enabled(), Histogram: map[string]IOHist{
		"residency_check": ioHist(p.ResidencyLatency()),
		"warmup":          ioHist(p.WarmUpLatency()),
		"warmup_queue":    ioHist(p.QueueWait()),
	}}
	if h := p.SendFileLatency(); h != nil {
		v.Histogram["sendfile"] = ioHist(h)
	}
	writeJSON(w, v)
}

func ioHist(h *readpath.Histogram) IOHist {
	counts := h.Snapshot()
	last := len(counts)
	for last > 0 && counts[last-1] == 0 {
		last--
	}
	return IOHist{Buckets: counts[:last:last], SumUs: h.Sum().Microseconds()}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}
