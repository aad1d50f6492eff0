package broker_test

// Brokers talking to each other over a SASL_SSL inter-broker listener: replica fetchers
// (their own connection, SASL driven by hand), transaction markers (franz-go clients)
// and what a wrong inter-broker password looks like.

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nagare-dev/nagare/internal/auth"
	"github.com/nagare-dev/nagare/internal/brokertest"
)

const adminPassword = "admin-secret"

// startSASLSSLCluster starts three brokers whose only Kafka listener is SASL_SSL with
// SCRAM-SHA-512, User:admin a super user and the inter-broker user; password gives each
// node's inter-broker password, log each node's logger (nil: discarded).
func startSASLSSLCluster(t *testing.T, password func(node string) string, log func(node string) *slog.Logger) ([]*brokertest.Broker, *brokertest.TLSFiles) {
	t.Helper()
	files := brokertest.NewTLSFiles(t)
	spec, err := auth.ParseScramSpec("SCRAM-SHA-512=[name=admin,iterations=4096,password=" + adminPassword + "]")
	if err != nil {
		t.Fatal(err)
	}
	opts := []brokertest.Option{
		brokertest.WithSecurityProtocol("SASL_SSL"),
		brokertest.WithAddScram(spec),
		brokertest.WithProperties(map[string]string{
			"ssl.keystore.location":                files.KeystoreFile,
			"ssl.truststore.location":              files.CAFile,
			"sasl.enabled.mechanisms":              "SCRAM-SHA-512",
			"sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
			"super.users":                          "User:admin",
			"replica.lag.time.max.ms":              "1000",
			"replica.fetch.backoff.ms":             "100",
			"transaction.state.log.num.partitions": "3",
			"offsets.topic.num.partitions":         "3",
		}),
		brokertest.WithNodeProperties(func(node int) map[string]string {
			return map[string]string{"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": fmt.Sprintf(
				`org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="%s";`,
				password(fmt.Sprint(node)))}
		}),
	}
	if log != nil {
		opts = append(opts, brokertest.WithLogger(log))
	}
	return brokertest.StartCluster(t, 3, opts...), files
}

// adminClient is a SCRAM-SHA-512 admin client of the cluster over SASL_SSL.
func adminClient(t *testing.T, brokers []*brokertest.Broker, files *brokertest.TLSFiles, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	var seeds []string
	for _, b := range brokers {
		seeds = append(seeds, b.Addr())
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...),
		kgo.DialTLSConfig(files.ClientConfig(false)), kgo.SASL(scram512("admin", adminPassword))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// createOnThree creates topic with three partitions on all three brokers.
func createOnThree(t *testing.T, adm *kadm.Client, topic string, configs map[string]*string) {
	t.Helper()
	resp, err := adm.CreateTopic(testContext(t), 3, 3, configs, topic)
	if err != nil || resp.Err != nil {
		t.Fatalf("create %s: %v %v", topic, err, resp.Err)
	}
}

func TestInterBrokerSASLSSL(t *testing.T) {
	brokers, files := startSASLSSLCluster(t, func(string) string { return adminPassword }, nil)
	adm := kadm.NewClient(adminClient(t, brokers, files))
	// min.insync.replicas=3: an acks=all produce is answered only once both followers
	// have fetched it over SASL_SSL.
	three := "3"
	createOnThree(t, adm, "ib", map[string]*string{"min.insync.replicas": &three})

	p := adminClient(t, brokers, files, kgo.DefaultProduceTopic("ib"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx := testContext(t)
	for i := range 30 {
		r := &kgo.Record{Value: fmt.Appendf(nil, "r%d", i), Partition: int32(i % 3)}
		if err := p.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("acks=all produce %d: %v", i, err)
		}
	}
	c := adminClient(t, brokers, files, kgo.ConsumeTopics("ib"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if got := pollValues(t, c, 30); len(got) != 30 {
		t.Fatalf("consumed %d records, want 30", len(got))
	}

	// A transaction over the three partitions: at least two are led by brokers other
	// than the coordinator's, so its markers travel over SASL_SSL.
	tp := adminClient(t, brokers, files, kgo.TransactionalID("ib-tx"), kgo.DefaultProduceTopic("ib"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := tp.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := tp.ProduceSync(ctx, &kgo.Record{Value: []byte("tx"), Partition: int32(i)}).FirstErr(); err != nil {
			t.Fatalf("transactional produce: %v", err)
		}
	}
	if err := tp.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("commit: %v", err)
	}
	waitFor(t, 10*time.Second, func() bool { return describeTxn(t, tp, "ib-tx").State == "CompleteCommit" },
		func() string { return "transaction ib-tx in CompleteCommit" })
	rc := adminClient(t, brokers, files, kgo.ConsumeTopics("ib"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if got := pollValues(t, rc, 33); len(got) != 33 {
		t.Fatalf("read_committed saw %d records, want 33", len(got))
	}
}

func TestInterBrokerWrongPassword(t *testing.T) {
	var logs syncBuffer
	brokers, files := startSASLSSLCluster(t,
		func(node string) string {
			if node == "3" {
				return "wrong"
			}
			return adminPassword
		},
		func(node string) *slog.Logger {
			if node != "3" {
				return slog.New(slog.DiscardHandler)
			}
			return slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
		})
	adm := kadm.NewClient(adminClient(t, brokers, files))
	createOnThree(t, adm, "bad", nil)
	// acks=1: the leaders take the records and broker 3, unable to fetch them, falls
	// behind and out of the ISR of every partition it does not lead.
	p := adminClient(t, brokers, files, kgo.DefaultProduceTopic("bad"), kgo.RequiredAcks(kgo.LeaderAck()),
		kgo.DisableIdempotentWrite(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range 3 {
		if err := p.ProduceSync(testContext(t), &kgo.Record{Value: []byte("x"), Partition: int32(i)}).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	waitFor(t, 15*time.Second, func() bool { return followerOutOfISR(t, adm, "bad", 3) },
		func() string { return "broker 3 out of the ISR of the partitions it follows" })
	waitFor(t, 5*time.Second, func() bool { return strings.Contains(logs.String(), "inter-broker authentication failed") },
		func() string { return "an authentication failure in broker 3's log: " + logs.String() })
}

// followerOutOfISR reports whether node is in no ISR of topic's partitions led by others.
func followerOutOfISR(t *testing.T, adm *kadm.Client, topic string, node int32) bool {
	t.Helper()
	td, err := adm.ListTopics(testContext(t), topic)
	if err != nil {
		return false
	}
	followed := 0
	for _, pd := range td[topic].Partitions {
		if pd.Leader == node {
			continue
		}
		followed++
		if slices.Contains(pd.ISR, node) {
			return false
		}
	}
	return followed > 0
}

// pollValues polls until want records or 10 s pass, and returns their values.
func pollValues(t *testing.T, cl *kgo.Client, want int) []string {
	t.Helper()
	var out []string
	deadline := time.Now().Add(10 * time.Second)
	for len(out) < want && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) { out = append(out, string(r.Value)) })
	}
	return out
}
