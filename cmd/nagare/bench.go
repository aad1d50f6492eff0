package main

// `nagare bench produce|consume`: throughput and latency of a cluster, and
// with --compare-kfake the same workload against franz-go's kfake in a child
// process, in memory and persisting, as the reference for docs/BENCHMARKS.md.
// The workloads are in bench_workload.go, the report in bench_report.go, the
// kfake child in bench_kfake.go, CPU accounting in bench_cpu.go.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"
)

// Names of the runs in a report.
const (
	kfakeMemoryName  = "kfake-memory"  // kfake holding the log in memory
	kfakeDataDirName = "kfake-datadir" // kfake.DataDir: segment files, fsync on roll and close
)

// benchFlags are the flags shared by `bench produce` and `bench consume`.
type benchFlags struct {
	client            *clientFlags
	topic             string
	records           int64
	recordSize        int
	partitions        int32
	replicationFactor int16
	compareKfake      bool
	repeat            int
	label             string
	serverHTTP        string // --http: the cluster's metrics, for its CPU time
	serverPID         int    // --server-pid: a local cluster process, for its CPU time
	clientGCPercent   int
	output            *choiceFlag
}

// newBenchCommand returns `nagare bench` and its subcommands.
func newBenchCommand() *cobra.Command {
	bf := &benchFlags{client: new(clientFlags), output: newChoice(outputTable, outputTable, outputJSON)}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure produce and consume throughput and latency",
		Long: `Benchmark a Kafka-compatible cluster with franz-go clients. Both workloads create
the topic when it is missing. With --compare-kfake the same workload also runs
against franz-go's kfake, started in a child process of this binary (once holding
the log in memory, once persisting to a temporary directory with kfake.DataDir),
and the report adds the ratios of the first cluster to each. With --repeat N each
target runs N times, in rotating order so that drift in the machine's load
favours none, and the report gives medians.

Besides records/s, MiB/s and produce latency, runs report CPU-seconds per million
records: the client's own, kfake's (read from /proc), and the cluster's when
--http names its metrics endpoint (process_cpu_seconds_total) or --server-pid a
local process. On a shared machine CPU per record is the steadier figure.

The tables are for reading; --output json is for scripts such as the ones that
build docs/BENCHMARKS.md.`,
		Args: noSubcommand,
		RunE: showHelp,
	}
	bf.client.register(cmd.PersistentFlags(), "nagare-bench")
	fs := cmd.PersistentFlags()
	fs.StringVarP(&bf.topic, "topic", "t", "nagare-bench", "topic to use; created when missing")
	fs.Int64Var(&bf.records, "records", 100_000, "records to produce or consume")
	fs.IntVar(&bf.recordSize, "record-size", 1024, "bytes in each record's value (records have no key)")
	fs.Int32Var(&bf.partitions, "partitions", 3, "partitions of the topic when it is created")
	fs.Int16Var(&bf.replicationFactor, "replication-factor", -1,
		"replication factor of the topic when it is created (-1: the broker's default)")
	fs.BoolVar(&bf.compareKfake, "compare-kfake", false,
		"also run the workload against kfake in a child process, in memory and with a data dir, and report ratios")
	fs.IntVar(&bf.repeat, "repeat", 1, "runs per target, interleaved; the report gives medians")
	fs.StringVar(&bf.label, "label", "nagare", "name of the --bootstrap cluster in the report")
	fs.StringVar(&bf.serverHTTP, "http", "",
		"the cluster's metrics address (as serve --http, or a URL), to report its process_cpu_seconds_total")
	fs.IntVar(&bf.serverPID, "server-pid", 0, "process id of a local one-broker cluster, to report its CPU time from /proc")
	fs.IntVar(&bf.clientGCPercent, "client-gc-percent", 1000,
		"GOGC of this client while it runs; garbage collection in the client shows in the latency tail")
	fs.VarP(bf.output, "output", "o", "report format")
	cmd.AddCommand(newBenchProduceCommand(bf), newBenchConsumeCommand(bf))
	cmd.AddCommand(newBenchColdReadCommand(bf), newBenchColdReadConsumersCommand(bf)) // bench_coldread.go
	cmd.AddCommand(newBenchProbeCommand(bf))                                          // bench_probe.go
	cmd.AddCommand(newBenchAbuseCommand(bf), newBenchAbuseClientsCommand(bf))         // bench_abuse.go
	cmd.AddCommand(newBenchFailoverCommand(bf))                                       // bench_failover.go
	cmd.AddCommand(newBenchTxnCommand(bf))                                            // bench_txn.go
	cmd.AddCommand(newBenchShareCommand(bf))                                          // bench_share.go
	cmd.AddCommand(newBenchKfakeServeCommand())
	return cmd
}

