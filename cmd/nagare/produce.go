package main

// `nagare produce`: one record per line of standard input.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// produceOptions are the flags of `nagare produce`.
type produceOptions struct {
	client       *clientFlags
	topic        string
	keySeparator string
	headers      []kgo.RecordHeader
	partition    int32 // -1: the partitioner chooses
	acks         string
	compression  string
	quiet        bool
}

// newProduceCommand returns `nagare produce`.
func newProduceCommand() *cobra.Command {
	opts := produceOptions{client: new(clientFlags)}
	var headers []string
	acks := newChoice("all", "all", "-1", "1", "0")
	compression := newChoice("none", compressionNames...)
	cmd := &cobra.Command{
		Use:   "produce TOPIC",
		Short: "Produce records from standard input, one per line",
		Long: `Read standard input and produce one record per line to TOPIC. With
--key-separator, each line is KEY<SEP>VALUE, split at the first SEP; a line
without SEP is an error. Records are batched and sent asynchronously; at the
end every record has been acknowledged (or the command fails), and a summary
goes to standard error. Lines end at \n; a trailing \r is dropped.

With --acks all (the default) the producer is idempotent, as Kafka's is. With
--acks 1 or 0 idempotence is off, since Kafka requires acks=all for it.`,
		Example: `  echo hello | nagare produce greetings
  printf 'user-1\t{"name":"ada"}\n' | nagare produce users --key-separator '\t'
  nagare produce orders --header source=backfill --compression zstd < orders.txt`,
		Args: exactArgs("TOPIC"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.client.validate(cmd); err != nil {
				return err
			}
			opts.topic = args[0]
			opts.acks, opts.compression = acks.value, compression.value
			opts.keySeparator = unescapeSeparator(opts.keySeparator)
			if cmd.Flags().Changed("key-separator") && opts.keySeparator == "" {
				return usagef(cmd, "--key-separator must not be empty")
			}
			for _, h := range headers {
				k, v, err := parseKeyValue("--header", h)
				if err != nil {
					return usageError{cmd: cmd, err: err}
				}
				opts.headers = append(opts.headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
			}
			err := produceLines(cmd.Context(), opts, cmd.InOrStdin(), cmd.ErrOrStderr())
			return opts.client.explain(err)
		},
	}
	opts.client.register(cmd.Flags(), "nagare-cli")
	fs := cmd.Flags()
	fs.StringVarP(&opts.keySeparator, "key-separator", "K", "",
		"split each line into key and value at the first `SEP` (\\t and \\n escapes work)")
	fs.StringArrayVarP(&headers, "header", "H", nil, "add header `key=value` to every record; repeat for more")
	fs.Int32VarP(&opts.partition, "partition", "p", -1,
		"produce to this partition only (-1: by key hash, or spread when there is no key)")
	fs.Var(acks, "acks", "acknowledgements to wait for: all in-sync replicas, the leader only (1), or none (0)")
	fs.Var(compression, "compression", "compression codec for record batches")
	fs.BoolVarP(&opts.quiet, "quiet", "q", false, "do not print the summary")
	return cmd
}

// produceLines produces every line of in, then waits for all to be
// acknowledged. It stops reading at the first failed record or on interrupt.
func produceLines(ctx context.Context, opts produceOptions, in io.Reader, errOut io.Writer) error {
	kopts := []kgo.Opt{
		kgo.RecordDeliveryTimeout(opts.client.timeout),
		kgo.ProducerBatchCompression(compressionCodec(opts.compression)),
	}
	kopts = append(kopts, acksOptions(opts.acks)...)
	if opts.partition >= 0 {
		kopts = append(kopts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	cl, err := opts.client.newClient(kopts...)
	if err != nil {
		return err
	}
	defer cl.Close()

	var (
		start = time.Now()
		tally = newProduceTally()
		lines = readLines(ctx, in)
		// Records already handed to the client are delivered even after an
		// interrupt, so what the summary counts is what the cluster has.
		produceCtx = context.WithoutCancel(ctx)
		lineNo     int
		stopErr    error
	)
read:
	for {
		var l lineOrError
		var ok bool
		select {
		case <-ctx.Done():
			stopErr = ctx.Err()
			break read
		case l, ok = <-lines:
		}
		if !ok {
			break read
		}
		if l.err != nil {
			stopErr = fmt.Errorf("read standard input: %w", l.err)
			break read
		}
		lineNo++
		if tally.failed() {
			break read
		}
		rec := &kgo.Record{Topic: opts.topic, Value: l.line, Headers: opts.headers, Partition: opts.partition}
		if opts.keySeparator != "" {
			key, value, found := bytes.Cut(l.line, []byte(opts.keySeparator))
			if !found {
				stopErr = fmt.Errorf("line %d has no key separator %q; stopped there", lineNo, opts.keySeparator)
				break read
			}
			rec.Key, rec.Value = key, value
		}
		tally.sent(rec)
		cl.Produce(produceCtx, rec, tally.done)
	}
	flushErr := cl.Flush(produceCtx)

	if !opts.quiet {
		fmt.Fprintln(errOut, tally.summary(opts.topic, time.Since(start)))
	}
	if err := tally.err(); err != nil {
		return produceError(opts.topic, err, tally)
	}
	return errors.Join(stopErr, flushErr)
}

// produceTally counts records as the client acknowledges them. Promises run
// on the client's goroutines, so all fields are guarded by mu.
type produceTally struct {
	mu          sync.Mutex
	produced    int           // records handed to the client
	acked       int           // records the cluster acknowledged
	bytes       int64         // key and value bytes acknowledged
	byPartition map[int32]int // acknowledged records per partition
	failures    int           // records that failed
	firstErr    error         // the first failure
}

func newProduceTally() *produceTally {
	return &produceTally{byPartition: make(map[int32]int)}
}

func (t *produceTally) sent(*kgo.Record) {
	t.mu.Lock()
	t.produced++
	t.mu.Unlock()
}

// done is the promise of every produced record.
func (t *produceTally) done(r *kgo.Record, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		t.failures++
		if t.firstErr == nil {
			t.firstErr = err
		}
		return
	}
	t.acked++
	t.bytes += int64(len(r.Key) + len(r.Value))
	t.byPartition[r.Partition]++
}

func (t *produceTally) failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.firstErr != nil
}

func (t *produceTally) err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.firstErr
}

