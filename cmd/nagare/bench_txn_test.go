package main

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// TestBenchTxn runs `bench txn` briefly against a real broker: transactions commit,
// the report counts them, and a read_committed consumer sees every committed record.
func TestBenchTxn(t *testing.T) {
	b := brokertest.Start(t)
	r := mustRun(t, "", "bench", "txn", "--bootstrap", b.Addr(), "--topic", "bench-txn", "--producers", "2",
		"--duration", "500ms", "--min-records", "2", "--max-records", "2", "--record-size", "16", "-o", "json")
	var report benchReport
	decodeJSON(t, r.stdout, &report)
	run := report.Runs[0]
	if report.Workload != "txn" || run.Records <= 0 || run.Bytes != run.Records*2*16 || run.LatencyMs == nil {
		t.Fatalf("txn report: %+v", report)
	}
	// Every committed transaction's records, plus one warm-up transaction of one record per producer.
	want := run.Records*2 + 2
	cl := b.Client(kgo.ConsumeTopics("bench-txn"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer cl.Close()
	got := int64(0)
	for got < want {
		fs := cl.PollFetches(t.Context())
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		got += int64(fs.NumRecords())
	}
	if got != want {
		t.Fatalf("read_committed read %d records, want %d", got, want)
	}
}

func TestBenchProduceIdempotentFlag(t *testing.T) {
	r := nagare(t, "", "bench", "produce", "--acks", "1", "--idempotent=false")
	if r.code == 0 || !strings.Contains(r.stderr, "--idempotent=false only makes sense with --acks all") {
		t.Fatalf("--idempotent=false with --acks 1: exit %d, stderr %q", r.code, r.stderr)
	}
}
