package broker_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// These tests run `nagare serve` as a child process, so they can kill it the way an
// operator's kill -9 or an OOM kill does: no deferred code runs, nothing is flushed.
// The OS keeps what the process wrote, so every acknowledged record must survive.

// TestProcessKillAndStop builds the binary once and runs the process tests with it.
func TestProcessKillAndStop(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the nagare binary")
	}
	bin := buildNagare(t)
	t.Run("kill -9 keeps every acknowledged record", func(t *testing.T) { testKillKeepsAcked(t, bin) })
	t.Run("SIGTERM stops cleanly", func(t *testing.T) { testTermStopsCleanly(t, bin) })
}

func buildNagare(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go tool to build nagare with: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "nagare")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, goBin, "build", "-o", bin, "github.com/nagare-dev/nagare/cmd/nagare").CombinedOutput()
	if err != nil {
		t.Fatalf("go build nagare: %v\n%s", err, out)
	}
	return bin
}

// nagareProcess is one `nagare serve` child.
type nagareProcess struct {
	cmd    *exec.Cmd
	addr   string
	output *syncBuffer
	exited chan struct{} // closed when Wait returns
	err    error         // Wait's result, once exited is closed
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startNagare starts `nagare serve` on dataDir and a free loopback port and waits until
// it accepts connections. The process is killed at cleanup if still running.
func startNagare(t *testing.T, bin, dataDir string) *nagareProcess {
	t.Helper()
	p := &nagareProcess{addr: freeAddr(t), output: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, "serve", "--data-dir", dataDir, "--listen", p.addr, "--http", "")
	p.cmd.Stdout, p.cmd.Stderr = p.output, p.output
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start nagare: %v", err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("nagare output (%s):\n%s", p.addr, p.output.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", p.addr, time.Second)
		if err == nil {
			conn.Close()
			return p
		}
		select {
		case <-p.exited:
			t.Fatalf("nagare exited before accepting connections: %v\n%s", p.err, p.output.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("nagare did not accept connections on %s within 30s:\n%s", p.addr, p.output.String())
		}
	}
}

// freeAddr finds a loopback port nothing listens on (by listening and closing).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// wait waits for the process to exit, failing the test after timeout.
func (p *nagareProcess) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case <-p.exited:
		return p.err
	case <-time.After(timeout):
		t.Fatalf("nagare did not exit within %v:\n%s", timeout, p.output.String())
		return nil
	}
}

func (p *nagareProcess) client(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(p.addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// ackedRecord is a record the broker acknowledged, and where.
type ackedRecord struct {
	topic     string
	partition int32
	offset    int64
	value     string
}

// recordValue is the value of the n-th record of a producer: its identity, then filler
// derived from it, so a torn or shifted record does not pass for another.
func recordValue(producer string, n int) string {
	id := fmt.Sprintf("%s-%08d", producer, n)
	return id + "|" + string(bytes.Repeat([]byte(id[len(id)-3:]), 20))
}

func testKillKeepsAcked(t *testing.T, bin string) {
	dataDir := t.TempDir()
	p := startNagare(t, bin, dataDir)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	adm := kadm.NewClient(p.client(t))
	for _, topic := range []string{"acks-all", "acks-leader"} {
		if resp, err := adm.CreateTopic(ctx, 2, 1, nil, topic); err != nil || resp.Err != nil {
			t.Fatalf("create %s: %v %v", topic, err, resp.Err)
		}
	}

	// Two producers write until the process dies: the default (idempotent, acks=all)
	// and a non-idempotent acks=1 one. Every acknowledgement is recorded.
	var (
		mu    sync.Mutex
		acked []ackedRecord
	)
	producers := []struct {
		topic string
		opts  []kgo.Opt
	}{
		{"acks-all", nil},
		{"acks-leader", []kgo.Opt{kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite()}},
	}
	prodCtx, stopProducing := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, pr := range producers {
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(p.addr), kgo.DefaultProduceTopic(pr.topic),
			kgo.ProducerLinger(time.Millisecond), kgo.RecordRetries(2)}, pr.opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cl.Close() // fails what is still buffered
			for n := 0; prodCtx.Err() == nil; n++ {
				cl.Produce(prodCtx, &kgo.Record{Value: []byte(recordValue(pr.topic, n))}, func(r *kgo.Record, err error) {
					if err == nil {
						mu.Lock()
						acked = append(acked, ackedRecord{r.Topic, r.Partition, r.Offset, string(r.Value)})
						mu.Unlock()
					}
				})
			}
		}()
	}
	// Kill once both have had plenty acknowledged, so the kill lands mid-stream for both.
	ackedPerTopic := func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		counts := map[string]int{}
		for _, a := range acked {
			counts[a.topic]++
		}
		return counts
	}
	start := time.Now()
	for {
		counts := ackedPerTopic()
		if counts["acks-all"] >= 2000 && counts["acks-leader"] >= 2000 {
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("acknowledged in 20s: %v, want 2000 of each", counts)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("killing after %v with %v acknowledged", time.Since(start).Round(time.Millisecond), ackedPerTopic())
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.wait(t, 10*time.Second)
	stopProducing()
	wg.Wait()
	mu.Lock()
	survivors := append([]ackedRecord(nil), acked...)
	mu.Unlock()
	if _, err := os.Stat(filepath.Join(dataDir, ".kafka_cleanshutdown")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a killed broker left a clean shutdown marker (stat: %v)", err)
	}

	// Restart on the same data dir; everything acknowledged is there, byte for byte.
	p = startNagare(t, bin, dataDir)
	stored := readEverything(t, p, "acks-all", "acks-leader")
	counts := map[string]int{}
	for _, a := range survivors {
		key := fmt.Sprintf("%s/%d/%d", a.topic, a.partition, a.offset)
		got, ok := stored[key]
		switch {
		case !ok:
			t.Errorf("acknowledged record %s (%s) lost after kill -9", key, a.value)
		case got != a.value:
			t.Errorf("record %s is %q after kill -9, acknowledged as %q", key, got, a.value)
		}
		counts[a.topic]++
	}
	t.Logf("%d acknowledged records checked %v; %d records stored", len(survivors), counts, len(stored))

	// The log goes on where it left off.
	cl := p.client(t, kgo.DefaultProduceTopic("acks-all"))
	res, err := cl.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: []byte("after restart")}).First()
	if err != nil {
		t.Fatalf("produce after restart: %v", err)
	}
	if key := fmt.Sprintf("acks-all/%d/%d", res.Partition, res.Offset); stored[key] != "" {
		t.Errorf("produce after restart was given offset %s, which already holds %q", key, stored[key])
	}
}

