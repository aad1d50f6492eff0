package main

// The probe producer of bench coldread and bench abuse in a child process of its own.
// In the bench's process the probe shares the in-process broker's Go runtime: when the
// broker's goroutines saturate its Ps, the probe's produce calls and acknowledgement
// callbacks queue behind them, so its latency measured the broker's scheduler as seen
// from inside, which no real client (on another machine) pays. In a child it measures
// what a client pays: the broker's response time plus loopback.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/spf13/cobra"
)

// probeName is the hidden subcommand that runs the probe producer for a parent bench.
const probeName = "probe"

// probeRunner is the probe producer, in the bench's process (probe) or a child
// (childProbe).
type probeRunner interface {
	// run produces until stop closes and returns the measured latencies.
	run(ctx context.Context, stop <-chan struct{}) *latencyHistogram
	// runFor produces for d.
	runFor(ctx context.Context, d time.Duration) *latencyHistogram
	// setPaused stops or resumes measuring (records are still sent).
	setPaused(paused bool)
	err() error
	close()
}

// The parent drives the child with one word per line on its stdin; the child answers
// "ready" once its topic exists and a first record was acknowledged, and one JSON
// probeResult per stop.
const (
	probeCmdRun    = "run"
	probeCmdStop   = "stop"
	probeCmdPause  = "pause"
	probeCmdResume = "resume"
	probeReady     = "ready"
)

// probeResult is one run's latencies as the child sends them.
type probeResult struct {
	Histogram histogramJSON `json:"histogram"`
	Error     string        `json:"error,omitempty"`
}

// histogramJSON is a latencyHistogram's non-empty buckets, for crossing processes.
type histogramJSON struct {
	Buckets [][2]uint64 `json:"buckets"` // bucket index, count
	Total   uint64      `json:"total"`
	Sum     uint64      `json:"sum"`
	Max     uint64      `json:"max"`
}

func (h *latencyHistogram) toJSON() histogramJSON {
	out := histogramJSON{Total: h.total.Load(), Sum: h.sum.Load(), Max: h.max.Load()}
	for i := range h.counts {
		if n := h.counts[i].Load(); n > 0 {
			out.Buckets = append(out.Buckets, [2]uint64{uint64(i), n})
		}
	}
	return out
}

func (j histogramJSON) histogram() (*latencyHistogram, error) {
	h := new(latencyHistogram)
	for _, b := range j.Buckets {
		if b[0] >= histBuckets {
			return nil, fmt.Errorf("probe histogram bucket %d out of range", b[0])
		}
		h.counts[b[0]].Store(b[1])
	}
	h.total.Store(j.Total)
	h.sum.Store(j.Sum)
	h.max.Store(j.Max)
	return h, nil
}