func (bf *benchFlags) validate(cmd *cobra.Command) error {
	if err := bf.client.validate(cmd); err != nil {
		return err
	}
	switch {
	case bf.topic == "":
		return usagef(cmd, "--topic must not be empty")
	case bf.records <= 0:
		return usagef(cmd, "--records must be positive")
	case bf.recordSize < 0:
		return usagef(cmd, "--record-size must not be negative")
	case bf.partitions == 0 || bf.partitions < -1:
		return usagef(cmd, "--partitions must be positive (or -1 for the broker's default)")
	case bf.repeat <= 0:
		return usagef(cmd, "--repeat must be positive")
	case bf.serverHTTP != "" && bf.serverPID != 0:
		return usagef(cmd, "give --http or --server-pid, not both")
	case bf.serverPID < 0:
		return usagef(cmd, "--server-pid must be positive")
	case bf.clientGCPercent <= 0:
		return usagef(cmd, "--client-gc-percent must be positive")
	}
	return nil
}

// newBenchProduceCommand returns `nagare bench produce`.
func newBenchProduceCommand(bf *benchFlags) *cobra.Command {
	w := produceWorkload{batchMaxBytes: 1_000_012, linger: 10 * time.Millisecond, clients: 1}
	acks := newChoice("all", "all", "-1", "1", "0")
	compression := newChoice("none", compressionNames...)
	cmd := &cobra.Command{
		Use:   "produce",
		Short: "Measure produce throughput and per-record latency",
		Long: `Produce --records records (or for --duration) of --record-size bytes from
--clients producer clients, and report records/s, MiB/s of values, and the
latency of each record from the Produce call to its acknowledgement (p50, p99,
p99.9, max). Latency includes time spent waiting for buffer space in the
client, so it is honest when the cluster is the bottleneck. Each client first
sends one unmeasured record, to connect and load metadata. All records carry
the same random value.`,
		Example: `  nagare bench produce --records 1000000 --record-size 1024 --clients 4
  nagare bench produce --duration 30s --rate 20000 --acks 1
  nagare bench produce --records 200000 --compare-kfake --output json > produce.json`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bf.validate(cmd); err != nil {
				return err
			}
			if cmd.Flags().Changed("duration") && cmd.Flags().Changed("records") {
				return usagef(cmd, "give --records or --duration, not both")
			}
			switch {
			case w.duration < 0:
				return usagef(cmd, "--duration must not be negative")
			case w.clients <= 0:
				return usagef(cmd, "--clients must be positive")
			case w.rate < 0:
				return usagef(cmd, "--rate must not be negative")
			case w.batchMaxBytes <= 0:
				return usagef(cmd, "--batch-max-bytes must be positive")
			case w.linger < 0:
				return usagef(cmd, "--linger must not be negative")
			}
			w.topic, w.partitions, w.replicationFactor = bf.topic, bf.partitions, bf.replicationFactor
			w.records, w.recordSize = bf.records, bf.recordSize
			if w.duration > 0 {
				w.records = 0
			}
			w.acks, w.compression = acks.value, compression.value
			w.timeout = bf.client.timeout
			if !w.idempotent && w.acks != "all" && cmd.Flags().Changed("idempotent") {
				return usagef(cmd, "--idempotent=false only makes sense with --acks all (acks 1 and 0 are never idempotent)")
			}
			w.idempotent = w.idempotent && w.acks == "all" // franz-go needs acks=all for it
			return bf.client.explain(runBench(cmd.Context(), bf, cmd.OutOrStdout(), cmd.ErrOrStderr(), &w))
		},
	}
	fs := cmd.Flags()
	fs.DurationVar(&w.duration, "duration", 0, "produce for this long instead of a number of records")
	fs.Int32Var(&w.batchMaxBytes, "batch-max-bytes", w.batchMaxBytes, "largest record batch the client builds (ProducerBatchMaxBytes)")
	fs.DurationVar(&w.linger, "linger", w.linger, "how long a partition's batch waits to fill (ProducerLinger)")
	fs.Var(acks, "acks", "acknowledgements to wait for: all, 1 (leader) or 0 (none)")
	fs.Var(compression, "compression", "compression codec for record batches")
	fs.IntVar(&w.clients, "clients", w.clients, "producer clients, each with its own connections")
	fs.Float64Var(&w.rate, "rate", 0, "records per second across all clients (0: as fast as possible)")
	fs.BoolVar(&w.idempotent, "idempotent", true,
		"idempotent producer (franz-go's default with --acks all); --idempotent=false sends plain batches")
	return cmd
}

// newBenchConsumeCommand returns `nagare bench consume`.
func newBenchConsumeCommand(bf *benchFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "consume",
		Short: "Measure consume throughput",
		Long: `Read --records records from the start of the topic's partitions with one
client and report records/s and MiB/s, timed from the first fetch to the last
record. When the topic holds fewer records, the missing ones are produced
first (with --record-size, untimed), and the command says so.`,
		Example: `  nagare bench consume --records 1000000
  nagare bench consume --records 200000 --compare-kfake --output json > consume.json`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bf.validate(cmd); err != nil {
				return err
			}
			w := consumeWorkload{
				topic:             bf.topic,
				partitions:        bf.partitions,
				replicationFactor: bf.replicationFactor,
				records:           bf.records,
				recordSize:        bf.recordSize,
				timeout:           bf.client.timeout,
			}
			return bf.client.explain(runBench(cmd.Context(), bf, cmd.OutOrStdout(), cmd.ErrOrStderr(), &w))
		},
	}
	return cmd
}

