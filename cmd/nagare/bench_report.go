package main

import (
	"fmt"
	"io"
	"time"
)

// benchReport is the result of `nagare bench`, printed as a table or as JSON
// (the JSON field names are a stable interface for scripts).
type benchReport struct {
	Workload string       `json:"workload"` // "produce" or "consume"
	Settings any          `json:"settings"` // produceSettings or consumeSettings
	Runs     []benchRun   `json:"runs"`     // the --bootstrap cluster first, then kfake
	Ratios   []benchRatio `json:"ratios,omitempty"`

	description string // one line for the table
}

// benchRun is one workload run against one cluster.
type benchRun struct {
	Target        string          `json:"target"` // --label, kfake-memory or kfake-datadir
	Bootstrap     string          `json:"bootstrap"`
	Partitions    int32           `json:"partitions"`
	Records       int64           `json:"records"`
	Bytes         int64           `json:"bytes"` // keys and values
	Seconds       float64         `json:"seconds"`
	RecordsPerSec float64         `json:"records_per_sec"`
	MiBPerSec     float64         `json:"mib_per_sec"` // MiB = 2^20 bytes
	LatencyMs     *latencySummary `json:"latency_ms,omitempty"`
}

// latencySummary is per-record produce latency in milliseconds.
type latencySummary struct {
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// benchRatio compares the first run with one kfake run: Target's value
// divided by Baseline's. Throughput above 1 and latency below 1 favour the
// target.
type benchRatio struct {
	Target     string   `json:"target"`
	Baseline   string   `json:"baseline"`
	Throughput float64  `json:"throughput"` // records/s (and MiB/s: same record size)
	P50        *float64 `json:"latency_p50,omitempty"`
	P99        *float64 `json:"latency_p99,omitempty"`
	P999       *float64 `json:"latency_p99_9,omitempty"`
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

// addRatios compares the first run with each later one.
func (r *benchReport) addRatios() {
	if len(r.Runs) < 2 {
		return
	}
	first := r.Runs[0]
	for _, base := range r.Runs[1:] {
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
		r.Ratios = append(r.Ratios, ratio)
	}
}

// divide returns a/b, or 0 when b is 0 (JSON has no infinity).
func divide(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// printTable writes the report for people.
func (r *benchReport) printTable(out io.Writer) error {
	fmt.Fprintf(out, "bench %s\n\n", r.description)
	withLatency := len(r.Runs) > 0 && r.Runs[0].LatencyMs != nil
	tw := newTable(out)
	header := "TARGET\tPARTITIONS\tRECORDS\tSECONDS\tRECORDS/S\tMiB/S"
	if withLatency {
		header += "\tP50 ms\tP99 ms\tP99.9 ms\tMAX ms"
	}
	fmt.Fprintln(tw, header)
	for _, run := range r.Runs {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.3f\t%.0f\t%.1f", run.Target, run.Partitions, run.Records,
			run.Seconds, run.RecordsPerSec, run.MiBPerSec)
		if l := run.LatencyMs; withLatency && l != nil {
			fmt.Fprintf(tw, "\t%s\t%s\t%s\t%s", formatMs(l.P50), formatMs(l.P99), formatMs(l.P999), formatMs(l.Max))
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Ratios) == 0 {
		return nil
	}

	fmt.Fprintln(out)
	tw = newTable(out)
	header = fmt.Sprintf("RATIO %s/kfake\tTHROUGHPUT", r.Ratios[0].Target)
	if withLatency {
		header += "\tP50\tP99\tP99.9"
	}
	fmt.Fprintln(tw, header)
	for _, ratio := range r.Ratios {
		fmt.Fprintf(tw, "vs %s\t%.2fx", ratio.Baseline, ratio.Throughput)
		if withLatency && ratio.P50 != nil {
			fmt.Fprintf(tw, "\t%.2fx\t%.2fx\t%.2fx", *ratio.P50, *ratio.P99, *ratio.P999)
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	note := "(throughput: above 1x is better"
	if withLatency {
		note += "; latency: below 1x is better"
	}
	_, err := fmt.Fprintln(out, note+")")
	return err
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
