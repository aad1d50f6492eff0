package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// defaultBootstrap is where `nagare serve` listens by default.
const defaultBootstrap = "127.0.0.1:9092"

// clientFlags are the connection flags that every client command shares
// (--bootstrap, --client-id, --timeout). A command group registers one set
// as persistent flags, so `nagare topic --bootstrap h:9092 list` and
// `nagare topic list --bootstrap h:9092` both work. They are not on the
// root, where `nagare serve` would inherit them.
type clientFlags struct {
	bootstrap string        // comma-separated host:port seeds
	clientID  string        // client.id on every request
	timeout   time.Duration // bound on admin calls and on record delivery
	security  securityFlags // SASL and TLS (client_security.go)
}

func (f *clientFlags) register(fs *pflag.FlagSet, clientID string) {
	fs.StringVar(&f.bootstrap, "bootstrap", defaultBootstrap,
		"comma-separated host:port list of brokers to bootstrap from")
	fs.StringVar(&f.clientID, "client-id", clientID,
		"client.id sent with every request (brokers use it in quotas, logs and metrics)")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second,
		"give up when the cluster has not answered within this long")
	f.security.register(fs)
}

// validate checks the flags before anything is sent.
func (f *clientFlags) validate(cmd *cobra.Command) error {
	if _, err := f.seeds(); err != nil {
		return usageError{cmd: cmd, err: err}
	}
	if f.timeout <= 0 {
		return usagef(cmd, "--timeout must be positive, got %s", f.timeout)
	}
	if _, err := f.security.opts(); err != nil {
		return usageError{cmd: cmd, err: err}
	}
	return nil
}

func (f *clientFlags) seeds() ([]string, error) {
	var seeds []string
	for s := range strings.SplitSeq(f.bootstrap, ",") {
		if s = strings.TrimSpace(s); s != "" {
			seeds = append(seeds, s)
		}
	}
	if len(seeds) == 0 {
		return nil, errors.New("--bootstrap needs at least one host:port")
	}
	return seeds, nil
}

// newClient returns a franz-go client for the flags, with opts added.
func (f *clientFlags) newClient(opts ...kgo.Opt) (*kgo.Client, error) {
	seeds, err := f.seeds()
	if err != nil {
		return nil, err
	}
	base := []kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.ClientID(f.clientID),
		kgo.DialTimeout(min(f.timeout, 10*time.Second)),
	}
	security, err := f.security.opts()
	if err != nil {
		return nil, err
	}
	base = append(base, security...)
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("client options: %w", err)
	}
	return cl, nil
}

// newAdmin returns an admin client; closing it closes its franz-go client.
// Broker-side timeouts of CreateTopics and DeleteTopics follow --timeout.
func (f *clientFlags) newAdmin() (*kadm.Client, error) {
	cl, err := f.newClient()
	if err != nil {
		return nil, err
	}
	return f.adminFor(cl), nil
}

// adminFor wraps a franz-go client as an admin client with --timeout as the
// broker-side timeout.
func (f *clientFlags) adminFor(cl *kgo.Client) *kadm.Client {
	adm := kadm.NewClient(cl)
	adm.SetTimeoutMillis(int32(min(f.timeout, time.Hour).Milliseconds()))
	return adm
}

// openAdmin is the preamble every admin command shares: an admin client, a
// context bounded by --timeout, and one function that releases both.
func (f *clientFlags) openAdmin(ctx context.Context) (*kadm.Client, context.Context, func(), error) {
	adm, err := f.newAdmin()
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := f.withTimeout(ctx)
	return adm, ctx, func() { cancel(); adm.Close() }, nil
}

// withTimeout bounds one exchange with the cluster by --timeout.
func (f *clientFlags) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, f.timeout)
}

// explain rewrites errors whose raw text would puzzle an operator. A
// deadline usually means nothing answered at the bootstrap address.
func (f *clientFlags) explain(err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	var usage usageError
	if errors.As(err, &usage) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no answer from the cluster at %s within %s (is a broker listening there?): %w",
			f.bootstrap, f.timeout, err)
	}
	var dialErr *net.OpError
	if errors.As(err, &dialErr) && dialErr.Op == "dial" {
		if dialErr.Addr != nil && dialErr.Addr.String() != f.bootstrap {
			return fmt.Errorf("cannot connect to %v (from --bootstrap %s): %v", dialErr.Addr, f.bootstrap, dialErr.Err)
		}
		return fmt.Errorf("cannot connect to %s: %v", f.bootstrap, dialErr.Err)
	}
	if errors.Is(err, kerr.SaslAuthenticationFailed) {
		return fmt.Errorf("the cluster at %s refused the SASL credentials (--sasl-mechanism, --sasl-user, --sasl-password): %w", f.bootstrap, err)
	}
	if errors.Is(err, kerr.IllegalSaslState) || errors.Is(err, kerr.UnsupportedSaslMechanism) {
		return fmt.Errorf("the listener at %s does not take this SASL setup (check --sasl-mechanism, and that the listener is SASL_*): %w", f.bootstrap, err)
	}
	return err
}

// topicError names the topic and the action in err, and turns the two Kafka
// codes an operator meets most into plain words.
func topicError(action, topic string, err error, brokerMessage string) error {
	switch {
	case errors.Is(err, kerr.UnknownTopicOrPartition), errors.Is(err, kerr.UnknownTopicID):
		return fmt.Errorf("topic %q does not exist", topic)
	case errors.Is(err, kerr.TopicAlreadyExists):
		return fmt.Errorf("topic %q already exists", topic)
	}
	var kafkaErr *kerr.Error
	if brokerMessage != "" && errors.As(err, &kafkaErr) && !strings.Contains(kafkaErr.Description, brokerMessage) {
		// The broker's own message says which config or limit it rejected.
		return fmt.Errorf("%s topic %q: %w (broker says: %s)", action, topic, err, brokerMessage)
	}
	return fmt.Errorf("%s topic %q: %w", action, topic, err)
}

// parseKeyValue splits "key=value" at the first '='.
func parseKeyValue(flag, s string) (key, value string, err error) {
	key, value, ok := strings.Cut(s, "=")
	if !ok || key == "" {
		return "", "", fmt.Errorf("%s wants key=value, got %q", flag, s)
	}
	return key, value, nil
}