// workload is a benchmark that can run against any cluster.
type workload interface {
	name() string // "produce" or "consume"
	// run measures the workload against the cluster that cf names,
	// logging progress to log. server, when not nil, reads the cluster's
	// CPU time, which run measures over the timed phase only.
	run(ctx context.Context, cf *clientFlags, server cpuMeter, log io.Writer) (benchRun, error)
	// matchFirstRun makes the kfake runs do the work the first run did: the
	// same partition count (replication factor: kfake's default, as it has
	// one broker) and, for consume, records of the size the first run read.
	matchFirstRun(first benchRun)
	// settings describes the workload for the JSON report.
	settings() any
	// describe describes the workload in a line of the table report.
	describe() string
}

// runBench runs w against --bootstrap and, with --compare-kfake, against the
// two kfake clusters, --repeat times each, then prints the report.
func runBench(ctx context.Context, bf *benchFlags, out, log io.Writer, w workload) error {
	server, err := bf.serverMeter()
	if err != nil {
		return err
	}
	targets := []benchTarget{{name: bf.label, client: bf.client, server: server}}
	if bf.compareKfake {
		targets = append(targets,
			benchTarget{name: kfakeMemoryName, client: bf.client, kfake: true},
			benchTarget{name: kfakeDataDirName, client: bf.client, kfake: true, persist: true})
	}
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.name
	}
	// Garbage collection in the client stretched the latency tail it
	// measures; its heap is small, so a higher target costs little memory.
	defer debug.SetGCPercent(debug.SetGCPercent(bf.clientGCPercent))

	report := benchReport{Workload: w.name(), Settings: w.settings(), Repeat: bf.repeat, description: w.describe()}
	for round := range bf.repeat {
		// Rotate the order each round. The first round starts with the
		// --bootstrap cluster, whose first run the kfake runs then match.
		for i := range targets {
			t := &targets[(round+i)%len(targets)]
			run, err := t.run(ctx, w, log)
			if err != nil {
				return fmt.Errorf("bench %s against %s: %w", w.name(), t.name, err)
			}
			run.Repeat = round + 1
			report.Runs = append(report.Runs, run)
			if round == 0 && i == 0 {
				w.matchFirstRun(run)
			}
		}
	}
	report.summarize(names)
	return bf.print(out, &report)
}

// tableReport is a bench's report: JSON by its fields, or a table by printTable.
type tableReport interface {
	printTable(out io.Writer) error
}

// print writes a bench's report in the --output format.
func (bf *benchFlags) print(out io.Writer, report tableReport) error {
	if bf.output.value == outputJSON {
		return writeJSON(out, report)
	}
	return report.printTable(out)
}

// serverMeter returns the meter of the --bootstrap cluster's CPU time that
// the flags ask for, checked by a first reading, or nil.
func (bf *benchFlags) serverMeter() (cpuMeter, error) {
	switch {
	case bf.serverHTTP != "":
		m := newMetricsMeter(bf.serverHTTP)
		if _, err := m.cpuSeconds(); err != nil {
			return nil, fmt.Errorf("--http: read the cluster's CPU time: %w", err)
		}
		return m, nil
	case bf.serverPID != 0:
		m, err := newProcMeter(bf.serverPID)
		if err != nil {
			return nil, fmt.Errorf("--server-pid: read the process's CPU time: %w", err)
		}
		return m, nil
	}
	return nil, nil
}

// benchTarget is one cluster of a bench: the --bootstrap cluster, or a kfake
// started for each run in a child process, so every kfake run starts empty.
type benchTarget struct {
	name    string
	client  *clientFlags
	server  cpuMeter // the --bootstrap cluster's; nil: not measured
	kfake   bool     // start a kfake child per run
	persist bool     // the kfake child persists (kfake.DataDir)
}

// run runs w once against the target.
func (t *benchTarget) run(ctx context.Context, w workload, log io.Writer) (benchRun, error) {
	if !t.kfake {
		fmt.Fprintf(log, "bench %s: %s at %s\n", w.name(), t.name, t.client.bootstrap)
		r, err := w.run(ctx, t.client, t.server, log)
		r.Target, r.Bootstrap = t.name, t.client.bootstrap
		return r, err
	}
	child, err := startKfakeChild(ctx, t.persist, t.client.timeout, log)
	if err != nil {
		return benchRun{}, err
	}
	// The client flags name the cluster under test; kfake listens elsewhere.
	kcf := *t.client
	kcf.bootstrap = child.addr
	fmt.Fprintf(log, "bench %s: %s at %s (pid %d)\n", w.name(), t.name, child.addr, child.pid())
	var server cpuMeter
	if m, err := newProcMeter(child.pid()); err == nil {
		server = m
	}
	r, err := w.run(ctx, &kcf, server, log)
	r.Target, r.Bootstrap = t.name, child.addr
	return r, errors.Join(err, child.stop(t.client.timeout))
}
