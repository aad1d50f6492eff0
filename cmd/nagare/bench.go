package main

// `nagare bench produce|consume`: throughput and latency of a cluster, and
// with --compare-kfake the same workload against franz-go's kfake in this
// process, in memory and persisting, as the reference for docs/BENCHMARKS.md.
// The workloads are in bench_workload.go, the report in bench_report.go.

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kfake"
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
	label             string
	output            *choiceFlag
}

// newBenchCommand returns `nagare bench` and its subcommands.
func newBenchCommand() *cobra.Command {
	bf := &benchFlags{client: new(clientFlags), output: newChoice(outputTable, outputTable, outputJSON)}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure produce and consume throughput and latency",
		Long: `Benchmark a Kafka-compatible cluster with franz-go clients. Both workloads create
the topic when it is missing. With --compare-kfake the same workload then runs
twice more inside this process against franz-go's kfake (once holding the log in
memory, once persisting to a temporary directory with kfake.DataDir), and the
report adds the ratios of the first run to each.

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
		"also run the workload against in-process kfake, in memory and with a data dir, and report ratios")
	fs.StringVar(&bf.label, "label", "nagare", "name of the --bootstrap cluster in the report")
	fs.VarP(bf.output, "output", "o", "report format")
	cmd.AddCommand(newBenchProduceCommand(bf), newBenchConsumeCommand(bf))
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
	// logging progress to log.
	run(ctx context.Context, cf *clientFlags, log io.Writer) (benchRun, error)
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
// two kfake clusters, then prints the report.
func runBench(ctx context.Context, bf *benchFlags, out, log io.Writer, w workload) error {
	report := benchReport{Workload: w.name(), Settings: w.settings(), description: w.describe()}
	fmt.Fprintf(log, "bench %s: %s at %s\n", w.name(), bf.label, bf.client.bootstrap)
	first, err := w.run(ctx, bf.client, log)
	if err != nil {
		return fmt.Errorf("bench %s against %s: %w", w.name(), bf.label, err)
	}
	first.Target, first.Bootstrap = bf.label, bf.client.bootstrap
	report.Runs = append(report.Runs, first)

	if bf.compareKfake {
		w.matchFirstRun(first)
		for _, persist := range []bool{false, true} {
			r, err := runOnKfake(ctx, bf.client, w, persist, log)
			if err != nil {
				return err
			}
			report.Runs = append(report.Runs, r)
		}
		report.addRatios()
	}
	if bf.output.value == outputJSON {
		return writeJSON(out, report)
	}
	return report.printTable(out)
}

// runOnKfake starts a one-broker kfake cluster on a loopback port (in memory,
// or persisting to a temporary directory), runs w against it and stops it.
func runOnKfake(ctx context.Context, cf *clientFlags, w workload, persist bool, log io.Writer) (benchRun, error) {
	name := kfakeMemoryName
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	if persist {
		name = kfakeDataDirName
		dir, err := os.MkdirTemp("", "nagare-bench-kfake-")
		if err != nil {
			return benchRun{}, err
		}
		defer os.RemoveAll(dir)
		opts = append(opts, kfake.DataDir(dir))
	}
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		return benchRun{}, fmt.Errorf("start %s: %w", name, err)
	}
	defer cluster.Close()

	seeds := cluster.ListenAddrs()
	fmt.Fprintf(log, "bench %s: %s at %s\n", w.name(), name, seeds[0])
	// The client flags name the cluster under test; kfake listens elsewhere.
	kcf := *cf
	kcf.bootstrap = seeds[0]
	r, err := w.run(ctx, &kcf, log)
	if err != nil {
		return benchRun{}, fmt.Errorf("bench %s against %s: %w", w.name(), name, err)
	}
	r.Target, r.Bootstrap = name, seeds[0]
	return r, nil
}
