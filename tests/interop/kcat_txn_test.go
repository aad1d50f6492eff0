package interop

// Exactly-once with librdkafka (through kcat): its idempotent producer, and its
// transactional producer (kcat -P -X transactional.id=..., which commits at the end of
// its input and aborts when signalled) read back by read_committed consumers of two
// implementations, librdkafka's and franz-go's. kafka-python is not used here: the
// python3-kafka package (2.0.2) has neither idempotence nor transactions nor
// read_committed; they came in kafka-python 2.1, which no package source reached by
// the test machines ships.

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// TestKcatIdempotentReadBack complements TestKcatIdempotentProducer (which reads with
// franz-go): librdkafka reads back its own idempotent producer's records, each once,
// and the partitions' producer state (DescribeProducers) shows that one producer.
func TestKcatIdempotentReadBack(t *testing.T) {
	kcatPath(t)
	b := brokertest.Start(t)
	const topic, n = "idem", 300
	createTopic(t, b, topic, 3)
	var in strings.Builder
	for i := range n {
		fmt.Fprintf(&in, "k%d:v%d\n", i, i)
	}
	kcat(t, b, in.String(), "-P", "-t", topic, "-K:", "-X", "enable.idempotence=true", "-X", "linger.ms=5")

	// Every record once, through librdkafka's consumer.
	want := make([]string, n)
	for i := range n {
		want[i] = fmt.Sprintf("v%d", i)
	}
	out := kcat(t, b, "", "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%s\n")
	checkOnce(t, "kcat", strings.Fields(out), want)

	// The batches carried a producer id and sequences: the partitions track a producer.
	producers, err := b.Admin().DescribeProducers(testContext(t), kadm.TopicsSet{topic: {0: {}, 1: {}, 2: {}}})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[int64]bool{}
	producers.EachProducer(func(p kadm.DescribedProducer) {
		ids[p.ProducerID] = true
		if p.LastSequence < 0 {
			t.Errorf("partition %d: producer %d without a sequence", p.Partition, p.ProducerID)
		}
	})
	if len(ids) != 1 {
		t.Fatalf("producers on %s: %v, want one idempotent producer", topic, ids)
	}
}

// checkOnce fails unless got holds exactly the values of want, each once.
func checkOnce(t *testing.T, who string, got, want []string) {
	t.Helper()
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		t.Fatalf("%s read %d records, want %d each once; first read: %.10q", who, len(got), len(want), got)
	}
}

func TestKcatTransactions(t *testing.T) {
	path := kcatPath(t)
	b := brokertest.Start(t)
	const topic, n = "txn", 48
	createTopic(t, b, topic, 1)
	lines := func(label string) (string, []string) {
		var in strings.Builder
		var values []string
		for i := range n {
			v := fmt.Sprintf("%s-%02d-", label, i)
			v += strings.Repeat("x", 63-len(v)) // 64-byte lines: see produceAndAbort
			values = append(values, v)
			in.WriteString(v + "\n")
		}
		return in.String(), values
	}
	first, committed := lines("commit")
	kcat(t, b, first, "-P", "-t", topic, "-X", "transactional.id=kcat-commit")
	aborted := produceAndAbort(t, b, path, topic, lines)
	last, after := lines("after")
	kcat(t, b, last, "-P", "-t", topic, "-X", "transactional.id=kcat-commit")
	committed = append(committed, after...)

	// read_uncommitted sees the aborted records (they are in the log); read_committed
	// readers see exactly the committed ones, in order.
	all := consumeValues(t, b, topic, kgo.ReadUncommitted(), 3*n)
	if !slices.Equal(all, slices.Concat(committed[:n], aborted, after)) {
		t.Fatalf("read_uncommitted: %d records %.5q, want the three transactions' %d", len(all), all, 3*n)
	}
	if got := consumeValues(t, b, topic, kgo.ReadCommitted(), 2*n); !slices.Equal(got, committed) {
		t.Fatalf("franz-go read_committed: %d records %.5q, want the %d committed", len(got), got, len(committed))
	}
	out := kcat(t, b, "", "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-X", "isolation.level=read_committed", "-f", "%s\n")
	if got := strings.Fields(out); !slices.Equal(got, committed) {
		t.Fatalf("kcat read_committed: %d records %.5q, want the %d committed", len(got), got, len(committed))
	}
}

// produceAndAbort runs a transactional kcat, waits until its records are in the log,
// then interrupts it, which aborts the transaction; it returns the records written.
// kcat 1.7 reads stdin in blocks of 1 KiB, produces a line only once its block is full,
// and aborts only when its input then ends cleanly (a line read after the signal makes
// it exit without aborting), so the input is whole blocks of 64-byte lines.
func produceAndAbort(t *testing.T, b *brokertest.Broker, path, topic string, lines func(string) (string, []string)) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), clientTimeout)
	defer cancel()
	before := endOffset(t, b, topic)
	cmd := exec.CommandContext(ctx, path, "-b", b.Addr(), "-P", "-t", topic, "-X", "transactional.id=kcat-abort")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	in, values := lines("abort")
	if len(in)%1024 != 0 {
		t.Fatalf("input of %d bytes is not whole 1 KiB blocks", len(in))
	}
	if _, err := io.WriteString(stdin, in); err != nil {
		t.Fatal(err)
	}
	for endOffset(t, b, topic) < before+int64(len(values)) {
		if ctx.Err() != nil {
			t.Fatalf("kcat's transactional records never reached the log; stderr:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	stdin.Close()  // kcat notices the signal once its read returns
	_ = cmd.Wait() // interrupted: its exit status says so
	if !strings.Contains(stderr.String(), "Aborting transaction") {
		t.Fatalf("kcat did not abort its transaction; stderr:\n%s", stderr.String())
	}
	return values
}

func endOffset(t *testing.T, b *brokertest.Broker, topic string) int64 {
	t.Helper()
	ends, err := b.Admin().ListEndOffsets(testContext(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	o, _ := ends.Lookup(topic, 0)
	return o.Offset
}

// consumeValues reads topic from the start at the isolation level until it has want
// records and then nothing more for a while, and returns their values in order.
func consumeValues(t *testing.T, b *brokertest.Broker, topic string, level kgo.IsolationLevel, want int) []string {
	t.Helper()
	cl := b.Client(kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(level),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	defer cl.Close()
	var out []string
	deadline := time.Now().Add(20 * time.Second)
	for idle := 0; time.Now().Before(deadline) && (len(out) < want || idle < 3); {
		ctx, cancel := context.WithTimeout(testContext(t), 300*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		idle++
		fs.EachRecord(func(r *kgo.Record) { out = append(out, string(r.Value)); idle = 0 })
	}
	return out
}
