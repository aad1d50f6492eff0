// Command nagare is the Nagare broker and its command-line tool: `nagare serve`
// runs a broker, and the other subcommands (topic, produce, consume, bench)
// are Kafka clients that work against any Kafka-compatible cluster.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// SIGINT and SIGTERM cancel the context: `consume --follow` stops cleanly,
	// other commands give up with "interrupted".
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
