package main

import (
	"fmt"
	"io"
	"slices"
	"time"
)

// benchReport is the result of `nagare bench`, printed as a table or as JSON
// (the JSON field names are a stable interface for scripts).
type benchReport struct {
	Workload string     `json:"workload"` // "produce" or "consume"
	Settings any        `json:"settings"` // produceSettings or consumeSettings
	Repeat   int        `json:"repeat"`   // runs per target
	Runs     []benchRun `json:"runs"`     // in the order they ran
	// Medians has one entry per target, --bootstrap's first: each figure
	// is the median of that target's runs (so a row may mix runs).
	Medians []benchRun   `json:"medians"`
	Ratios  []benchRatio `json:"ratios,omitempty"` // of the medians

	description string // one line for the table
}

// benchRun is one workload run against one cluster, or the medians of a
// target's runs.
type benchRun struct {
	Target        string          `json:"target"` // --label, kfake-memory or kfake-datadir
	Bootstrap     string          `json:"bootstrap"`
	Repeat        int             `json:"repeat,omitempty"` // 1..--repeat; 0 in medians
	Partitions    int32           `json:"partitions"`
	Records       int64           `json:"records"`
	Bytes         int64           `json:"bytes"` // keys and values
	Seconds       float64         `json:"seconds"`
	RecordsPerSec float64         `json:"records_per_sec"`
	MiBPerSec     float64         `json:"mib_per_sec"` // MiB = 2^20 bytes
	LatencyMs     *latencySummary `json:"latency_ms,omitempty"`

	// CPU time over the timed phase: the server's (when measurable: --http
	// or --server-pid for the --bootstrap cluster, /proc for kfake) and
	// this process's, the client's. Per million records, they are steadier
	// than throughput on a shared machine.
	ServerCPUSeconds    *float64 `json:"server_cpu_seconds,omitempty"`
	ServerCPUPerMillion *float64 `json:"server_cpu_seconds_per_million_records,omitempty"`
	ClientCPUSeconds    *float64 `json:"client_cpu_seconds,omitempty"`
	ClientCPUPerMillion *float64 `json:"client_cpu_seconds_per_million_records,omitempty"`
	ClientGCCycles      uint64   `json:"client_gc_cycles"`
	LoadAverage         *float64 `json:"load_average_1m,omitempty"` // at the end of the run
}

