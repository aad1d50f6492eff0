package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes. Scripts can tell a mistyped command line from a failure at run
// time.
const (
	exitOK          = 0
	exitFailure     = 1   // the cluster refused, or a record failed
	exitUsage       = 2   // bad flags or arguments; nothing was sent
	exitInterrupted = 130 // SIGINT or SIGTERM, as shells report it
)

// newRootCommand builds the whole command tree. Each subcommand lives in its
// own file (topic.go, produce.go, consume.go, bench.go; serve via addServe).
func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "nagare",
		Short: "Nagare: a Kafka-compatible streaming broker and its command-line tool",
		Long: `Nagare is a Kafka-compatible streaming broker. This one binary runs the broker
(nagare serve) and is also a command-line client for any Kafka-compatible cluster:
Nagare, Apache Kafka, Redpanda and others. The client commands speak the
Kafka protocol and admin APIs only, so they need nothing but --bootstrap.`,
		Example: `  nagare topic create orders --partitions 6 --config retention.ms=86400000
  printf 'k1:hello\nk2:world\n' | nagare produce orders --key-separator :
  nagare consume orders --from beginning -n 10 --output json
  nagare bench produce --records 1000000 --record-size 1024 --compare-kfake`,
		Args: noSubcommand,
		RunE: showHelp,
		// Runtime errors are printed by run as one line; a usage dump after
		// "topic does not exist" would only hide the message.
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageError{cmd: cmd, err: err}
	})
	addServe(root)
	root.AddCommand(
		newTopicCommand(),
		newPartitionCommand(),
		newGroupCommand(),
		newTxnCommand(),
		newQuotaCommand(),
		newACLCommand(),
		newUserCommand(),
		newProduceCommand(),
		newConsumeCommand(),
		newBenchCommand(),
		newTopCommand(),
		newClusterCommand(),
	)
	return root
}

// run executes the command line args and returns the process exit code. It
// is main without the process: tests call it with buffers.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	for line := range strings.SplitSeq(errorText(err), "\n") {
		fmt.Fprintf(stderr, "nagare: %s\n", line)
	}
	var usage usageError
	switch {
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", usage.cmd.CommandPath())
		return exitUsage
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	default:
		return exitFailure
	}
}

// errorText turns an error into the message an operator reads.
func errorText(err error) string {
	if errors.Is(err, context.Canceled) {
		return "interrupted"
	}
	return err.Error()
}

// usageError is a mistake on the command line. It makes run print a hint to
// the command's help and exit with exitUsage.
type usageError struct {
	cmd *cobra.Command
	err error
}

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usageError for cmd.
func usagef(cmd *cobra.Command, format string, args ...any) error {
	return usageError{cmd: cmd, err: fmt.Errorf(format, args...)}
}

// noSubcommand is the Args check of commands that only group subcommands:
// an argument there is a mistyped subcommand.
func noSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef(cmd, "unknown command %q for %q", args[0], cmd.CommandPath())
	}
	return nil
}

// showHelp is the RunE of commands that only group subcommands.
func showHelp(cmd *cobra.Command, _ []string) error { return cmd.Help() }

// exactArgs requires exactly one argument per name, named in the message.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return usagef(cmd, "%s takes %d argument(s): %s (got %d)",
				cmd.CommandPath(), len(names), strings.Join(names, " "), len(args))
		}
		return nil
	}
}

// minArgs requires at least n arguments, describing them as name.
func minArgs(n int, name string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return usagef(cmd, "%s needs at least %d %s", cmd.CommandPath(), n, name)
		}
		return nil
	}
}
