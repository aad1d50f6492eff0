package main

// The kfake reference of `bench --compare-kfake` runs in a child process of
// this binary (`nagare bench kfake-serve`, hidden), not in the bench
// process: in-process, kfake shared the client's Go runtime, scheduler and
// GC, which skewed the comparison (consume against kfake in memory moved
// from 0.72x to about 1.5x once kfake had its own process). In a child it
// has the layout of the server under test, and its CPU can be read from
// /proc like the server's.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kfake"
)

// kfakeServeName is the hidden subcommand of `nagare bench` that serves kfake.
const kfakeServeName = "kfake-serve"

// newBenchKfakeServeCommand returns `nagare bench kfake-serve`: start a
// one-broker kfake cluster on a loopback port, print its address as the
// first line of stdout, and serve until stdin closes (the parent stopped
// or died) or SIGTERM.
func newBenchKfakeServeCommand() *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:    kfakeServeName,
		Short:  "Serve a one-broker kfake cluster for bench --compare-kfake",
		Hidden: true,
		Args:   exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := []kfake.Opt{kfake.NumBrokers(1)}
			if dataDir != "" {
				opts = append(opts, kfake.DataDir(dataDir))
			}
			cluster, err := kfake.NewCluster(opts...)
			if err != nil {
				return fmt.Errorf("start kfake: %w", err)
			}
			defer cluster.Close()
			if _, err := fmt.Fprintln(cmd.OutOrStdout(), cluster.ListenAddrs()[0]); err != nil {
				return err
			}
			stdinClosed := make(chan struct{})
			go func() {
				_, _ = io.Copy(io.Discard, cmd.InOrStdin())
				close(stdinClosed)
			}()
			select {
			case <-stdinClosed:
			case <-cmd.Context().Done(): // SIGTERM or SIGINT: a normal stop
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "persist to this directory (kfake.DataDir); empty: in memory")
	return cmd
}

// kfakeChild is a running `nagare bench kfake-serve`.
type kfakeChild struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser // closing it stops the child
	stdout *os.File       // read end of the child's stdout, where its address comes
	addr   string         // its Kafka listener
	dir    string         // its data dir, removed on stop; "" in memory
	done   chan error     // cmd.Wait's result
	// The child's stderr when log is not a file (in tests), copied to log
	// once the child has exited: exec's copying goroutine and the bench
	// must not write to log at the same time.
	stderr *bytes.Buffer
	log    io.Writer
}

// startKfakeChild starts kfake in a child process of this binary, in memory
// or persisting to a new temporary directory, and waits for its address.
func startKfakeChild(ctx context.Context, persist bool, timeout time.Duration, log io.Writer) (*kfakeChild, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this binary to run kfake: %w", err)
	}
	c := &kfakeChild{done: make(chan error, 1), log: log}
	if persist {
		if c.dir, err = os.MkdirTemp("", "nagare-bench-kfake-"); err != nil {
			return nil, err
		}
	}
	// Not exec.CommandContext: on interrupt, closing stdin still stops the
	// child gracefully, and a persisting kfake syncs its files on Close.
	c.cmd = exec.Command(exe, "bench", kfakeServeName, "--data-dir", c.dir)
	if f, ok := log.(*os.File); ok {
		c.cmd.Stderr = f
	} else {
		c.stderr = new(bytes.Buffer)
		c.cmd.Stderr = c.stderr
	}
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		return nil, c.cleanUp(err)
	}
	// An os.Pipe rather than StdoutPipe, whose read end Wait would close
	// while the address may still be being read.
	stdout, childStdout, err := os.Pipe()
	if err != nil {
		return nil, c.cleanUp(err)
	}
	c.stdout, c.cmd.Stdout = stdout, childStdout
	err = c.cmd.Start()
	childStdout.Close()
	if err != nil {
		return nil, c.cleanUp(fmt.Errorf("start kfake child: %w", err))
	}
	go func() { c.done <- c.cmd.Wait() }()

	line := make(chan string, 1)
	go func() {
		// The child prints nothing after its address; a child that fails
		// first closes the pipe, and the empty line is reported below.
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case c.addr = <-line:
	case <-ctx.Done():
		return nil, c.cleanUp(errors.Join(ctx.Err(), c.stop(timeout)))
	case <-timer.C:
		return nil, c.cleanUp(errors.Join(fmt.Errorf("kfake child printed no address within %s", timeout), c.stop(timeout)))
	}
	if _, _, err := net.SplitHostPort(c.addr); err != nil {
		return nil, c.cleanUp(errors.Join(fmt.Errorf("kfake child printed %q, not an address (its errors are above)", c.addr), c.stop(timeout)))
	}
	return c, nil
}

// pid is the child's process id, for its CPU time.
func (c *kfakeChild) pid() int { return c.cmd.Process.Pid }

// stop closes the child's stdin and waits for it to exit, killing it after
// timeout, then removes its data dir.
func (c *kfakeChild) stop(timeout time.Duration) error {
	_ = c.stdin.Close()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var err error
	select {
	case err = <-c.done:
	case <-timer.C:
		_ = c.cmd.Process.Kill()
		<-c.done
		err = fmt.Errorf("kfake child did not stop within %s; killed", timeout)
	}
	if c.stderr != nil {
		_, _ = c.log.Write(c.stderr.Bytes())
	}
	if err != nil {
		err = fmt.Errorf("stop kfake child: %w", err)
	}
	return c.cleanUp(err)
}

// cleanUp closes the stdout pipe, removes the data dir and returns err.
func (c *kfakeChild) cleanUp(err error) error {
	if c.stdout != nil {
		c.stdout.Close()
		c.stdout = nil
	}
	if c.dir != "" {
		if rmErr := os.RemoveAll(c.dir); rmErr != nil && err == nil {
			err = rmErr
		}
		c.dir = ""
	}
	return err
}