// latencySummary is per-record produce latency in milliseconds.
type latencySummary struct {
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// benchRatio compares the --bootstrap cluster's medians with one kfake's:
// Target's value divided by Baseline's. Throughput above 1, and latency and
// CPU below 1, favour the target.
type benchRatio struct {
	Target     string   `json:"target"`
	Baseline   string   `json:"baseline"`
	Throughput float64  `json:"throughput"` // records/s (and MiB/s: same record size)
	P50        *float64 `json:"latency_p50,omitempty"`
	P99        *float64 `json:"latency_p99,omitempty"`
	P999       *float64 `json:"latency_p99_9,omitempty"`
	ServerCPU  *float64 `json:"server_cpu_per_record,omitempty"`
}

func newBenchRun(partitions int32, records, bytes int64, elapsed time.Duration) benchRun {
	seconds := max(elapsed.Seconds(), 1e-9)
	return benchRun{
		Partitions:    partitions,
		Records:       records,
		Bytes:         bytes,
		Seconds:       elapsed.Seconds(),
		RecordsPerSec: float64(records) / seconds,
		MiBPerSec:     float64(bytes) / (1 << 20) / seconds,
	}
}

// addUsage records what a usageMeter measured, and the load average now.
func (r *benchRun) addUsage(u usage) {
	r.ServerCPUSeconds, r.ClientCPUSeconds, r.ClientGCCycles = u.serverCPU, u.clientCPU, u.gcCycles
	r.ServerCPUPerMillion = perMillion(u.serverCPU, r.Records)
	r.ClientCPUPerMillion = perMillion(u.clientCPU, r.Records)
	r.LoadAverage = loadAverage()
}

func perMillion(seconds *float64, records int64) *float64 {
	if seconds == nil || records <= 0 {
		return nil
	}
	v := *seconds / float64(records) * 1e6
	return &v
}

func summarizeLatency(h *latencyHistogram) *latencySummary {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return &latencySummary{
		P50:  ms(h.quantile(0.50)),
		P99:  ms(h.quantile(0.99)),
		P999: ms(h.quantile(0.999)),
		Max:  ms(h.maximum()),
		Mean: ms(h.mean()),
	}
}

// summarize fills Medians, one per target in the order given, and the
// ratios of the first target's medians to each other's.
func (r *benchReport) summarize(targets []string) {
	r.Medians = r.Medians[:0]
	for _, target := range targets {
		var runs []benchRun
		for _, run := range r.Runs {
			if run.Target == target {
				runs = append(runs, run)
			}
		}
		if len(runs) > 0 {
			r.Medians = append(r.Medians, medianRun(runs))
		}
	}
	r.Ratios = nil
	if len(r.Medians) < 2 {
		return
	}
	first := r.Medians[0]
	for _, base := range r.Medians[1:] {
		ratio := benchRatio{
			Target:     first.Target,
			Baseline:   base.Target,
			Throughput: divide(first.RecordsPerSec, base.RecordsPerSec),
		}
		if first.LatencyMs != nil && base.LatencyMs != nil {
			p50 := divide(first.LatencyMs.P50, base.LatencyMs.P50)
			p99 := divide(first.LatencyMs.P99, base.LatencyMs.P99)
			p999 := divide(first.LatencyMs.P999, base.LatencyMs.P999)
			ratio.P50, ratio.P99, ratio.P999 = &p50, &p99, &p999
		}
		if first.ServerCPUPerMillion != nil && base.ServerCPUPerMillion != nil {
			cpu := divide(*first.ServerCPUPerMillion, *base.ServerCPUPerMillion)
			ratio.ServerCPU = &cpu
		}
		r.Ratios = append(r.Ratios, ratio)
	}
}

// medianRun returns the median of each figure of runs (all of one target).
// Each figure is a median on its own, so the row may mix runs; with an even
// count it is the mean of the middle two.
func medianRun(runs []benchRun) benchRun {
	m := runs[0]
	m.Repeat = 0
	of := func(get func(benchRun) float64) float64 {
		values := make([]float64, len(runs))
		for i, run := range runs {
			values[i] = get(run)
		}
		return median(values)
	}
	// ofOptional is the median of the runs that have the figure.
	ofOptional := func(get func(benchRun) *float64) *float64 {
		var values []float64
		for _, run := range runs {
			if v := get(run); v != nil {
				values = append(values, *v)
			}
		}
		if len(values) == 0 {
			return nil
		}
		v := median(values)
		return &v
	}
	m.Records = int64(of(func(r benchRun) float64 { return float64(r.Records) }))
	m.Bytes = int64(of(func(r benchRun) float64 { return float64(r.Bytes) }))
	m.Seconds = of(func(r benchRun) float64 { return r.Seconds })
	m.RecordsPerSec = of(func(r benchRun) float64 { return r.RecordsPerSec })
	m.MiBPerSec = of(func(r benchRun) float64 { return r.MiBPerSec })
	if m.LatencyMs != nil {
		lat := func(get func(*latencySummary) float64) float64 {
			return of(func(r benchRun) float64 {
				if r.LatencyMs == nil {
					return 0
				}
				return get(r.LatencyMs)
			})
		}
		m.LatencyMs = &latencySummary{
			P50:  lat(func(l *latencySummary) float64 { return l.P50 }),
			P99:  lat(func(l *latencySummary) float64 { return l.P99 }),
			P999: lat(func(l *latencySummary) float64 { return l.P999 }),
			Max:  lat(func(l *latencySummary) float64 { return l.Max }),
			Mean: lat(func(l *latencySummary) float64 { return l.Mean }),
		}
	}
	m.ServerCPUSeconds = ofOptional(func(r benchRun) *float64 { return r.ServerCPUSeconds })
	m.ServerCPUPerMillion = ofOptional(func(r benchRun) *float64 { return r.ServerCPUPerMillion })
	m.ClientCPUSeconds = ofOptional(func(r benchRun) *float64 { return r.ClientCPUSeconds })
	m.ClientCPUPerMillion = ofOptional(func(r benchRun) *float64 { return r.ClientCPUPerMillion })
	m.ClientGCCycles = uint64(of(func(r benchRun) float64 { return float64(r.ClientGCCycles) }))
	m.LoadAverage = ofOptional(func(r benchRun) *float64 { return r.LoadAverage })
	return m
}

// median returns the middle value, or the mean of the middle two; it sorts
// values.
func median(values []float64) float64 {
	if len(values) == 0 {
		return 0
	}
	slices.Sort(values)
	n := len(values)
	if n%2 == 1 {
		return values[n/2]
	}
	return (values[n/2-1] + values[n/2]) / 2
}

// divide returns a/b, or 0 when b is 0 (JSON has no infinity).
func divide(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// printTable writes the report for people: every run when there were
// several per target, the medians, then the ratios.
func (r *benchReport) printTable(out io.Writer) error {
	fmt.Fprintf(out, "bench %s\n\n", r.description)
	if r.Repeat > 1 {
		fmt.Fprintf(out, "runs (targets in rotating order):\n")
		if err := r.printRuns(out, r.Runs, true); err != nil {
			return err
		}
		fmt.Fprintf(out, "\nmedians of %d runs:\n", r.Repeat)
	}
	if err := r.printRuns(out, r.Medians, false); err != nil {
		return err
	}
	if len(r.Ratios) == 0 {
		return nil
	}

	withLatency := r.Ratios[0].P50 != nil
	withCPU := false
	for _, ratio := range r.Ratios {
		withCPU = withCPU || ratio.ServerCPU != nil
	}
	fmt.Fprintln(out)
	tw := newTable(out)
	header := fmt.Sprintf("RATIO %s/kfake\tTHROUGHPUT", r.Ratios[0].Target)
	if withLatency {
		header += "\tP50\tP99\tP99.9"
	}
	if withCPU {
		header += "\tSERVER CPU/RECORD"
	}
	fmt.Fprintln(tw, header)
	for _, ratio := range r.Ratios {
		fmt.Fprintf(tw, "vs %s\t%.2fx", ratio.Baseline, ratio.Throughput)
		if withLatency && ratio.P50 != nil {
			fmt.Fprintf(tw, "\t%.2fx\t%.2fx\t%.2fx", *ratio.P50, *ratio.P99, *ratio.P999)
		}
		if withCPU {
			fmt.Fprintf(tw, "\t%s", formatRatio(ratio.ServerCPU))
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	note := "(throughput: above 1x is better"
	switch {
	case withLatency && withCPU:
		note += "; latency and CPU: below 1x is better"
	case withLatency:
		note += "; latency: below 1x is better"
	case withCPU:
		note += "; CPU: below 1x is better"
	}
	_, err := fmt.Fprintln(out, note+")")
	return err
}

// printRuns writes one table of runs (or medians), with a REPEAT column
// when numbered. CPU columns are CPU-seconds per million records.
func (r *benchReport) printRuns(out io.Writer, runs []benchRun, numbered bool) error {
	withLatency := len(runs) > 0 && runs[0].LatencyMs != nil
	withServerCPU := false
	for _, run := range runs {
		withServerCPU = withServerCPU || run.ServerCPUPerMillion != nil
	}
	tw := newTable(out)
	header := "TARGET\tPARTITIONS\tRECORDS\tSECONDS\tRECORDS/S\tMiB/S"
	if numbered {
		header = "REPEAT\t" + header
	}
	if withLatency {
		header += "\tP50 ms\tP99 ms\tP99.9 ms\tMAX ms"
	}
	if withServerCPU {
		header += "\tSERVER CPU s/M"
	}
	header += "\tCLIENT CPU s/M\tCLIENT GCs\tLOAD"
	fmt.Fprintln(tw, header)
	for _, run := range runs {
		if numbered {
			fmt.Fprintf(tw, "%d\t", run.Repeat)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.3f\t%.0f\t%.1f", run.Target, run.Partitions, run.Records,
			run.Seconds, run.RecordsPerSec, run.MiBPerSec)
		if l := run.LatencyMs; withLatency && l != nil {
			fmt.Fprintf(tw, "\t%s\t%s\t%s\t%s", formatMs(l.P50), formatMs(l.P99), formatMs(l.P999), formatMs(l.Max))
		}
		if withServerCPU {
			fmt.Fprintf(tw, "\t%s", formatOptional(run.ServerCPUPerMillion))
		}
		fmt.Fprintf(tw, "\t%s\t%d\t%s\n", formatOptional(run.ClientCPUPerMillion), run.ClientGCCycles,
			formatOptional(run.LoadAverage))
	}
	return tw.Flush()
}

// formatOptional prints a figure that may be unmeasured.
func formatOptional(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.2f", *v)
}

func formatRatio(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.2fx", *v)
}

// formatMs prints milliseconds with about three significant digits.
func formatMs(ms float64) string {
	switch {
	case ms < 10:
		return fmt.Sprintf("%.2f", ms)
	case ms < 100:
		return fmt.Sprintf("%.1f", ms)
	default:
		return fmt.Sprintf("%.0f", ms)
	}
}
