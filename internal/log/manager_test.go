package log

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func openTestManager(t testing.TB, dir string) *Manager {
	t.Helper()
	m, err := OpenManager(ManagerConfig{Dir: dir, Defaults: smallConfig(), Logger: quietLogger()})
	if err != nil {
		t.Fatalf("open manager: %v", err)
	}
	return m
}

func TestManagerLifecycle(t *testing.T) {
	dir := t.TempDir()
	m := openTestManager(t, dir)
	tps := []TopicPartition{{"orders", 0}, {"orders", 1}, {"user-events", 0}}
	for _, tp := range tps {
		l, err := m.GetOrCreate(tp, smallConfig())
		if err != nil {
			t.Fatal(err)
		}
		appendN(t, l, 30, 2, 50, testNow.UnixMilli())
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, cleanShutdownFile)); err != nil {
		t.Fatalf("no clean shutdown marker: %v", err)
	}
	rp, err := readCheckpoint(filepath.Join(dir, recoveryPointFile))
	if err != nil || rp[tps[2]] != 60 {
		t.Fatalf("recovery checkpoint %v, %v", rp, err)
	}

	m = openTestManager(t, dir)
	if _, err := os.Stat(filepath.Join(dir, cleanShutdownFile)); !os.IsNotExist(err) {
		t.Fatal("clean shutdown marker survived open")
	}
	if got := len(m.Logs()); got != 3 {
		t.Fatalf("reopened %d logs", got)
	}
	for _, tp := range tps {
		l, ok := m.Get(tp)
		if !ok || l.LogEndOffset() != 60 {
			t.Fatalf("%s after reopen: %v", tp, l)
		}
	}
	l, _ := m.Get(tps[0])
	l.SetHighWatermark(l.LogEndOffset())
	if _, err := l.DeleteRecordsBefore(20); err != nil {
		t.Fatal(err)
	}
	if err := m.Delete(tps[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "orders-1")); !os.IsNotExist(err) {
		t.Fatal("deleted partition dir remains")
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m = openTestManager(t, dir)
	defer m.Close()
	if len(m.Logs()) != 2 {
		t.Fatalf("%d logs after delete and reopen", len(m.Logs()))
	}
	if l, _ := m.Get(tps[0]); l.LogStartOffset() != 20 {
		t.Fatalf("log start offset %d after reopen, want 20 (DeleteRecords survives restart)", l.LogStartOffset())
	}
}

func TestManagerRecoversAfterCrash(t *testing.T) {
	dir := t.TempDir()
	m := openTestManager(t, dir)
	l, _ := m.GetOrCreate(TopicPartition{"t", 0}, smallConfig())
	appendN(t, l, 50, 2, 50, 0)
	// No Close: the marker is absent, so the next open recovers.
	copyDir := t.TempDir()
	os.CopyFS(copyDir, os.DirFS(dir))
	m.Close()
	m2 := openTestManager(t, copyDir)
	defer m2.Close()
	l2, ok := m2.Get(TopicPartition{"t", 0})
	if !ok || l2.LogEndOffset() != 100 {
		t.Fatalf("after crash: %v", l2)
	}
}

func TestManagerFlushesRolledSegments(t *testing.T) {
	m := openTestManager(t, t.TempDir())
	defer m.Close()
	l, _ := m.GetOrCreate(TopicPartition{"t", 0}, smallConfig())
	appendN(t, l, 100, 2, 50, 0)
	deadline := time.Now().Add(5 * time.Second)
	for l.RecoveryPoint() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if l.RecoveryPoint() == 0 {
		t.Fatal("rolling segments never advanced the recovery point")
	}
}

// TestManagerStartsManyPartitionsQuickly: a clean start with 1,000 small partitions must
// not rescan them (the issue asks for a few seconds at most; this allows generous slack
// for -race and a loaded machine, and logs the figure).
func TestManagerStartsManyPartitionsQuickly(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 1,000 partitions")
	}
	dir := t.TempDir()
	m := openTestManager(t, dir)
	for p := 0; p < 1000; p++ {
		l, err := m.GetOrCreate(TopicPartition{"many", int32(p)}, smallConfig())
		if err != nil {
			t.Fatal(err)
		}
		appendN(t, l, 3, 2, 20, 0)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	m = openTestManager(t, dir)
	took := time.Since(start)
	defer m.Close()
	t.Logf("clean start of 1,000 partitions took %v", took)
	if len(m.Logs()) != 1000 {
		t.Fatalf("opened %d logs", len(m.Logs()))
	}
	if took > 20*time.Second {
		t.Fatalf("clean start took %v", took)
	}
}

func TestParsePartitionDir(t *testing.T) {
	for name, want := range map[string]string{"a-0": "a/0", "my-topic-12": "my-topic/12", "x": "", "x-": "", "-1": "", "t-a": "", "t--1": "t-/1"} {
		tp, ok := parsePartitionDir(name)
		got := ""
		if ok {
			got = fmt.Sprintf("%s/%d", tp.Topic, tp.Partition)
		}
		if got != want {
			t.Errorf("parsePartitionDir(%q) = %q, want %q", name, got, want)
		}
	}
}
