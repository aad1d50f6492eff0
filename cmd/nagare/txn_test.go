package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// TestTxnCommands follows one transaction through `txn list`, `txn describe` and
// `txn producers` on a Nagare broker: open, then committed.
func TestTxnCommands(t *testing.T) {
	boot := brokertest.Start(t).Addr()
	with := func(args ...string) []string { return append(args, "--bootstrap", boot) }
	mustRun(t, "", with("topic", "create", "orders", "-p", "2")...)

	cl, err := kgo.NewClient(kgo.SeedBrokers(boot), kgo.TransactionalID("txn-cli"), kgo.DefaultProduceTopic("orders"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	pid, epoch, err := cl.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// list: table, state and producer id filters.
	r := mustRun(t, "", with("txn", "list")...)
	if !strings.Contains(r.stdout, "TRANSACTIONAL-ID") || !strings.Contains(r.stdout, "txn-cli") {
		t.Errorf("txn list:\n%s", r.stdout)
	}
	var listed []txnSummary
	decodeJSON(t, mustRun(t, "", with("txn", "list", "--state", "ongoing", "-o", "json")...).stdout, &listed)
	if len(listed) != 1 || listed[0].TransactionalID != "txn-cli" || listed[0].ProducerID != pid || listed[0].State != "Ongoing" {
		t.Errorf("txn list --state ongoing: %+v", listed)
	}
	decodeJSON(t, mustRun(t, "", with("txn", "list", "--state", "CompleteCommit", "-o", "json")...).stdout, &listed)
	if len(listed) != 0 {
		t.Errorf("txn list --state CompleteCommit: %+v", listed)
	}
	decodeJSON(t, mustRun(t, "", with("txn", "list", "--producer-id", fmt.Sprint(pid+1000), "-o", "json")...).stdout, &listed)
	if len(listed) != 0 {
		t.Errorf("txn list --producer-id other: %+v", listed)
	}
	if r := nagare(t, "", with("txn", "list", "--state", "Sideways")...); r.code == 0 {
		t.Errorf("txn list --state Sideways: exit 0")
	}

	// describe: the open transaction and its partition.
	d := describeTxnJSON(t, with("txn", "describe", "txn-cli", "-o", "json")...)
	if d.State != "Ongoing" || d.ProducerID != pid || d.ProducerEpoch != epoch || d.DurationMs == nil || d.StartTimeMs <= 0 ||
		len(d.Partitions) != 1 || d.Partitions[0].Topic != "orders" || fmt.Sprint(d.Partitions[0].Partitions) != "[0]" {
		t.Errorf("txn describe (open): %+v", d)
	}

	// producers: partition 0 holds the open transaction from offset 0.
	var states []producerState
	decodeJSON(t, mustRun(t, "", with("txn", "producers", "orders", "-p", "0", "-o", "json")...).stdout, &states)
	if len(states) != 1 || states[0].ProducerID != pid || states[0].CurrentTxnStartOffset != 0 || states[0].LastSequence != 1 {
		t.Errorf("txn producers: %+v", states)
	}
	r = mustRun(t, "", with("txn", "producers", "orders")...)
	if !strings.Contains(r.stdout, "TXN-START-OFFSET") || strings.Count(strings.TrimSpace(r.stdout), "\n") != 1 {
		t.Errorf("txn producers (table, all partitions):\n%s", r.stdout)
	}

	// commit: the id completes and partition 0's transaction closes.
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for d = describeTxnJSON(t, with("txn", "describe", "txn-cli", "-o", "json")...); d.State != "CompleteCommit"; {
		if time.Now().After(deadline) {
			t.Fatalf("txn describe after commit: %+v", d)
		}
		time.Sleep(10 * time.Millisecond)
		d = describeTxnJSON(t, with("txn", "describe", "txn-cli", "-o", "json")...)
	}
	if d.DurationMs != nil || len(d.Partitions) != 0 {
		t.Errorf("txn describe (committed): %+v", d)
	}
	decodeJSON(t, mustRun(t, "", with("txn", "producers", "orders", "-p", "0", "-o", "json")...).stdout, &states)
	if len(states) != 1 || states[0].CurrentTxnStartOffset != -1 {
		t.Errorf("txn producers after commit: %+v", states)
	}

	// An unknown id is reported and fails the command.
	r = nagare(t, "", with("txn", "describe", "no-such-id")...)
	if r.code == 0 || !strings.Contains(r.stdout, "no-such-id") {
		t.Errorf("txn describe no-such-id: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func describeTxnJSON(t *testing.T, args ...string) txnDescription {
	t.Helper()
	var d []txnDescription
	decodeJSON(t, mustRun(t, "", args...).stdout, &d)
	if len(d) != 1 {
		t.Fatalf("describe: %+v", d)
	}
	return d[0]
}
