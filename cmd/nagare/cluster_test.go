package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// TestClusterUp starts three nodes as child processes (the test binary stands in for
// nagare, see TestMain), reads the bootstrap servers from the output, asks cluster status
// through them, then cancels (as Ctrl-C does) and checks that every node stopped.
func TestClusterUp(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three broker processes")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	upCtx, stop := context.WithCancel(ctx)
	defer stop()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(upCtx, []string{"cluster", "up", "--nodes", "3", "--data-dir", dir}, strings.NewReader(""), &out, &errOut)
	}()
	bootstrap := regexp.MustCompile(`bootstrap servers: (\S+)`)
	var seeds string
	for seeds == "" {
		select {
		case code := <-done:
			log, _ := os.ReadFile(filepath.Join(dir, "node-1.log"))
			t.Fatalf("cluster up exited %d before it was up\nstdout:\n%s\nstderr:\n%s\nnode 1's log:\n%s", code, out.String(), errOut.String(), log)
		case <-ctx.Done():
			t.Fatalf("cluster up not up in time\nstdout:\n%s", out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if m := bootstrap.FindStringSubmatch(out.String()); m != nil {
			seeds = m[1]
		}
	}
	if n := len(strings.Split(seeds, ",")); n != 3 {
		t.Fatalf("bootstrap servers %q: %d, want 3", seeds, n)
	}
	status := mustRun(t, "", "cluster", "status", "--bootstrap", seeds)
	if !strings.Contains(status.stdout, "(controller)") || strings.Count(status.stdout, "\n  ") != 3 {
		log, _ := os.ReadFile(filepath.Join(dir, "node-2.log"))
		t.Errorf("status:\n%s\nnode 2's log:\n%s", status.stdout, log)
	}

	stop()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("cluster up exited %d\nstderr:\n%s", code, errOut.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("cluster up did not stop its nodes in time")
	}
	for _, id := range []string{"1", "2", "3"} {
		if !strings.Contains(out.String(), "node "+id+" stopped") {
			t.Errorf("node %s did not stop cleanly:\n%s", id, out.String())
		}
	}
}

// TestClusterStatus: with one broker of three stopped (and fenced), cluster status lists
// the two others, the partitions of a replication factor 3 topic that lost it as
// under-replicated and the replication factor 1 partition it held as offline.
func TestClusterStatus(t *testing.T) {
	brokers := brokertest.StartCluster(t, 3, brokertest.WithProperties(map[string]string{
		"broker.heartbeat.interval.ms": "100",
		"broker.session.timeout.ms":    "1000",
	}))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	admin := brokers[0].Admin()
	for _, topic := range []struct {
		name string
		rf   int16
	}{{"wide", 3}, {"narrow", 1}} {
		if resp, err := admin.CreateTopic(ctx, 3, topic.rf, nil, topic.name); err != nil || resp.Err != nil {
			t.Fatalf("create %s: %v %v", topic.name, err, resp.Err)
		}
	}
	seeds := brokers[0].Addr()
	healthy := mustRun(t, "", "cluster", "status", "--bootstrap", seeds)
	if !strings.Contains(healthy.stdout, "under-replicated partitions: 0") || !strings.Contains(healthy.stdout, "offline partitions: 0") {
		t.Fatalf("healthy cluster:\n%s", healthy.stdout)
	}

	brokers[2].Kill() // node 3: leads one partition of each topic (round-robin placement)
	deadline := time.Now().Add(10 * time.Second)
	var r cliResult
	for time.Now().Before(deadline) {
		r = mustRun(t, "", "cluster", "status", "--bootstrap", seeds)
		if strings.Contains(r.stdout, "under-replicated partitions: 3") && strings.Contains(r.stdout, "offline partitions: 1") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(r.stdout, "under-replicated partitions: 3") || !strings.Contains(r.stdout, "offline partitions: 1") ||
		strings.Contains(r.stdout, " 3 127.0.0.1") {
		t.Fatalf("status after broker 3 stopped:\n%s", r.stdout)
	}
	t.Logf("status:\n%s", r.stdout)
}
