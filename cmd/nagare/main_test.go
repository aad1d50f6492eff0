package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// startKfake starts a one-broker kfake cluster on a loopback port and
// returns its address for --bootstrap.
func startKfake(t *testing.T) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// cliResult is what one in-process run of the command line produced.
type cliResult struct {
	code           int
	stdout, stderr string
}

// nagare runs the command line in process with stdin and returns its exit
// code and output.
func nagare(t *testing.T, stdin string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, strings.NewReader(stdin), &stdout, &stderr)
	return cliResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// mustRun runs the command line and fails the test unless it exits 0.
func mustRun(t *testing.T, stdin string, args ...string) cliResult {
	t.Helper()
	r := nagare(t, stdin, args...)
	if r.code != 0 {
		t.Fatalf("nagare %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// decodeJSON decodes JSON output into v, failing the test on error.
func decodeJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("output is not the expected JSON: %v\n%s", err, s)
	}
}

// decodeJSONLines decodes one JSON value per line.
func decodeJSONLines[T any](t *testing.T, s string) []T {
	t.Helper()
	var out []T
	dec := json.NewDecoder(strings.NewReader(s))
	for {
		var v T
		err := dec.Decode(&v)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("output is not JSON lines: %v\n%s", err, s)
		}
		out = append(out, v)
	}
}

// wantOneLineError checks a failed run: the exit code, and a single
// "nagare: " line on stderr containing want.
func wantOneLineError(t *testing.T, r cliResult, code int, want string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit code %d, want %d (stderr %q)", r.code, code, r.stderr)
	}
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "nagare: ") || !strings.Contains(lines[0], want) {
		t.Errorf("stderr = %q, want one line \"nagare: ...%s...\"", r.stderr, want)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bogus"}, `unknown command "bogus" for "nagare"`},
		{[]string{"topic", "bogus"}, `unknown command "bogus" for "nagare topic"`},
		{[]string{"topic", "create"}, "takes 1 argument(s): TOPIC"},
		{[]string{"topic", "create", "t", "--partitions", "x"}, `invalid argument "x"`},
		{[]string{"topic", "create", "t", "--config", "novalue"}, "--config wants key=value"},
		{[]string{"topic", "alter-config", "t"}, "nothing to change"},
		{[]string{"topic", "list", "--output", "yaml"}, "must be one of table, json"},
		{[]string{"topic", "list", "--bootstrap", " , "}, "--bootstrap needs at least one host:port"},
		{[]string{"consume", "t", "--from", "yesterday"}, `--from "yesterday"`},
		{[]string{"bench", "produce", "--records", "5", "--duration", "1s"}, "not both"},
	} {
		r := nagare(t, "", tc.args...)
		if r.code != exitUsage {
			t.Errorf("nagare %v: exit %d, want %d", tc.args, r.code, exitUsage)
		}
		lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
		if len(lines) != 2 || !strings.Contains(lines[0], tc.want) || !strings.HasPrefix(lines[1], "Run 'nagare") {
			t.Errorf("nagare %v: stderr %q, want %q and a help hint", tc.args, r.stderr, tc.want)
		}
	}
}

func TestHelpListsCommands(t *testing.T) {
	r := mustRun(t, "", "--help")
	for _, cmd := range []string{"topic", "produce", "consume", "bench"} {
		if !strings.Contains(r.stdout, cmd) {
			t.Errorf("nagare --help does not list %q:\n%s", cmd, r.stdout)
		}
	}
}

func TestUnreachableCluster(t *testing.T) {
	// Port 1 on loopback refuses connections.
	r := nagare(t, "", "topic", "list", "--bootstrap", "127.0.0.1:1", "--timeout", "5s")
	wantOneLineError(t, r, exitFailure, "cannot connect to 127.0.0.1:1")
}