// newBenchProbeCommand returns `nagare bench probe`, the child side.
func newBenchProbeCommand(bf *benchFlags) *cobra.Command {
	o := coldReadOptions{rate: 2000, probeSize: 100}
	cmd := &cobra.Command{
		Use:    probeName,
		Short:  "Run a bench's probe producer, driven over stdin",
		Hidden: true,
		Args:   exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.topic, o.timeout = bf.topic, bf.client.timeout
			return serveProbe(cmd.Context(), bf.client, &o, cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	cmd.Flags().Float64Var(&o.rate, "rate", o.rate, "records per second")
	cmd.Flags().IntVar(&o.probeSize, "probe-size", o.probeSize, "record value bytes")
	return cmd
}

// serveProbe runs the in-process probe as the parent's commands say, until stdin ends.
func serveProbe(ctx context.Context, cf *clientFlags, o *coldReadOptions, in io.Reader, out io.Writer) error {
	p, err := newProbe(ctx, cf, o)
	if err != nil {
		return err
	}
	defer p.close()
	if _, err := fmt.Fprintln(out, probeReady); err != nil {
		return err
	}
	var stop chan struct{}
	var done chan *latencyHistogram
	lines := bufio.NewScanner(in)
	for lines.Scan() {
		switch lines.Text() {
		case probeCmdRun:
			if stop != nil {
				return fmt.Errorf("probe: %q while running", probeCmdRun)
			}
			stop, done = make(chan struct{}), make(chan *latencyHistogram, 1)
			go func(stop <-chan struct{}) { done <- p.run(ctx, stop) }(stop)
		case probeCmdPause, probeCmdResume:
			p.setPaused(lines.Text() == probeCmdPause)
		case probeCmdStop:
			if stop == nil {
				return fmt.Errorf("probe: %q while not running", probeCmdStop)
			}
			close(stop)
			res := probeResult{Histogram: (<-done).toJSON()}
			if err := p.err(); err != nil {
				res.Error = err.Error()
			}
			stop = nil
			if err := json.NewEncoder(out).Encode(res); err != nil {
				return err
			}
		default:
			return fmt.Errorf("probe: unknown command %q", lines.Text())
		}
	}
	if stop != nil {
		close(stop)
		<-done
	}
	return lines.Err()
}

// childProbe is the parent's side of a probe in a child process.
type childProbe struct {
	wait    func() error
	stdin   io.WriteCloser
	out     *bufio.Reader
	mu      sync.Mutex // serializes writes to stdin (setPaused runs beside run)
	errMu   sync.Mutex
	lastErr error // guarded by errMu
}

// startProbe starts the probe producer, in a child process unless inProcess, and
// returns once it is ready to measure.
func startProbe(ctx context.Context, cf *clientFlags, o *coldReadOptions, inProcess bool, at childPlacement) (probeRunner, error) {
	if inProcess {
		return newProbe(ctx, cf, o)
	}
	child, err := benchChild(ctx, at, "bench", probeName, "--bootstrap", cf.bootstrap, "--topic", o.topic,
		"--timeout", o.timeout.String(), "--rate", strconv.FormatFloat(o.rate, 'g', -1, 64),
		"--probe-size", strconv.Itoa(o.probeSize))
	if err != nil {
		return nil, err
	}
	stdin, out, err := startPiped(child, o.logOutput)
	if err != nil {
		return nil, fmt.Errorf("the probe: %w", err)
	}
	p := &childProbe{wait: child.Wait, stdin: stdin, out: out}
	line, err := p.out.ReadString('\n')
	if err != nil || line != probeReady+"\n" {
		p.close()
		return nil, fmt.Errorf("the probe (bench %s) did not start: %q %v", probeName, line, err)
	}
	return p, nil
}

func (p *childProbe) send(command string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, err := io.WriteString(p.stdin, command+"\n")
	return err
}

func (p *childProbe) run(ctx context.Context, stop <-chan struct{}) *latencyHistogram {
	if err := p.send(probeCmdRun); err != nil {
		return p.fail(err)
	}
	select {
	case <-stop:
	case <-ctx.Done():
	}
	if err := p.send(probeCmdStop); err != nil {
		return p.fail(err)
	}
	var res probeResult
	line, err := p.out.ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &res)
	}
	if err != nil {
		return p.fail(fmt.Errorf("the probe's result: %w", err))
	}
	if res.Error != "" {
		p.setErr(fmt.Errorf("%s", res.Error))
	}
	h, err := res.Histogram.histogram()
	if err != nil {
		return p.fail(err)
	}
	return h
}

func (p *childProbe) runFor(ctx context.Context, d time.Duration) *latencyHistogram {
	stop := make(chan struct{})
	t := time.AfterFunc(d, func() { close(stop) })
	defer t.Stop()
	return p.run(ctx, stop)
}

func (p *childProbe) setPaused(paused bool) {
	command := probeCmdResume
	if paused {
		command = probeCmdPause
	}
	if err := p.send(command); err != nil {
		p.setErr(err)
	}
}

// fail records err and returns an empty histogram, as the in-process probe does when its
// records fail.
func (p *childProbe) fail(err error) *latencyHistogram {
	p.setErr(fmt.Errorf("probe (bench %s): %w", probeName, err))
	return new(latencyHistogram)
}

func (p *childProbe) setErr(err error) {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	if p.lastErr == nil {
		p.lastErr = err
	}
}

func (p *childProbe) err() error {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	return p.lastErr
}

// close ends the child: stdin's end stops it, and its exit is waited for.
func (p *childProbe) close() {
	p.stdin.Close()
	_, _ = io.Copy(io.Discard, p.out)
	if err := p.wait(); err != nil {
		p.setErr(fmt.Errorf("probe (bench %s) exited: %w", probeName, err))
	}
}
