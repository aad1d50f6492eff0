package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// TestGroupShareCommands: `group list` shows a share group with its type, and
// `group describe` its member with the assignment and, per partition, the share start
// offset, the log end offset and the lag.
func TestGroupShareCommands(t *testing.T) {
	b := brokertest.Start(t, brokertest.WithHTTP(), brokertest.WithProperties(map[string]string{
		"share.auto.offset.reset":                          "earliest",
		"group.share.heartbeat.interval.ms":                "200",
		"share.coordinator.state.topic.replication.factor": "1",
		"share.coordinator.state.topic.min.isr":            "1",
	}))
	boot := b.Addr()
	with := func(args ...string) []string { return append(args, "--bootstrap", boot) }
	mustRun(t, "", with("topic", "create", "jobs", "-p", "1")...)
	mustRun(t, strings.Repeat("x\n", 20), with("produce", "jobs", "-q")...)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl := b.Client(kgo.ShareGroup("workers"), kgo.ConsumeTopics("jobs"), kgo.ClientID("share-test"))
	for got := 0; got < 20 && ctx.Err() == nil; {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { r.Ack(kgo.AckAccept); got++ })
	}
	if err := cl.FlushAcks(ctx); err != nil {
		t.Fatal(err)
	}
	mustRun(t, strings.Repeat("y\n", 5), with("produce", "jobs", "-q")...)

	if got := listGroupsJSON(t, with("group", "list", "-o", "json")...); got != "workers:Stable::share" {
		t.Errorf("group list: %s", got)
	}
	d := describeGroupsJSON(t, with("group", "describe", "workers", "-o", "json")...)
	if len(d) != 1 || d[0].Type != "share" || d[0].State != "Stable" || d[0].Protocol != "simple" || len(d[0].Members) != 1 ||
		d[0].Members[0].ClientID != "share-test" || assignmentString(d[0].Members[0].Assignment) != "jobs:0" || d[0].TotalLag != 5 {
		t.Fatalf("describe workers: %+v", d)
	}
	o := d[0].ShareOffsets
	if len(o) != 1 || o[0].Topic != "jobs" || o[0].StartOffset == nil || *o[0].StartOffset != 20 || o[0].LogEndOffset != 25 ||
		o[0].Lag == nil || *o[0].Lag != 5 || len(o[0].Members) != 1 {
		t.Fatalf("share offsets: %+v", o)
	}
	table := squeeze(mustRun(t, "", with("group", "describe", "workers")...).stdout)
	for _, want := range []string{"Type:  share", "TOPIC  PARTITION  START-OFFSET  LOG-END-OFFSET  LAG  MEMBERS  ERROR",
		"jobs  0  20  25  5  " + d[0].Members[0].MemberID + "  -"} {
		if !strings.Contains(table, want) {
			t.Errorf("describe table lacks %q:\n%s", want, table)
		}
	}

	// Acquire the 5 new records without acknowledging them: with --http the leader's
	// in-flight and acquired counts show.
	for got := 0; got < 5 && ctx.Err() == nil; {
		got += cl.PollFetches(ctx).NumRecords()
	}
	table = squeeze(mustRun(t, "", with("group", "describe", "workers", "--http", b.HTTPAddr())...).stdout)
	for _, want := range []string{"TOPIC  PARTITION  START-OFFSET  LOG-END-OFFSET  LAG  IN-FLIGHT  ACQUIRED  MEMBERS  ERROR",
		"jobs  0  20  25  5  5  5  " + d[0].Members[0].MemberID + "  -"} {
		if !strings.Contains(table, want) {
			t.Errorf("describe --http table lacks %q:\n%s", want, table)
		}
	}
	r := nagare(t, "", with("group", "describe", "workers", "--http", "127.0.0.1:1")...)
	if r.code == 0 || !strings.Contains(r.stderr, "in-flight counts") {
		t.Errorf("describe --http with an unreachable broker: exit %d, stderr %q", r.code, r.stderr)
	}
	cl.Close()
}
