package main

// `nagare consume`: print records of a topic, from a chosen position, until
// the end of the log (or forever with --follow). It assigns partitions
// directly and commits nothing: it is a reader, not a group member.

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// consumeOptions are the flags of `nagare consume`.
type consumeOptions struct {
	client       *clientFlags
	topic        string
	from         startPosition
	partitions   []int32 // empty: all
	count        int     // 0: no limit
	follow       bool
	output       string // outputText or outputJSON
	keySeparator string // text output: print key, separator, value
	quiet        bool
}

// newConsumeCommand returns `nagare consume`.
func newConsumeCommand() *cobra.Command {
	opts := consumeOptions{client: new(clientFlags)}
	output := newChoice(outputText, outputText, outputJSON)
	var from string
	cmd := &cobra.Command{
		Use:   "consume TOPIC",
		Short: "Print records of a topic, from a chosen position",
		Long: `Print the records of TOPIC, one per line. Without --follow, reading stops at the
end of the log as it was when the command started (each partition's high
watermark), so "nagare consume t" dumps the topic and exits. With --follow it
keeps waiting for new records until interrupted (Ctrl-C or SIGTERM).

--from chooses where each partition starts:
  beginning        the log start offset (default; alias earliest)
  end              the high watermark: only new records (alias latest)
  end-N            N records before the high watermark, per partition
  OFFSET           this offset in every partition, e.g. 1200 (clamped to the log)
  @TIMESTAMP       the first record at or after a time: milliseconds since
                   the epoch (@1735689600000) or RFC 3339 (@2025-01-01T00:00:00Z)

Text output prints the value, or KEY<SEP>VALUE with --key-separator (the same
form "nagare produce --key-separator" reads). --output json prints one JSON
object per line with topic, partition, offset, timestamp (ms), key, value and
headers; key and value are strings when they are valid UTF-8, and null with
key_base64 or value_base64 set otherwise. It commits no offsets and joins no group.`,
		Example: `  nagare consume orders
  nagare consume orders --from end --follow
  nagare consume orders --from end-10 --key-separator '\t'
  nagare consume orders --partition 3 --from 1200 -n 5 --output json
  nagare consume orders --from @2025-01-01T00:00:00Z --output json | jq .value`,
		Args: exactArgs("TOPIC"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.client.validate(cmd); err != nil {
				return err
			}
			pos, err := parseStartPosition(from)
			if err != nil {
				return usageError{cmd: cmd, err: err}
			}
			if opts.count < 0 {
				return usagef(cmd, "--count must not be negative")
			}
			opts.topic, opts.from, opts.output = args[0], pos, output.value
			opts.keySeparator = unescapeSeparator(opts.keySeparator)
			err = consumeRecords(cmd.Context(), opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
			return opts.client.explain(err)
		},
	}
	opts.client.register(cmd.Flags(), "nagare-cli")
	fs := cmd.Flags()
	fs.StringVar(&from, "from", "beginning", "where to start: beginning, end, end-N, OFFSET or @TIMESTAMP")
	fs.Int32SliceVarP(&opts.partitions, "partition", "p", nil, "read only partition `N` (repeat or comma-separate for more)")
	fs.Lookup("partition").DefValue = "" // not "[]" in --help
	fs.IntVarP(&opts.count, "count", "n", 0, "stop after this many records (0: no limit)")
	fs.BoolVarP(&opts.follow, "follow", "f", false, "keep waiting for new records until interrupted")
	fs.VarP(output, "output", "o", "text: values (or key<SEP>value); json: one object per record")
	fs.StringVarP(&opts.keySeparator, "key-separator", "K", "",
		"text output: print key, `SEP`, value (\\t and \\n escapes work)")
	fs.BoolVarP(&opts.quiet, "quiet", "q", false, "do not print the summary")
	return cmd
}

// startPosition is a parsed --from.
type startPosition struct {
	kind  positionKind
	value int64 // offset, count before the end, or milliseconds
}

type positionKind int

const (
	fromBeginning positionKind = iota
	fromEnd
	fromBeforeEnd // value records before the high watermark
	fromOffset    // value is an offset
	fromTimestamp // value is milliseconds since the epoch
)

func parseStartPosition(s string) (startPosition, error) {
	bad := fmt.Errorf("--from %q: want beginning, end, end-N, OFFSET or @TIMESTAMP", s)
	switch s = strings.TrimSpace(s); {
	case s == "beginning" || s == "earliest" || s == "start":
		return startPosition{kind: fromBeginning}, nil
	case s == "end" || s == "latest":
		return startPosition{kind: fromEnd}, nil
	case strings.HasPrefix(s, "end-"):
		n, err := strconv.ParseInt(s[len("end-"):], 10, 64)
		if err != nil || n < 0 {
			return startPosition{}, bad
		}
		return startPosition{kind: fromBeforeEnd, value: n}, nil
	case strings.HasPrefix(s, "@"):
		ts := s[1:]
		if ms, err := strconv.ParseInt(ts, 10, 64); err == nil && ms >= 0 {
			return startPosition{kind: fromTimestamp, value: ms}, nil
		}
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return startPosition{}, fmt.Errorf("--from %q: a timestamp is milliseconds since the epoch or RFC 3339 (2025-01-01T00:00:00Z)", s)
		}
		return startPosition{kind: fromTimestamp, value: t.UnixMilli()}, nil
	default:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return startPosition{}, bad
		}
		return startPosition{kind: fromOffset, value: n}, nil
	}
}