// summary reads like: Produced 3 records (27 bytes) to topic "t" in 4ms;
// records by partition: 0:2 1:1.
func (t *produceTally) summary(topic string, took time.Duration) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "Produced %s (%s of keys and values) to topic %q in %s",
		plural(t.acked, "record"), plural(t.bytes, "byte"), topic, took.Round(time.Millisecond))
	if len(t.byPartition) > 0 {
		b.WriteString("; records by partition:")
		for _, p := range slices.Sorted(maps.Keys(t.byPartition)) {
			fmt.Fprintf(&b, " %d:%d", p, t.byPartition[p])
		}
	}
	if t.failures > 0 {
		fmt.Fprintf(&b, "; %d failed", t.failures)
	}
	b.WriteString(".")
	return b.String()
}

// produceError explains a failed record, naming the topic.
func produceError(topic string, err error, t *produceTally) error {
	t.mu.Lock()
	failures, produced := t.failures, t.produced
	t.mu.Unlock()
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return fmt.Errorf("topic %q does not exist (create it with: nagare topic create %s)", topic, topic)
	}
	return fmt.Errorf("produce to topic %q: %d of %d records failed; first error: %w", topic, failures, produced, err)
}

// lineOrError is one line of input, without its line ending, or the error
// that ended the input.
type lineOrError struct {
	line []byte
	err  error
}

// readLines reads lines from in on a goroutine, so an interrupt is noticed
// while a read blocks. The channel closes at end of input. If ctx ends first
// the goroutine stays blocked in Read until the process exits; that is the
// price of reading a terminal.
func readLines(ctx context.Context, in io.Reader) <-chan lineOrError {
	lines := make(chan lineOrError, 256)
	go func() {
		defer close(lines)
		r := bufio.NewReaderSize(in, 64<<10)
		for {
			line, err := r.ReadBytes('\n')
			if len(line) > 0 {
				line = bytes.TrimSuffix(line, []byte("\n"))
				line = bytes.TrimSuffix(line, []byte("\r"))
				select {
				case lines <- lineOrError{line: line}:
				case <-ctx.Done():
					return
				}
			}
			if err != nil {
				if err != io.EOF {
					select {
					case lines <- lineOrError{err: err}:
					case <-ctx.Done():
					}
				}
				return
			}
		}
	}()
	return lines
}

// compressionNames are the values of --compression.
var compressionNames = []string{"none", "gzip", "snappy", "lz4", "zstd"}

func compressionCodec(name string) kgo.CompressionCodec {
	switch name {
	case "gzip":
		return kgo.GzipCompression()
	case "snappy":
		return kgo.SnappyCompression()
	case "lz4":
		return kgo.Lz4Compression()
	case "zstd":
		return kgo.ZstdCompression()
	default:
		return kgo.NoCompression()
	}
}

// acksOptions maps --acks to client options. Kafka only allows idempotent
// produce with acks=all, so lower acks turn idempotence off (as the Java
// client does when acks is set explicitly).
func acksOptions(acks string) []kgo.Opt {
	switch acks {
	case "0":
		return []kgo.Opt{kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite()}
	case "1":
		return []kgo.Opt{kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite()}
	default:
		return []kgo.Opt{kgo.RequiredAcks(kgo.AllISRAcks())}
	}
}

// unescapeSeparator lets a shell user type \t or \n for tab and newline.
func unescapeSeparator(s string) string {
	return strings.NewReplacer(`\t`, "\t", `\n`, "\n", `\\`, `\`).Replace(s)
}
