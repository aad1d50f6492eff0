package main

// The report of `bench abuse`: each phase's probe latencies, their ratios to the same
// round's alone phase, the abuser's rate and throttling, and issue 6's targets.

import (
	"fmt"
	"io"
	"runtime"
)

type abuseReport struct {
	Settings abuseSettings `json:"settings"`
	Runs     []abuseRun    `json:"runs"` // rounds of alone, no-quota, quota
	Medians  []abuseMedian `json:"medians"`
	Targets  abuseTargets  `json:"targets"`
}

type abuseSettings struct {
	Duration       string  `json:"duration"`
	Warmup         string  `json:"warmup"`
	ProbeRate      float64 `json:"probe_rate"`
	ProbeSize      int     `json:"probe_size"`
	Connections    int     `json:"connections"`
	Repeat         int     `json:"repeat"`
	Quota          float64 `json:"quota"` // 0: the broker's default
	InProcess      bool    `json:"abusers_in_process"`
	ProbeInProcess bool    `json:"probe_in_process"`
	AbuserCPUs     string  `json:"abuser_cpus,omitempty"`
	AbuserNice     int     `json:"abuser_nice"`
	ProbeNice      int     `json:"probe_nice"`
	GOMAXPROCS     int     `json:"gomaxprocs"`
}

func (o *abuseOptions) settings() abuseSettings {
	return abuseSettings{Duration: o.duration.String(), Warmup: o.warmup.String(), ProbeRate: o.rate, ProbeSize: o.probeSize,
		Connections: o.connections, Repeat: o.repeat, Quota: o.quota, InProcess: o.inProcess, ProbeInProcess: o.probeInProcess, AbuserCPUs: o.abuser.cpus, AbuserNice: o.abuser.nice, ProbeNice: o.probePlace.nice, GOMAXPROCS: runtime.GOMAXPROCS(0)}
}

// abuseRun is one phase of one round.
type abuseRun struct {
	Repeat       int             `json:"repeat"`
	Phase        string          `json:"phase"`
	RequestQuota float64         `json:"request_quota"` // request_percentage the abuser was held to; 0: none
	Probe        *latencySummary `json:"probe_ms"`
	ProbeRecords uint64          `json:"probe_records"`
	Ratio        latencyRatio    `json:"ratio"` // over the round's alone phase
	Abuser       *abuserStats    `json:"abuser,omitempty"`
	LoadAverage  *float64        `json:"load_average"` // one-minute, at the phase's end; null off Linux
	// BrokerCPUPercent is the CPU of the bench's own process (the broker and the probe)
	// over the measurement, in percent of one core: what the quota's broker time is an
	// estimate of. Null off Linux.
	BrokerCPUPercent *float64 `json:"broker_process_cpu_percent"`
}

// abuseMedian is a phase's medians over the rounds.
type abuseMedian struct {
	Phase             string       `json:"phase"`
	Ratio             latencyRatio `json:"ratio"`
	P99Ms             float64      `json:"p99_ms"`
	RequestsPerSec    float64      `json:"abuser_requests_per_sec"`
	BrokerTimePercent float64      `json:"abuser_broker_time_percent"`
}

// abuseTargets are issue 6's, judged on the quota phase's medians.
type abuseTargets struct {
	P99         bool `json:"p99_within_1_5x"`
	AbuserQuota bool `json:"abuser_within_quota"` // broker time at most the quota + 15%
}

func (r *abuseReport) finish() {
	var alone *abuseRun
	for i := range r.Runs {
		run := &r.Runs[i]
		if run.Phase == phaseAlone {
			alone = run
		}
		if alone != nil && run.Probe != nil {
			run.Ratio = latencyRatio{
				P50:  divide(run.Probe.P50, alone.Probe.P50),
				P99:  divide(run.Probe.P99, alone.Probe.P99),
				P999: divide(run.Probe.P999, alone.Probe.P999),
			}
		}
	}
	for _, phase := range []string{phaseAlone, phaseNoQuota, phaseQuota} {
		var p50, p99, p999, ms, rps, bt []float64
		quota := 0.0
		for _, run := range r.Runs {
			if run.Phase != phase {
				continue
			}
			p50, p99, p999 = append(p50, run.Ratio.P50), append(p99, run.Ratio.P99), append(p999, run.Ratio.P999)
			ms = append(ms, run.Probe.P99)
			if run.Abuser != nil {
				rps, bt = append(rps, run.Abuser.RequestsPerSec), append(bt, run.Abuser.BrokerTimePercent)
			}
			quota = run.RequestQuota
		}
		m := abuseMedian{Phase: phase, Ratio: latencyRatio{P50: median(p50), P99: median(p99), P999: median(p999)},
			P99Ms: median(ms), RequestsPerSec: median(rps), BrokerTimePercent: median(bt)}
		r.Medians = append(r.Medians, m)
		if phase == phaseQuota {
			r.Targets = abuseTargets{P99: m.Ratio.P99 <= 1.5, AbuserQuota: quota > 0 && m.BrokerTimePercent <= quota*1.15}
		}
	}
}

func (r *abuseReport) printTable(out io.Writer) error {
	s := r.Settings
	fmt.Fprintf(out, "probe: %g records/s of %d bytes, acks=1; abuser: %d clients (ApiVersions, Metadata, 1-record Produce); %s per phase, %d round(s), GOMAXPROCS %d\n\n",
		s.ProbeRate, s.ProbeSize, s.Connections, s.Duration, s.Repeat, s.GOMAXPROCS)
	tw := newTable(out)
	fmt.Fprintln(tw, "ROUND\tPHASE\tQUOTA %\tPROBE p50/p99/p99.9 ms\tRATIO p50/p99/p99.9\tABUSER req/s\tABUSER BROKER-TIME %\tTHROTTLED RESP\tMEAN/MAX THROTTLE ms\tLOAD")
	for _, run := range r.Runs {
		quota := "off"
		if run.Abuser == nil {
			quota = "-" // nobody to hold to it
		} else if run.RequestQuota > 0 {
			quota = fmt.Sprintf("%g", run.RequestQuota)
		}
		abuser := "-\t-\t-\t-"
		if a := run.Abuser; a != nil {
			abuser = fmt.Sprintf("%.0f\t%.0f\t%d (%.0f%%)\t%.0f/%.0f", a.RequestsPerSec, a.BrokerTimePercent,
				a.ThrottledResps, 100*a.ThrottledFraction, a.MeanThrottleMs, a.MaxThrottleMs)
		}
		load := "-"
		if run.LoadAverage != nil {
			load = fmt.Sprintf("%.2f", *run.LoadAverage)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%.2f/%.2f/%.2f\t%.2f/%.2f/%.2f\t%s\t%s\n", run.Repeat, run.Phase, quota,
			run.Probe.P50, run.Probe.P99, run.Probe.P999, run.Ratio.P50, run.Ratio.P99, run.Ratio.P999, abuser, load)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out)
	for _, m := range r.Medians {
		if m.Phase == phaseAlone {
			continue
		}
		fmt.Fprintf(out, "median %s: probe p99 %.2f ms (%.2fx alone), abuser %.0f req/s using %.0f%% broker time\n",
			m.Phase, m.P99Ms, m.Ratio.P99, m.RequestsPerSec, m.BrokerTimePercent)
	}
	_, err := fmt.Fprintf(out, "targets with the default quota: p99 within 1.5x %s; abuser within its quota %s\n",
		passFail(r.Targets.P99), passFail(r.Targets.AbuserQuota))
	return err
}

func passFail(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}
