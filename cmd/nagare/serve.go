package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/nagare-dev/nagare/internal/auth"
	"github.com/nagare-dev/nagare/internal/broker"
	"github.com/nagare-dev/nagare/internal/config"
)

// addServe registers `nagare serve`, the broker itself.
func addServe(root *cobra.Command) { root.AddCommand(newServeCommand()) }

// serveOptions are serve's flags; they mirror DESIGN.md's contract.
type serveOptions struct {
	dataDir    string
	listen     string
	http       string
	configFile string
	sets       []string
	shutdown   time.Duration
	pprof      bool
	addScram   []string // --add-scram, kafka-storage's syntax
}

func newServeCommand() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a Nagare broker",
		Long: `Run a Nagare broker. With no flags it is a development broker: data in ./data, the
Kafka listener on 127.0.0.1:9092 and HTTP (/metrics, /healthz, /readyz, /v1/clients; /debug/pprof with --pprof) on
127.0.0.1:9644.
Broker settings use Kafka's config names, from a properties file (--config) and repeated
--set key=value (which win over the file). SIGTERM or SIGINT stops it gracefully.`,
		Example: `  nagare serve
  nagare serve --data-dir /var/lib/nagare --listen 0.0.0.0:9092 --set num.partitions=6
  nagare serve --config server.properties --set log.retention.ms=3600000
  nagare serve --set listeners=SASL_PLAINTEXT://127.0.0.1:9092 \
      --add-scram 'SCRAM-SHA-256=[name=admin,password=admin-secret]'`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef(cmd, "serve takes no arguments, got %q", args)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return runServe(cmd, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.dataDir, "data-dir", "./data", "data directory (Kafka's log.dirs)")
	f.StringVar(&o.listen, "listen", "127.0.0.1:9092", "Kafka listener address (overrides listeners)")
	f.StringVar(&o.http, "http", "127.0.0.1:9644", `HTTP address for /metrics, /healthz, /readyz, /v1/clients ("" disables)`)
	f.StringVar(&o.configFile, "config", "", "broker properties file, Kafka style")
	f.StringArrayVar(&o.sets, "set", nil, "broker config key=value, Kafka's names (repeatable)")
	f.DurationVar(&o.shutdown, "shutdown-timeout", 30*time.Second, "how long a graceful shutdown may take")
	f.BoolVar(&o.pprof, "pprof", false, "also serve Go's /debug/pprof profiles on the --http address")
	f.StringArrayVar(&o.addScram, "add-scram", nil,
		`create a SCRAM credential at start if the user has none, as kafka-storage format --add-scram: `+
			`'SCRAM-SHA-256=[name=admin,password=admin-secret]' (also iterations=, salt=; repeatable)`)
	return cmd
}

func runServe(cmd *cobra.Command, o serveOptions) error {
	props, err := serveProperties(o)
	if err != nil {
		return usageError{cmd: cmd, err: err}
	}
	cfg := broker.Config{Properties: props, HTTP: o.http, PProf: o.pprof, TuneRuntime: true, Logger: slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))}
	for _, s := range o.addScram {
		spec, err := auth.ParseScramSpec(s)
		if err != nil {
			return usagef(cmd, "--add-scram: %v", err)
		}
		cfg.AddScram = append(cfg.AddScram, spec)
	}
	// Flags win over the file only when given, or when the file does not set them.
	if cmd.Flags().Changed("data-dir") || (props["log.dirs"] == "" && props["log.dir"] == "") {
		cfg.DataDir = o.dataDir
	}
	if cmd.Flags().Changed("listen") || props["listeners"] == "" {
		cfg.Listen = o.listen
	}
	raiseFileLimit(cfg.Logger)
	ctx := cmd.Context()
	b, err := broker.Start(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "nagare: serving Kafka on %s, data in %s\n", b.Addr(), b.DataDir())
	<-ctx.Done()
	stopCtx, cancel := context.WithTimeout(context.Background(), o.shutdown)
	defer cancel()
	return b.Shutdown(stopCtx)
}

// serveProperties reads --config then applies each --set on top.
func serveProperties(o serveOptions) (map[string]string, error) {
	props := map[string]string{}
	if o.configFile != "" {
		f, err := os.Open(o.configFile)
		if err != nil {
			return nil, fmt.Errorf("config file: %w", err)
		}
		defer f.Close()
		if props, err = config.ParseProperties(f); err != nil {
			return nil, fmt.Errorf("config file %s: %w", o.configFile, err)
		}
	}
	if err := applySets(props, o.sets, "--set"); err != nil {
		return nil, err
	}
	return props, nil
}

// applySets puts each key=value of sets, the values of the repeatable flag named flag,
// into props.
func applySets(props map[string]string, sets []string, flag string) error {
	for _, kv := range sets {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return fmt.Errorf("%s %q: want key=value", flag, kv)
		}
		props[strings.TrimSpace(k)] = v
	}
	return nil
}

// raiseFileLimit lifts the open-file soft limit to the hard limit: every segment keeps
// three descriptors open, so a broker with many partitions needs far more than 1024.
func raiseFileLimit(logger *slog.Logger) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || lim.Cur >= lim.Max {
		return
	}
	lim.Cur = lim.Max
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		logger.Warn("could not raise the open file limit", "err", err)
	}
}
