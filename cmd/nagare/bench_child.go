package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
)

// childPlacement says where a bench's child process of load-generating clients runs.
// Clients on other machines cost the broker nothing but their requests; on the one
// machine of a bench their own CPU competes with the broker's, and these two ways keep
// it out of the measurement.
type childPlacement struct {
	// cpus is a taskset CPU list such as "1": the child is pinned there, so that with
	// the bench itself pinned elsewhere (taskset -c 0 nagare bench ...) the two do not
	// share a core.
	cpus string
	// nice is the child's niceness (nice(1), 0-19): at 19 the kernel runs it only on
	// CPU time the broker and the probe leave over, so it still sends as fast as that
	// time allows but no longer delays them.
	nice int
}

// probeNiceUsage is the help of the benches' --probe-nice.
const probeNiceUsage = "niceness of the probe's process (-20-19; below 0 needs root, else it runs at 0): " +
	"below 0 its client work is not delayed behind the broker's threads on this machine, as a client on " +
	"another machine would not be, so its latency is the broker's"

// benchChild returns the command that runs this binary with args as a child of a bench,
// its clients in their own Go runtime, placed as at says.
func benchChild(ctx context.Context, at childPlacement, args ...string) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this binary to run the bench's clients: %w", err)
	}
	args = append([]string{self}, args...)
	if at.cpus != "" {
		args = append([]string{"taskset", "-c", at.cpus}, args...)
	}
	if at.nice != 0 {
		args = append([]string{"nice", "-n", strconv.Itoa(at.nice)}, args...)
	}
	return exec.CommandContext(ctx, args[0], args[1:]...), nil
}

// lockedWriter serializes writes to w. A bench's log goes to the command's stderr from
// its own goroutines and from its children's stderr, which exec copies on a goroutine
// of its own when the writer is not a file (a test's buffer).
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// startPiped starts child with its stderr on log and pipes to its stdin and from its
// stdout: how a bench drives a child that it talks to while it runs.
func startPiped(child *exec.Cmd, log io.Writer) (io.WriteCloser, *bufio.Reader, error) {
	child.Stderr = log
	stdin, err := child.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	stdout, err := child.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := child.Start(); err != nil {
		return nil, nil, fmt.Errorf("start %s: %w", strings.Join(child.Args, " "), err)
	}
	return stdin, bufio.NewReader(stdout), nil
}
