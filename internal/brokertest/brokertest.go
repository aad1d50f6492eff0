// Package brokertest starts real Nagare brokers for tests: in-process on a loopback port
// with a temporary data dir, plus franz-go clients pointed at them. Everything started
// is stopped by t.Cleanup.
package brokertest

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nagare-dev/nagare/internal/auth"
	"github.com/nagare-dev/nagare/internal/broker"
)

// Broker is a test broker and what a test needs to reach it.
type Broker struct {
	*broker.Broker
	t       testing.TB
	dataDir string
	props   map[string]string
	http    bool // serve the HTTP endpoint on a loopback port (WithHTTP)
	// addScram are credentials created at start (WithAddScram).
	addScram []auth.ScramSpec
	// nodeProps are per-node configs of a cluster (WithNodeProperties).
	nodeProps func(nodeID int) map[string]string
	// controllers is how many nodes of a cluster are controller-only (WithControllers).
	controllers int
	// clientListeners are extra PLAINTEXT listener names of a cluster's brokers
	// (WithClientListener).
	clientListeners []string
	// protocol is the security protocol of a cluster broker's listener
	// (WithSecurityProtocol); empty is PLAINTEXT.
	protocol string
	// controllerProtocol is the security protocol of a cluster node's CONTROLLER listener
	// (WithControllerProtocol); empty is PLAINTEXT.
	controllerProtocol string
	// log, when set, receives the broker's logs (WithLogger).
	log func(nodeID string) *slog.Logger
}

// Option adjusts a test broker before it starts.
type Option func(*Broker)

// WithProperties sets broker configs by Kafka name.
func WithProperties(props map[string]string) Option {
	return func(b *Broker) {
		for k, v := range props {
			b.props[k] = v
		}
	}
}

// WithNodeProperties sets configs that differ between the nodes of a StartCluster
// (broker.rack, ...): props(node.id) is applied after the shared ones.
func WithNodeProperties(props func(nodeID int) map[string]string) Option {
	return func(b *Broker) { b.nodeProps = props }
}

// WithHTTP serves the broker's HTTP endpoint (/metrics, /v1/clients, ...) on a random
// loopback port; HTTPAddr reports it.
func WithHTTP() Option { return func(b *Broker) { b.http = true } }

// WithAddScram creates SCRAM credentials at start, as nagare serve --add-scram does.
func WithAddScram(specs ...auth.ScramSpec) Option {
	return func(b *Broker) { b.addScram = append(b.addScram, specs...) }
}

// WithLogger sends each broker's logs to the logger log returns for its node.id (""
// for a single broker without one), for tests that check what a broker says.
func WithLogger(log func(nodeID string) *slog.Logger) Option {
	return func(b *Broker) { b.log = log }
}

// logger is the broker's logger: WithLogger's, else testLogger.
func (b *Broker) logger() *slog.Logger {
	if b.log != nil {
		return b.log(b.props["node.id"])
	}
	return testLogger()
}

// WithDataDir reuses a data dir, for restart tests.
func WithDataDir(dir string) Option { return func(b *Broker) { b.dataDir = dir } }

// Start starts a broker on 127.0.0.1 with a random port and registers its shutdown.
func Start(t testing.TB, opts ...Option) *Broker {
	t.Helper()
	b := &Broker{t: t, props: map[string]string{}}
	for _, o := range opts {
		o(b)
	}
	if b.dataDir == "" {
		b.dataDir = t.TempDir()
	}
	b.start()
	t.Cleanup(func() { b.Stop() })
	return b
}

func (b *Broker) start() {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := broker.Config{Properties: b.props, DataDir: b.dataDir, Listen: "127.0.0.1:0", Logger: b.logger()}
	if b.http {
		cfg.HTTP = "127.0.0.1:0"
	}
	if b.props["listeners"] != "" {
		cfg.Listen = "" // the test chose its listeners (TLS, SASL); see ListenerAddr
	}
	cfg.AddScram = b.addScram
	br, err := broker.Start(ctx, cfg)
	if err != nil {
		b.t.Fatalf("start broker: %v", err)
	}
	b.Broker = br
}

// Stop shuts the broker down gracefully; safe to call more than once.
func (b *Broker) Stop() {
	if b.Broker == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Broker.Shutdown(ctx); err != nil {
		b.t.Errorf("shutdown broker: %v", err)
	}
	b.Broker = nil
}

// Restart stops the broker cleanly and starts it again on the same data dir (and a new
// port; clients must be recreated).
func (b *Broker) Restart() {
	b.t.Helper()
	b.Stop()
	b.start()
}

// DataDir is the broker's data dir.
func (b *Broker) DataDir() string { return b.dataDir }

// Client returns a franz-go client for the broker, closed at cleanup.
func (b *Broker) Client(opts ...kgo.Opt) *kgo.Client {
	b.t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(b.Addr())}, opts...)...)
	if err != nil {
		b.t.Fatalf("client: %v", err)
	}
	b.t.Cleanup(cl.Close)
	return cl
}

// Admin returns a kadm client for the broker, closed at cleanup.
func (b *Broker) Admin() *kadm.Client { return kadm.NewClient(b.Client()) }

// testLogger keeps broker logs out of test output unless NAGARE_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("NAGARE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