// partitionRange is where one partition's reading starts and, without
// --follow, ends (the high watermark when the command started).
type partitionRange struct {
	start, end int64
}

// consumeRecords resolves start offsets, then prints records until the end
// offsets, the count, or an interrupt.
func consumeRecords(ctx context.Context, opts consumeOptions, out, errOut io.Writer) error {
	began := time.Now()
	adm, err := opts.client.newAdmin()
	if err != nil {
		return err
	}
	defer adm.Close()
	ranges, err := resolveRanges(ctx, adm, opts)
	if err != nil {
		return err
	}

	assign := make(map[int32]kgo.Offset)
	for p, r := range ranges {
		if opts.follow || r.start < r.end {
			assign[p] = kgo.NewOffset().At(r.start)
		}
	}
	printer := newRecordPrinter(out, opts.output, opts.keySeparator)
	summary := func() {
		if !opts.quiet {
			fmt.Fprintf(errOut, "Consumed %s from topic %q (partitions %s) in %s.\n",
				plural(printer.records, "record"), opts.topic, partitionList(slices.Sorted(maps.Keys(ranges))),
				time.Since(began).Round(time.Millisecond))
		}
	}
	if len(assign) == 0 {
		summary()
		return nil
	}

	cl, err := opts.client.newClient(
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{opts.topic: assign}),
		// Control records (transaction markers) carry no data, but seeing
		// them tells us a partition has passed its end offset.
		kgo.KeepControlRecords(),
	)
	if err != nil {
		return err
	}
	defer cl.Close()

	err = consumeLoop(ctx, cl, opts, ranges, assign, printer)
	if flushErr := printer.flush(); err == nil {
		err = flushErr
	}
	summary()
	if opts.follow && errors.Is(err, context.Canceled) {
		return nil // --follow ends with an interrupt
	}
	return err
}

func consumeLoop(ctx context.Context, cl *kgo.Client, opts consumeOptions,
	ranges map[int32]partitionRange, assign map[int32]kgo.Offset, printer *recordPrinter,
) error {
	pending := make(map[int32]bool, len(assign)) // partitions short of their end
	for p := range assign {
		pending[p] = true
	}
	for opts.follow || len(pending) > 0 {
		pollCtx, cancel := ctx, context.CancelFunc(func() {})
		if !opts.follow {
			// Records below the high watermark exist, so a long silence
			// means the cluster is in trouble, not that the log is idle.
			pollCtx, cancel = context.WithTimeout(ctx, opts.client.timeout)
		}
		fetches := cl.PollFetches(pollCtx)
		idle := pollCtx.Err() != nil
		cancel()
		if err := ctx.Err(); err != nil {
			return err
		}
		if idle {
			return fmt.Errorf("no records for %s, though partitions %s have not reached their end offsets",
				opts.client.timeout, partitionList(slices.Sorted(maps.Keys(pending))))
		}
		var fetchErr error
		fetches.EachError(func(topic string, p int32, err error) {
			if fetchErr == nil {
				fetchErr = fetchError(topic, p, err)
			}
		})
		if fetchErr != nil {
			return fetchErr
		}
		for iter := fetches.RecordIter(); !iter.Done(); {
			r := iter.Next()
			end := ranges[r.Partition].end
			if r.Offset+1 >= end {
				delete(pending, r.Partition)
			}
			if r.Attrs.IsControl() || !opts.follow && r.Offset >= end {
				continue // a transaction marker, or produced after we started
			}
			if err := printer.print(r); err != nil {
				return err
			}
			if opts.count > 0 && printer.records >= opts.count {
				return nil
			}
		}
		if err := printer.flush(); err != nil {
			return err
		}
	}
	return nil
}

// fetchError names the partition of a fetch error; errors of the client as
// a whole come with no topic.
func fetchError(topic string, partition int32, err error) error {
	if topic == "" {
		return err
	}
	return topicError("consume", topic, fmt.Errorf("partition %d: %w", partition, err), "")
}

