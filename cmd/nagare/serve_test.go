package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// writeFile writes a file under dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestServeProperties(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "server.properties", `# Kafka style
num.partitions=3
log.retention.ms = 1000
auto.create.topics.enable: false
`)
	cases := []struct {
		name    string
		opts    serveOptions
		want    map[string]string
		wantErr string
	}{
		{name: "nothing", want: map[string]string{}},
		{
			name: "file only",
			opts: serveOptions{configFile: file},
			want: map[string]string{"num.partitions": "3", "log.retention.ms": "1000", "auto.create.topics.enable": "false"},
		},
		{
			name: "--set wins over the file, and adds",
			opts: serveOptions{configFile: file, sets: []string{"num.partitions=6", "log.segment.bytes=1048576"}},
			want: map[string]string{"num.partitions": "6", "log.retention.ms": "1000", "auto.create.topics.enable": "false",
				"log.segment.bytes": "1048576"},
		},
		{
			name: "a later --set wins over an earlier one",
			opts: serveOptions{sets: []string{"num.partitions=2", "num.partitions=4"}},
			want: map[string]string{"num.partitions": "4"},
		},
		{
			name: "the value is everything after the first =, the key is trimmed",
			opts: serveOptions{sets: []string{" listeners =PLAINTEXT://a:1", "empty="}},
			want: map[string]string{"listeners": "PLAINTEXT://a:1", "empty": ""},
		},
		{name: "no =", opts: serveOptions{sets: []string{"num.partitions"}}, wantErr: `--set "num.partitions": want key=value`},
		{name: "no key", opts: serveOptions{sets: []string{" =3"}}, wantErr: `--set " =3": want key=value`},
		{name: "missing file", opts: serveOptions{configFile: filepath.Join(dir, "nope")}, wantErr: "config file: open "},
		{
			name:    "bad file names its line",
			opts:    serveOptions{configFile: writeFile(t, dir, "bad.properties", "a=1\nb=\\uZZZZ\n")},
			wantErr: "bad.properties: config: properties line 2",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := serveProperties(c.opts)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Errorf("properties %v, want %v", got, c.want)
			}
			for k, v := range c.want {
				if g, ok := got[k]; !ok || g != v {
					t.Errorf("%s = %q (set: %v), want %q", k, g, ok, v)
				}
			}
		})
	}
}

func TestServeFlags(t *testing.T) {
	cmd := newServeCommand()
	f := cmd.Flags()
	// The defaults DESIGN.md promises for `nagare serve` with no flags.
	for name, want := range map[string]string{
		"data-dir": "./data", "listen": "127.0.0.1:9092", "http": "127.0.0.1:9644", "config": "",
		"shutdown-timeout": "30s", "set": "[]",
	} {
		if got := f.Lookup(name); got == nil || got.DefValue != want {
			t.Errorf("flag --%s default %v, want %q", name, got, want)
		}
	}
	err := f.Parse([]string{"--data-dir", "/d", "--listen", "0.0.0.0:1", "--http", "", "--config", "c",
		"--set", "a=1", "--set", "b=2,3", "--shutdown-timeout", "5s"})
	if err != nil {
		t.Fatal(err)
	}
	sets, _ := f.GetStringArray("set")
	if len(sets) != 2 || sets[0] != "a=1" || sets[1] != "b=2,3" {
		t.Errorf("--set values %q: each must stay whole, commas included", sets)
	}
	for name, want := range map[string]string{"data-dir": "/d", "listen": "0.0.0.0:1", "http": "", "config": "c", "shutdown-timeout": "5s"} {
		if got := f.Lookup(name).Value.String(); got != want {
			t.Errorf("--%s = %q, want %q", name, got, want)
		}
	}
}

func TestServeBadSettings(t *testing.T) {
	dir := t.TempDir()
	base := []string{"serve", "--data-dir", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0", "--http", ""}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--set", "num.partitions"}, `--set "num.partitions": want key=value`},
		{[]string{"--set", "num.partitions=abc"}, `invalid value "abc" for num.partitions`},
		{[]string{"--set", "log.retention.ms=1h"}, `invalid value "1h" for log.retention.ms`},
		{[]string{"--config", filepath.Join(dir, "missing.properties")}, "config file: open"},
	} {
		r := nagare(t, "", append(base, c.args...)...)
		// Nothing was served, so the run fails; exit 2 (usage) would suit a malformed
		// --set better than 1, but serve returns plain errors for now.
		if r.code == exitOK || !strings.Contains(r.stderr, "nagare: ") || !strings.Contains(r.stderr, c.want) {
			t.Errorf("serve %v: exit %d, stderr %q; want a failure saying %q", c.args, r.code, r.stderr, c.want)
		}
	}
	r := nagare(t, "", append(base, "--no-such-flag")...)
	if r.code != exitUsage || !strings.Contains(r.stderr, "unknown flag: --no-such-flag") {
		t.Errorf("unknown flag: exit %d, stderr %q", r.code, r.stderr)
	}
}

// servingLine is what serve prints once the broker is up.
var servingLine = regexp.MustCompile(`nagare: serving Kafka on (\S+), data in (\S+)\n`)

// TestServeUntilCanceled runs `nagare serve` in process the way main does, with a
// config file and flags, and stops it by canceling its context (SIGTERM in main).
func TestServeUntilCanceled(t *testing.T) {
	dir := t.TempDir()
	fileDataDir := filepath.Join(dir, "from-file")
	file := writeFile(t, dir, "server.properties",
		"log.dirs="+fileDataDir+"\nlisteners=PLAINTEXT://127.0.0.1:0\nnum.partitions=3\n")
	httpAddr := freeLoopbackAddr(t)
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	var stdout, stderr syncBuffer
	var code int
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		// No --data-dir or --listen: the file's log.dirs and listeners hold. --set wins
		// over the file's num.partitions.
		code = run(ctx, []string{"serve", "--config", file, "--set", "num.partitions=2", "--http", httpAddr},
			strings.NewReader(""), &stdout, &stderr)
	}()
	// However the test ends, the broker is stopped before its temp dir is removed.
	t.Cleanup(func() {
		stop()
		select {
		case <-finished:
		case <-time.After(40 * time.Second):
			t.Errorf("serve did not stop within 40s of cancellation:\n%s", stderr.String())
		}
	})
	var m []string
	for deadline := time.Now().Add(30 * time.Second); m == nil; time.Sleep(20 * time.Millisecond) {
		select {
		case <-finished:
			t.Fatalf("serve exited with %d before serving:\n%s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not report serving within 30s:\n%s", stderr.String())
		}
		m = servingLine.FindStringSubmatch(stderr.String())
	}
	addr, dataDir := m[1], m[2]
	if dataDir != fileDataDir {
		t.Errorf("data in %s, want the config file's log.dirs %s", dataDir, fileDataDir)
	}
	if host, port, _ := net.SplitHostPort(addr); host != "127.0.0.1" || port == "0" {
		t.Errorf("serving on %s, want the file's listener with a bound port", addr)
	}

	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if code, body := httpGet(t, "http://"+httpAddr+path); code != http.StatusOK || body == "" {
			t.Errorf("GET %s: %d %q", path, code, body)
		}
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	reqCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(reqCtx, &kgo.Record{Topic: "auto", Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	topics, err := kadm.NewClient(cl).ListTopics(reqCtx, "auto")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(topics["auto"].Partitions); n != 2 {
		t.Errorf("auto-created topic has %d partitions, want 2 from --set num.partitions", n)
	}
	cl.Close()

	stop()
	select {
	case <-finished:
		if code != exitOK {
			t.Errorf("serve exited with %d after cancellation, want 0:\n%s", code, stderr.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatalf("serve did not stop within 40s of cancellation:\n%s", stderr.String())
	}
	if _, err := os.Stat(filepath.Join(fileDataDir, ".kafka_cleanshutdown")); err != nil {
		t.Errorf("no clean shutdown marker after cancellation: %v", err)
	}
	if stdout.String() != "" {
		t.Errorf("serve wrote to stdout: %q", stdout.String())
	}
}

// freeLoopbackAddr finds a loopback port nothing listens on (by listening and closing).
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