// readEverything reads every record of the topics up to their end offsets, keyed
// topic/partition/offset, and checks each partition's offsets run from 0 without gaps
// and each value is one a producer wrote (so nothing torn or corrupt was kept).
func readEverything(t *testing.T, p *nagareProcess, topics ...string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(p.client(t)).ListEndOffsets(ctx, topics...)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	ends.Each(func(o kadm.ListedOffset) { want += int(o.Offset) })
	cl := p.client(t, kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond))
	stored := map[string]string{}
	for len(stored) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records after restart: %v", len(stored), want, ctx.Err())
		}
		fs.EachError(func(topic string, part int32, err error) {
			t.Fatalf("fetch %s/%d after restart: %v", topic, part, err)
		})
		for _, r := range fs.Records() {
			stored[fmt.Sprintf("%s/%d/%d", r.Topic, r.Partition, r.Offset)] = string(r.Value)
		}
	}
	ends.Each(func(o kadm.ListedOffset) {
		for off := int64(0); off < o.Offset; off++ {
			key := fmt.Sprintf("%s/%d/%d", o.Topic, o.Partition, off)
			v, ok := stored[key]
			if !ok {
				t.Errorf("%s: missing below the end offset %d", key, o.Offset)
				continue
			}
			if !isRecordValue(o.Topic, v) {
				t.Errorf("%s holds %q, which no producer wrote", key, v)
			}
		}
	})
	return stored
}

// isRecordValue reports whether v is a value recordValue makes for producer.
func isRecordValue(producer, v string) bool {
	id, _, ok := strings.Cut(v, "|")
	digits, found := strings.CutPrefix(id, producer+"-")
	if !ok || !found || len(digits) != 8 {
		return false
	}
	n, err := strconv.Atoi(digits)
	return err == nil && v == recordValue(producer, n)
}

func testTermStopsCleanly(t *testing.T, bin string) {
	dataDir := t.TempDir()
	p := startNagare(t, bin, dataDir)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cl := p.client(t, kgo.DefaultProduceTopic("term"), kgo.AllowAutoTopicCreation())
	var recs []*kgo.Record
	for n := range 100 {
		recs = append(recs, &kgo.Record{Value: []byte(recordValue("term", n))})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(t, 30*time.Second); err != nil {
		t.Fatalf("nagare after SIGTERM: %v (want exit status 0)\n%s", err, p.output.String())
	}
	if _, err := os.Stat(filepath.Join(dataDir, ".kafka_cleanshutdown")); err != nil {
		t.Errorf("no clean shutdown marker after SIGTERM: %v", err)
	}
	p = startNagare(t, bin, dataDir)
	if stored := readEverything(t, p, "term"); len(stored) != 100 {
		t.Errorf("%d records after a clean restart, want 100", len(stored))
	}
}
