package main

// CPU accounting for `nagare bench`: how many CPU-seconds the server under
// test and the bench client spent in a run's timed phase. On a shared
// machine CPU per record is steadier than records/s, which moves with the
// other tenants' load. Reading a process's CPU from /proc is in
// bench_cpu_linux.go.

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"
)

// cpuMeter reads the CPU time a process has used so far, user and system.
type cpuMeter interface {
	cpuSeconds() (float64, error)
}

// cpuWindow measures one meter over the timed phase of a run.
type cpuWindow struct {
	meter cpuMeter // nil: not measured
	start float64
	err   error
}

// startCPU samples m; a nil meter gives a window that measures nothing.
func startCPU(m cpuMeter) cpuWindow {
	w := cpuWindow{meter: m}
	if m != nil {
		w.start, w.err = m.cpuSeconds()
	}
	return w
}

// stop returns the CPU-seconds used since startCPU, or nil when the meter
// is absent or failed. A failure is not the run's: the figure is left out.
func (w cpuWindow) stop() *float64 {
	if w.meter == nil || w.err != nil {
		return nil
	}
	end, err := w.meter.cpuSeconds()
	if err != nil {
		return nil
	}
	used := max(end-w.start, 0)
	return &used
}

// metricsMeter reads process_cpu_seconds_total from a Prometheus endpoint,
// such as the /metrics of `nagare serve --http`.
type metricsMeter struct {
	url    string
	client *http.Client
}

// processCPUMetric is the process collector's counter, which Nagare, Kafka's
// JMX exporter setups and most Go servers expose.
const processCPUMetric = "process_cpu_seconds_total"

// newMetricsMeter reads addr's /metrics; addr is host:port, as given to
// `nagare serve --http`, or a full URL.
func newMetricsMeter(addr string) *metricsMeter {
	url := addr
	if !strings.Contains(url, "://") {
		url = "http://" + addr + "/metrics"
	}
	return &metricsMeter{url: url, client: &http.Client{Timeout: 5 * time.Second}}
}

func (m *metricsMeter) cpuSeconds() (float64, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, m.url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", m.url, resp.Status)
	}
	return parseProcessCPU(bufio.NewScanner(resp.Body), m.url)
}

// parseProcessCPU finds the unlabelled process_cpu_seconds_total sample in
// Prometheus text exposition format.
func parseProcessCPU(sc *bufio.Scanner, source string) (float64, error) {
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || name != processCPUMetric {
			continue
		}
		value, _, _ = strings.Cut(strings.TrimSpace(value), " ") // drop a timestamp
		return strconv.ParseFloat(value, 64)
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s has no %s", source, processCPUMetric)
}

// usageMeter brackets the timed phase of a run: the server's CPU time
// (when a meter reads it), and this process's CPU time and GC cycles, the
// client's own cost.
type usageMeter struct {
	server, client cpuWindow
	gcCycles       uint64
}

// usage is what a usageMeter measured.
type usage struct {
	serverCPU, clientCPU *float64 // seconds; nil when not measured
	gcCycles             uint64
}

// gcCyclesMetric counts completed GC cycles without stopping the world,
// unlike runtime.ReadMemStats.
const gcCyclesMetric = "/gc/cycles/total:gc-cycles"

func startUsage(server cpuMeter) usageMeter {
	return usageMeter{server: startCPU(server), client: startCPU(selfMeter()), gcCycles: gcCycles()}
}

func (u usageMeter) stop() usage {
	return usage{serverCPU: u.server.stop(), clientCPU: u.client.stop(), gcCycles: gcCycles() - u.gcCycles}
}

// selfMeter reads this process's CPU time, or is nil where it cannot.
func selfMeter() cpuMeter {
	m, err := newProcMeter(os.Getpid())
	if err != nil {
		return nil
	}
	return m
}

func gcCycles() uint64 {
	s := []metrics.Sample{{Name: gcCyclesMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