// resolveRanges turns --from and --partition into a start offset and an end
// offset (high watermark) per partition.
func resolveRanges(ctx context.Context, adm *kadm.Client, opts consumeOptions) (map[int32]partitionRange, error) {
	ctx, cancel := opts.client.withTimeout(ctx)
	defer cancel()
	starts, err := adm.ListStartOffsets(ctx, opts.topic)
	if err != nil {
		return nil, fmt.Errorf("list log start offsets: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, opts.topic)
	if err != nil {
		return nil, fmt.Errorf("list high watermarks: %w", err)
	}
	if o, ok := ends.Lookup(opts.topic, -1); ok && o.Err != nil {
		return nil, topicError("consume", opts.topic, o.Err, "")
	}
	if len(ends[opts.topic]) == 0 {
		return nil, fmt.Errorf("topic %q does not exist", opts.topic)
	}
	var atTime kadm.ListedOffsets
	if opts.from.kind == fromTimestamp {
		if atTime, err = adm.ListOffsetsAfterMilli(ctx, opts.from.value, opts.topic); err != nil {
			return nil, fmt.Errorf("list offsets at %d ms: %w", opts.from.value, err)
		}
	}

	chosen := opts.partitions
	if len(chosen) == 0 {
		chosen = slices.Collect(maps.Keys(ends[opts.topic]))
	}
	ranges := make(map[int32]partitionRange, len(chosen))
	for _, p := range chosen {
		end, ok := ends.Lookup(opts.topic, p)
		if !ok {
			return nil, fmt.Errorf("topic %q has no partition %d (it has %d)", opts.topic, p, len(ends[opts.topic]))
		}
		start, _ := starts.Lookup(opts.topic, p)
		for _, err := range []error{end.Err, start.Err} {
			if err != nil {
				return nil, topicError("consume", opts.topic, fmt.Errorf("partition %d: %w", p, err), "")
			}
		}
		r := partitionRange{start: start.Offset, end: end.Offset}
		switch opts.from.kind {
		case fromEnd:
			r.start = r.end
		case fromBeforeEnd:
			r.start = max(r.start, r.end-opts.from.value)
		case fromOffset:
			r.start = min(max(r.start, opts.from.value), r.end)
		case fromTimestamp:
			o, ok := atTime.Lookup(opts.topic, p)
			if !ok {
				return nil, fmt.Errorf("partition %d: the cluster listed no offset for time %d ms", p, opts.from.value)
			}
			if o.Err != nil {
				return nil, fmt.Errorf("partition %d: list offset for time %d ms: %w", p, opts.from.value, o.Err)
			}
			r.start = o.Offset
			if r.start < 0 { // nothing at or after that time
				r.start = r.end
			}
		}
		ranges[p] = r
	}
	return ranges, nil
}

// recordPrinter writes records as text lines or JSON objects.
type recordPrinter struct {
	w            *bufio.Writer
	json         *json.Encoder // nil for text
	keySeparator string
	records      int // records printed
}

func newRecordPrinter(out io.Writer, output, keySeparator string) *recordPrinter {
	p := &recordPrinter{w: bufio.NewWriterSize(out, 64<<10), keySeparator: keySeparator}
	if output == outputJSON {
		p.json = json.NewEncoder(p.w)
		p.json.SetEscapeHTML(false)
	}
	return p
}

// jsonRecord is a record in --output json. Key and value are strings when
// they are valid UTF-8; otherwise they are null and the _base64 field holds
// the bytes.
type jsonRecord struct {
	Topic       string       `json:"topic"`
	Partition   int32        `json:"partition"`
	Offset      int64        `json:"offset"`
	Timestamp   int64        `json:"timestamp"` // milliseconds since the epoch
	Key         *string      `json:"key"`
	KeyBase64   string       `json:"key_base64,omitempty"`
	Value       *string      `json:"value"`
	ValueBase64 string       `json:"value_base64,omitempty"`
	Headers     []jsonHeader `json:"headers"`
}

// jsonHeader is one record header; headers keep their order and may repeat.
type jsonHeader struct {
	Key         string  `json:"key"`
	Value       *string `json:"value"`
	ValueBase64 string  `json:"value_base64,omitempty"`
}

func (p *recordPrinter) print(r *kgo.Record) error {
	p.records++
	if p.json == nil {
		if p.keySeparator != "" {
			p.w.Write(r.Key)
			p.w.WriteString(p.keySeparator)
		}
		p.w.Write(r.Value)
		return p.w.WriteByte('\n')
	}
	jr := jsonRecord{
		Topic:     r.Topic,
		Partition: r.Partition,
		Offset:    r.Offset,
		Timestamp: r.Timestamp.UnixMilli(),
		Headers:   make([]jsonHeader, 0, len(r.Headers)),
	}
	jr.Key, jr.KeyBase64 = jsonBytes(r.Key)
	jr.Value, jr.ValueBase64 = jsonBytes(r.Value)
	for _, h := range r.Headers {
		jh := jsonHeader{Key: h.Key}
		jh.Value, jh.ValueBase64 = jsonBytes(h.Value)
		jr.Headers = append(jr.Headers, jh)
	}
	return p.json.Encode(jr)
}

func (p *recordPrinter) flush() error { return p.w.Flush() }

// jsonBytes returns b as a string if it is valid UTF-8, else as base64.
// A nil b (a null key) is a null string.
func jsonBytes(b []byte) (*string, string) {
	if b == nil {
		return nil, ""
	}
	if utf8.Valid(b) {
		s := string(b)
		return &s, ""
	}
	return nil, base64.StdEncoding.EncodeToString(b)
}
