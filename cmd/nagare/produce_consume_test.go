package main

import (
	"bytes"
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestProduceThenConsume(t *testing.T) {
	boot := startKfake(t)
	b := []string{"--bootstrap", boot}
	with := func(args ...string) []string { return append(args, b...) }
	mustRun(t, "", with("topic", "create", "events", "-p", "2")...)

	input := "user-1:signed up\nuser-2:logged in\r\nuser-1:{\"a\": 1}\n"
	r := mustRun(t, input, with("produce", "events", "--key-separator", ":",
		"--header", "source=test", "--header", "trace=a=b", "--compression", "zstd")...)
	if !strings.Contains(r.stderr, "Produced 3 records") {
		t.Errorf("produce summary %q", r.stderr)
	}

	r = mustRun(t, "", with("consume", "events", "-n", "3", "--output", "json")...)
	recs := decodeJSONLines[jsonRecord](t, r.stdout)
	if len(recs) != 3 {
		t.Fatalf("consumed %d records, want 3:\n%s", len(recs), r.stdout)
	}
	got := map[string][]string{}
	for _, rec := range recs {
		if rec.Topic != "events" || rec.Key == nil || rec.Value == nil || rec.Timestamp < time.Now().Add(-time.Minute).UnixMilli() {
			t.Fatalf("record %+v", rec)
		}
		got[*rec.Key] = append(got[*rec.Key], *rec.Value)
		if len(rec.Headers) != 2 || rec.Headers[0].Key != "source" || *rec.Headers[0].Value != "test" ||
			rec.Headers[1].Key != "trace" || *rec.Headers[1].Value != "a=b" {
			t.Errorf("headers %+v", rec.Headers)
		}
	}
	// One key's records share a partition and keep their order.
	if !slices.Equal(got["user-1"], []string{"signed up", `{"a": 1}`}) || !slices.Equal(got["user-2"], []string{"logged in"}) {
		t.Errorf("records by key: %v", got)
	}

	// Text output with a key separator is what produce reads back.
	r = mustRun(t, "", with("consume", "events", "-K", `\t`, "-q")...)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	slices.Sort(lines)
	want := []string{"user-1\tsigned up", "user-1\t{\"a\": 1}", "user-2\tlogged in"}
	if !slices.Equal(lines, want) || r.stderr != "" {
		t.Errorf("text output %q (stderr %q), want %q", lines, r.stderr, want)
	}

	// Without --follow, consume stops at the end of the log even without -n.
	r = mustRun(t, "", with("consume", "events")...)
	if strings.Count(r.stdout, "\n") != 3 || !strings.Contains(r.stderr, "Consumed 3 records") {
		t.Errorf("consume to the end: stdout %q stderr %q", r.stdout, r.stderr)
	}
}

func TestConsumeStartPositions(t *testing.T) {
	boot := startKfake(t)
	b := []string{"--bootstrap", boot}
	with := func(args ...string) []string { return append(args, b...) }
	mustRun(t, "", with("topic", "create", "log", "-p", "1")...)

	mustRun(t, "a\nb\nc\n", with("produce", "log", "--acks", "1")...)
	time.Sleep(20 * time.Millisecond)
	between := time.Now().UnixMilli()
	time.Sleep(20 * time.Millisecond)
	mustRun(t, "d\ne\n", with("produce", "log", "--partition", "0", "--acks", "0")...)

	values := func(args ...string) string {
		t.Helper()
		r := mustRun(t, "", with(append([]string{"consume", "log", "-q"}, args...)...)...)
		return strings.ReplaceAll(strings.TrimSpace(r.stdout), "\n", ",")
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "a,b,c,d,e"},
		{[]string{"--from", "beginning", "-n", "2"}, "a,b"},
		{[]string{"--from", "3"}, "d,e"},
		{[]string{"--from", "99"}, ""}, // clamped to the end
		{[]string{"--from", "end"}, ""},
		{[]string{"--from", "end-2"}, "d,e"},
		{[]string{"--from", "@" + strconv.FormatInt(between, 10)}, "d,e"},
		{[]string{"--from", "@" + time.UnixMilli(between).UTC().Format(time.RFC3339Nano)}, "d,e"},
		{[]string{"--from", "@" + strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10)}, ""},
		{[]string{"--partition", "0", "--from", "1", "-n", "1"}, "b"},
	} {
		if got := values(tc.args...); got != tc.want {
			t.Errorf("consume %v = %q, want %q", tc.args, got, tc.want)
		}
	}

	wantOneLineError(t, nagare(t, "", with("consume", "log", "--partition", "5")...), exitFailure, "has no partition 5")
	wantOneLineError(t, nagare(t, "", with("consume", "nope")...), exitFailure, `topic "nope" does not exist`)
}

func TestProduceErrors(t *testing.T) {
	boot := startKfake(t)
	b := []string{"--bootstrap", boot}
	with := func(args ...string) []string { return append(args, b...) }
	mustRun(t, "", with("topic", "create", "t", "-p", "1")...)

	r := nagare(t, "k:v\nno separator\nk:w\n", with("produce", "t", "-K", ":", "-q")...)
	wantOneLineError(t, r, exitFailure, `line 2 has no key separator ":"`)
	r = mustRun(t, "", with("consume", "t", "-q")...)
	if r.stdout != "v\n" {
		t.Errorf("records before the bad line: %q, want \"v\\n\"", r.stdout)
	}

	r = nagare(t, "x\n", with("produce", "missing", "-q", "--timeout", "10s")...)
	wantOneLineError(t, r, exitFailure, `topic "missing" does not exist`)
}

func TestConsumeFollowStopsOnInterrupt(t *testing.T) {
	boot := startKfake(t)
	b := []string{"--bootstrap", boot}
	mustRun(t, "", append([]string{"topic", "create", "live", "-p", "1"}, b...)...)
	mustRun(t, "old\n", append([]string{"produce", "live", "-q"}, b...)...)

	// SIGINT cancels the context that main passes to run; --follow then
	// ends cleanly with exit 0.
	ctx, interrupt := context.WithCancel(t.Context())
	defer interrupt()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"consume", "live", "--follow"}, b...), strings.NewReader(""), &out, &errOut)
	}()
	mustRun(t, "new\n", append([]string{"produce", "live", "-q"}, b...)...)
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), "new") && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	interrupt()
	if code := <-done; code != exitOK || out.String() != "old\nnew\n" || !strings.Contains(errOut.String(), "Consumed 2 records") {
		t.Errorf("follow: exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
}

// syncBuffer is a bytes.Buffer that a running command writes while the test
// reads it.
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
