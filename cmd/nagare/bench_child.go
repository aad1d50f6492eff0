package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
)

// benchChild returns the command that runs this binary with args as a child of a bench,
// its clients in their own Go runtime. With cpus set (a taskset list such as "1") the
// child is pinned there, so that with the bench itself pinned elsewhere (taskset -c 0
// nagare bench ...) the clients' own CPU stops competing with the broker's, as clients on
// other machines would not.
func benchChild(ctx context.Context, cpus string, args ...string) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this binary to run the bench's clients: %w", err)
	}
	args = append([]string{self}, args...)
	if cpus != "" {
		args = append([]string{"taskset", "-c", cpus}, args...)
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
