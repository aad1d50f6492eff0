package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/nagare-dev/nagare/internal/broker"
	"github.com/nagare-dev/nagare/internal/stats"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// topTestView is a fixed /v1/clients answer: a busy producer, a consumer that is
// throttled, an admin tool, and the clients folded beyond the cap.
func topTestView() stats.ClientsView {
	return stats.ClientsView{
		Time: time.Date(2025, 3, 1, 14, 5, 9, 0, time.UTC), IntervalSeconds: 1, Tracked: 3, MaxClients: 1000,
		Clients: []stats.ClientView{
			{ClientID: "billing-consumer", Principal: "billing", SoftwareName: "apache-kafka-java", SoftwareVersion: "3.9.0",
				Connections: 3, RequestsPerSec: map[string]float64{"Fetch": 40, "Heartbeat": 2, "OffsetCommit": 8},
				RequestRate: 50, BytesOutPerSec: 48 << 20, BytesInPerSec: 5000, BrokerTimePercent: 12.5, ThrottleMsPerSec: 350,
				BrokerTimeSeconds: 30},
			{ClientID: "busy-producer", Principal: "ANONYMOUS", SoftwareName: "kgo", SoftwareVersion: "1.18.0",
				Connections: 1, RequestsPerSec: map[string]float64{"Produce": 1900, "Metadata": 100},
				RequestRate: 2000, BytesInPerSec: 20 << 20, BytesOutPerSec: 100 << 10, BrokerTimePercent: 85.25,
				BrokerTimeSeconds: 600},
			{ClientID: "adminclient-1", Principal: "ops", Connections: 1, RequestsPerSec: map[string]float64{},
				BrokerTimeSeconds: 0.2},
			{ClientID: "other", Principal: "other", Other: true, Connections: 12,
				RequestsPerSec: map[string]float64{"ApiVersions": 30, "Metadata": 10}, RequestRate: 40,
				BytesInPerSec: 900, BytesOutPerSec: 40000, BrokerTimePercent: 1.5},
		},
	}
}

func topTestIO() *broker.IOView {
	return &broker.IOView{Method: "cachestat", Warmup: true, Histogram: map[string]broker.IOHist{
		"sendfile":        {Buckets: []uint64{0, 0, 0, 0, 5, 120, 300, 80, 4, 0, 0, 1}},
		"residency_check": {Buckets: []uint64{10, 400, 20}},
		"warmup":          {Buckets: []uint64{}},
	}}
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update to accept):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestTopRenderGolden(t *testing.T) {
	var out bytes.Buffer
	for _, sort := range []topSort{sortTime, sortRequests, sortBytes, sortThrottle} {
		renderTop(&out, topScreen{Addr: "127.0.0.1:9644", Sort: sort, Width: 160, View: topTestView()})
		out.WriteString("----\n")
	}
	// A small terminal cuts lines and rows.
	renderTop(&out, topScreen{Addr: "127.0.0.1:9644", Sort: sortTime, Width: 60, Height: 7, View: topTestView()})
	checkGolden(t, "top.golden", out.Bytes())

	out.Reset()
	renderTop(&out, topScreen{Addr: "127.0.0.1:9644", Sort: sortTime, Width: 160, View: topTestView(), IO: topTestIO(), IOTotal: true})
	checkGolden(t, "top_io.golden", out.Bytes())
}

// TestTopUnderPTY runs `nagare top` on a pseudo-terminal against a fake broker endpoint:
// it draws in raw mode on the alternate screen, re-sorts on a key press, quits on q and
// leaves the terminal as it found it.
func TestTopUnderPTY(t *testing.T) {
	view := topTestView()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/clients" {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(view)
	}))
	defer srv.Close()

	master, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer master.Close()
	defer tty.Close()
	if err := pty.Setsize(tty, &pty.Winsize{Rows: 30, Cols: 150}); err != nil {
		t.Fatal(err)
	}
	before, err := unix.IoctlGetTermios(int(tty.Fd()), ioctlGetTermios)
	if err != nil {
		t.Fatal(err)
	}
	var screen syncBuffer
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			screen.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	addr := strings.TrimPrefix(srv.URL, "http://")
	go func() {
		done <- runTop(ctx, topOptions{http: addr, interval: 100 * time.Millisecond, sort: "t"}, tty, tty)
	}()
	waitFor := func(what string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(screen.String(), what); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("screen never showed %q; got:\n%q", what, screen.String())
			}
		}
	}
	waitFor("sorted by broker time")
	waitFor("\x1b[?1049h") // the alternate screen
	waitFor("busy-producer")
	if strings.Contains(screen.String(), "busy-producer\n") {
		t.Errorf("raw mode output has bare newlines")
	}
	if _, err := master.Write([]byte("b")); err != nil {
		t.Fatal(err)
	}
	waitFor("sorted by bytes/s")
	if _, err := master.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("top: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("top did not quit on q")
	}
	waitFor("\x1b[?1049l") // back to the main screen
	after, err := unix.IoctlGetTermios(int(tty.Fd()), ioctlGetTermios)
	if err != nil {
		t.Fatal(err)
	}
	if after.Lflag != before.Lflag {
		t.Errorf("terminal flags not restored: %#x, was %#x", after.Lflag, before.Lflag)
	}
	// The busiest by bytes/s comes first once sorted by it: billing-consumer (48 MiB/s out).
	last := screen.String()[strings.LastIndex(screen.String(), "sorted by bytes/s"):]
	if strings.Index(last, "billing-consumer") > strings.Index(last, "busy-producer") {
		t.Errorf("after b, billing-consumer is not first:\n%s", last)
	}
}
