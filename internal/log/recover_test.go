package log

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// crashCopy copies a live (not closed) log directory, as a crash would leave it.
func crashCopy(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// assertPrefix checks the recovered log is a valid prefix of what was appended.
func assertPrefix(t *testing.T, l *Log, original []BatchHeader) {
	t.Helper()
	l.SetHighWatermark(l.LogEndOffset())
	got, err := scanLog(l, 0)
	if err != nil {
		t.Fatalf("recovered log unreadable: %v", err)
	}
	if len(got) > len(original) {
		t.Fatalf("recovered %d batches, only %d were appended", len(got), len(original))
	}
	for i, h := range got {
		if h.BaseOffset != original[i].BaseOffset || h.CRC != original[i].CRC {
			t.Fatalf("batch %d differs: %+v vs %+v", i, h, original[i])
		}
	}
	want := int64(0)
	if len(got) > 0 {
		want = got[len(got)-1].LastOffset() + 1
	}
	if l.LogEndOffset() != want {
		t.Fatalf("log end offset %d, recovered data ends at %d", l.LogEndOffset(), want)
	}
	// The recovered log takes appends at its end.
	res, err := l.Append(testBatch(1, 1, 0), AppendOptions{LeaderEpoch: -1})
	if err != nil || res.BaseOffset != want {
		t.Fatalf("append after recovery: %+v, %v", res, err)
	}
}

func TestRecoveryFromCrashDamage(t *testing.T) {
	src := t.TempDir()
	live := openTestLog(t, src, smallConfig(), true)
	defer live.Close()
	for i := 0; i < 150; i++ {
		if _, err := live.Append(testBatch(1+i%4, 20+i%50, int64(i)), AppendOptions{LeaderEpoch: -1}); err != nil {
			t.Fatal(err)
		}
	}
	live.SetHighWatermark(live.LogEndOffset())
	original := readBatches(t, live, 0)
	rng := rand.New(rand.NewPCG(1, 2))

	damage := map[string]func(dir string){
		"none": func(string) {},
		"cut log": func(dir string) {
			logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
			cutFile(t, logs[rng.IntN(len(logs))], rng)
		},
		"cut last log": func(dir string) {
			logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
			cutFile(t, logs[len(logs)-1], rng)
		},
		"flip byte": func(dir string) {
			logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
			flipByte(t, logs[rng.IntN(len(logs))], rng)
		},
		"delete indexes": func(dir string) {
			idx, _ := filepath.Glob(filepath.Join(dir, "*index"))
			for _, p := range idx {
				if rng.IntN(2) == 0 {
					os.Remove(p)
				}
			}
		},
		"garbage indexes": func(dir string) {
			idx, _ := filepath.Glob(filepath.Join(dir, "*index"))
			for _, p := range idx {
				os.WriteFile(p, []byte{1, 2, 3, 4, 5, 6, 7}, 0o644)
			}
		},
		"cut index": func(dir string) {
			idx, _ := filepath.Glob(filepath.Join(dir, "*.index"))
			cutFile(t, idx[rng.IntN(len(idx))], rng)
		},
	}
	for name, hurt := range damage {
		for round := 0; round < 8; round++ {
			t.Run(fmt.Sprintf("%s/%d", name, round), func(t *testing.T) {
				dir := crashCopy(t, src)
				hurt(dir)
				l := openTestLog(t, dir, smallConfig(), false)
				defer l.Close()
				assertPrefix(t, l, original)
				if name == "none" || name == "delete indexes" || name == "garbage indexes" || name == "cut index" {
					if l.LogEndOffset() != original[len(original)-1].LastOffset()+2 {
						t.Fatalf("index damage lost data: leo %d", l.LogEndOffset())
					}
				}
			})
		}
	}
}

// TestCleanOpenRebuildsBadIndexes: even after a clean shutdown, an index that fails
// the sanity check is rebuilt rather than trusted.
func TestCleanOpenRebuildsBadIndexes(t *testing.T) {
	dir := t.TempDir()
	l := openTestLog(t, dir, smallConfig(), true)
	appendN(t, l, 100, 2, 50, 0)
	original := readBatches(t, l, 0)
	l.Close()
	idx, _ := filepath.Glob(filepath.Join(dir, "*.index"))
	os.WriteFile(idx[0], []byte{0, 0, 0, 0x7f, 0, 0, 0x7f, 0}, 0o644) // points past the segment
	os.Remove(idx[1])
	l = openTestLog(t, dir, smallConfig(), true)
	defer l.Close()
	assertPrefix(t, l, original)
	for off := int64(0); off < 200; off += 13 {
		if got := readBatches(t, l, off); got[0].BaseOffset != off-off%2 {
			t.Fatalf("lookup of %d after rebuild starts at %d", off, got[0].BaseOffset)
		}
	}
}

func cutFile(t *testing.T, path string, rng *rand.Rand) {
	st, err := os.Stat(path)
	if err != nil || st.Size() == 0 {
		return
	}
	if err := os.Truncate(path, rng.Int64N(st.Size())); err != nil {
		t.Fatal(err)
	}
}

func flipByte(t *testing.T, path string, rng *rand.Rand) {
	data, err := os.ReadFile(path)
	if err != nil || len(data) == 0 {
		return
	}
	data[rng.IntN(len(data))] ^= byte(1 + rng.IntN(255))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestKill9KeepsAcknowledgedAppends runs a child process that appends and prints each
// acknowledged offset, kills it with SIGKILL mid-stream, and checks that recovery keeps
// every acknowledged batch.
func TestKill9KeepsAcknowledgedAppends(t *testing.T) {
	if dir := os.Getenv("NAGARE_LOG_CHILD_DIR"); dir != "" {
		childAppendForever(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9KeepsAcknowledgedAppends$")
	cmd.Env = append(os.Environ(), "NAGARE_LOG_CHILD_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := int64(-1)
	sc := bufio.NewScanner(out)
	deadline := time.Now().Add(10 * time.Second)
	for sc.Scan() && acked < 3000 && time.Now().Before(deadline) {
		if v, err := strconv.ParseInt(sc.Text(), 10, 64); err == nil {
			acked = v
		}
	}
	cmd.Process.Kill()
	go io.Copy(io.Discard, out)
	cmd.Wait()
	if acked < 0 {
		t.Fatal("child acknowledged nothing")
	}
	l := openTestLog(t, dir, smallConfig(), false)
	defer l.Close()
	if l.LogEndOffset() <= acked {
		t.Fatalf("acknowledged offset %d lost: log end offset %d", acked, l.LogEndOffset())
	}
	l.SetHighWatermark(l.LogEndOffset())
	readBatches(t, l, 0)
}

func childAppendForever(dir string) {
	l, err := Open(OpenOptions{Dir: dir, Topic: "t", Config: smallConfig(), Logger: quietLogger()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		res, err := l.Append(testBatch(1+i%3, 100, int64(i)), AppendOptions{LeaderEpoch: -1})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Fprintln(w, res.LastOffset)
		w.Flush()
	}
}
