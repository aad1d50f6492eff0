package broker

import (
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSetThreadSlices: every thread of the process takes the slice, a thread started
// afterwards inherits it, and 0 puts the kernel's default back.
func TestSetThreadSlices(t *testing.T) {
	n, err := setThreadSlices(300 * time.Microsecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := setThreadSlices(0); err != nil {
			t.Errorf("reset: %v", err)
		}
	})
	if n == 0 {
		t.Skip("this kernel keeps no slice for normal threads (before Linux 6.12)")
	}
	before := len(threadSlices(t))
	var fds [2]int
	if err := unix.Pipe(fds[:]); err != nil { // blocking, unlike os.Pipe's
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1]) // ends the reads
	for range 3 {            // each holds a thread in a blocking read, so the runtime starts others
		go func() {
			runtime.LockOSThread()
			var b [1]byte
			_, _ = unix.Read(fds[0], b[:])
		}()
	}
	waitThreads(t, before+3)
	for tid, slice := range threadSlices(t) {
		if slice != "300000" {
			t.Errorf("thread %s: se.slice %s, want 300000", tid, slice)
		}
	}
	if _, err := setThreadSlices(0); err != nil {
		t.Fatal(err)
	}
	for tid, slice := range threadSlices(t) {
		if slice == "300000" {
			t.Errorf("thread %s kept the slice after the reset", tid)
		}
	}
}

// threadSlices reads se.slice of every thread of this process from /proc.
func threadSlices(t *testing.T) map[string]string {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, task := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + task.Name() + "/sched")
		if err != nil {
			continue // exited
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "se.slice" {
				out[task.Name()] = strings.TrimSpace(v)
			}
		}
	}
	return out
}

// waitThreads waits until the process has at least n threads.
func waitThreads(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(threadSlices(t)) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d threads, want at least %d", len(threadSlices(t)), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
