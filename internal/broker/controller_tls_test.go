package broker_test

// The CONTROLLER listener as SSL with ssl.client.auth=required: the metadata quorum,
// broker registrations and heartbeats go over mutual TLS, and a node whose certificate
// the cluster's CA did not sign never joins.

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/broker"
	"github.com/nagare-dev/nagare/internal/brokertest"
	"github.com/nagare-dev/nagare/internal/testcert"
)

// quorumCA is a CA written as PEM for one test, issuing node keystores. A node's one
// certificate serves both sides of the controller listener, so it allows both server and
// client authentication, as a Kafka broker's keystore must for mutual TLS.
type quorumCA struct {
	*testcert.CA
	caFile string // ssl.truststore.location
	dir    string
}

func newQuorumCA(t *testing.T, name string) *quorumCA {
	t.Helper()
	ca := &quorumCA{CA: testcert.NewCA(t, name), dir: t.TempDir()}
	ca.caFile = filepath.Join(ca.dir, "ca.pem")
	ca.WriteTruststore(t, ca.caFile)
	return ca
}

// keystore writes a node's key and certificate chain (for 127.0.0.1) and returns its path:
// ssl.keystore.location.
func (ca *quorumCA) keystore(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join(ca.dir, name+".pem")
	ca.Issue(t, pkix.Name{CommonName: name}, testcert.ServerAndClient, "127.0.0.1").WriteKeystore(t, path)
	return path
}

// TestControllerListenerSSL runs three nodes whose CONTROLLER listener is SSL with client
// certificates required: they form the quorum, register (forwarded to the leader over
// TLS), and serve an RF 3 topic; the controller port refuses plaintext and TLS without a
// trusted certificate; a broker-only node whose certificate another CA signed (though it
// trusts the cluster's CA) cannot start and is never listed as a broker.
func TestControllerListenerSSL(t *testing.T) {
	ca := newQuorumCA(t, "quorum CA")
	keystore := ca.keystore(t, "node")
	brokers := brokertest.StartCluster(t, 3,
		brokertest.WithControllerProtocol("SSL"),
		brokertest.WithProperties(map[string]string{
			"listener.name.controller.ssl.keystore.location":   keystore,
			"listener.name.controller.ssl.truststore.location": ca.caFile,
			"listener.name.controller.ssl.client.auth":         "required",
			"replica.lag.time.max.ms":                          "1000",
		}))
	adm := kadm.NewClient(brokers[0].Client())
	three := "3"
	resp, err := adm.CreateTopic(testContext(t), 3, 3, map[string]*string{"min.insync.replicas": &three}, "quorum-tls")
	if err != nil || resp.Err != nil {
		t.Fatalf("create topic: %v %v", err, resp.Err)
	}
	p := brokers[1].Client(kgo.DefaultProduceTopic("quorum-tls"))
	for i := range 30 {
		if err := p.ProduceSync(testContext(t), &kgo.Record{Value: fmt.Appendf(nil, "r%d", i)}).FirstErr(); err != nil {
			t.Fatalf("acks=all produce %d: %v", i, err)
		}
	}
	c := brokers[2].Client(kgo.ConsumeTopics("quorum-tls"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if got := pollValues(t, c, 30); len(got) != 30 {
		t.Fatalf("consumed %d records, want 30", len(got))
	}

	controllerAddr := brokers[0].MetadataStore().Addr()
	refusedOnController(t, "plaintext", func() (net.Conn, error) { return net.Dial("tcp", controllerAddr) })
	refusedOnController(t, "TLS without a client certificate", func() (net.Conn, error) {
		return tls.Dial("tcp", controllerAddr, &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS12})
	})

	rogue := newQuorumCA(t, "rogue CA").keystore(t, "rogue")
	startRogue(t, brokers, rogue, ca.caFile)
	raw, err := brokers[0].Client().Request(testContext(t), kmsg.NewPtrDescribeClusterRequest())
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range raw.(*kmsg.DescribeClusterResponse).Brokers {
		if b.NodeID == 4 {
			t.Fatalf("node 4, whose certificate the cluster does not trust, is a registered broker: %+v", b)
		}
	}
	for _, b := range brokers {
		if _, ok := b.MetadataStore().Image().Broker(4); ok {
			t.Fatal("node 4, whose certificate the cluster does not trust, is in the metadata image")
		}
		if !b.MetadataStore().IsLeader() {
			continue
		}
		voters, observers, err := b.MetadataStore().QuorumNodes()
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(observers, 4) || slices.Contains(voters, 4) {
			t.Fatalf("the quorum admitted node 4, whose certificate it does not trust: voters %v, observers %v", voters, observers)
		}
	}
}

// refusedOnController dials the controller listener, speaks raft's first byte and some
// more, and expects the connection closed rather than answered or left open.
func refusedOnController(t *testing.T, what string, dial func() (net.Conn, error)) {
	t.Helper()
	c, err := dial()
	if err != nil {
		return // refused at the handshake
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = c.Write(make([]byte, 16))
	var b [1]byte
	_, err = c.Read(b[:])
	var ne net.Error
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("%s: the controller listener did not close the connection: %v", what, err)
	}
}

// startRogue starts a broker-only node 4 with the cluster's voters and a certificate
// from another CA, and expects it not to start: it cannot join the quorum, so it never
// becomes ready.
func startRogue(t *testing.T, cluster []*brokertest.Broker, keystore, truststore string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	var voters []string
	for i, b := range cluster { // node.id i+1; a voter's raft address is its voter entry
		voters = append(voters, fmt.Sprintf("%d@%s", i+1, b.MetadataStore().Addr()))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	b, err := broker.Start(ctx, broker.Config{DataDir: t.TempDir(), Logger: logger, Properties: map[string]string{
		"node.id":                        "4",
		"process.roles":                  "broker",
		"controller.quorum.voters":       strings.Join(voters, ","),
		"controller.listener.names":      "CONTROLLER",
		"listeners":                      fmt.Sprintf("PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:%d", port),
		"listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:SSL",
		"listener.name.controller.ssl.keystore.location":   keystore,
		"listener.name.controller.ssl.truststore.location": truststore,
		"listener.name.controller.ssl.client.auth":         "required",
	}})
	if err == nil {
		_ = b.Shutdown(context.Background())
		t.Fatal("a broker whose certificate the cluster does not trust started")
	}
	// Not any start failure: it configured, listened and waited to join, in vain.
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the untrusted broker failed for another reason than not being let in: %v", err)
	}
	t.Logf("untrusted broker refused: %v", err)
}

// An SSL controller listener that would admit peers other than the cluster's nodes is
// refused at start: without required client certificates, or with only the broker-wide
// truststore (which usually trusts ordinary clients' CA).
func TestControllerListenerSSLRequiresClientAuthAndOwnTruststore(t *testing.T) {
	ca := newQuorumCA(t, "quorum CA")
	keystore := ca.keystore(t, "node")
	base := map[string]string{
		"node.id":                        "1",
		"process.roles":                  "broker,controller",
		"controller.quorum.voters":       "1@127.0.0.1:1",
		"controller.listener.names":      "CONTROLLER",
		"listeners":                      "PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0",
		"listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:SSL",
		"listener.name.controller.ssl.keystore.location": keystore,
	}
	for _, tc := range []struct {
		name, want string
		props      map[string]string
	}{
		{"client auth none", "ssl.client.auth=required", map[string]string{
			"listener.name.controller.ssl.truststore.location": ca.caFile}},
		{"client auth requested", "ssl.client.auth=required", map[string]string{
			"listener.name.controller.ssl.truststore.location": ca.caFile,
			"listener.name.controller.ssl.client.auth":         "requested"}},
		{"broker-wide truststore", "listener.name.controller.ssl.truststore.location", map[string]string{
			"ssl.truststore.location":                  ca.caFile,
			"listener.name.controller.ssl.client.auth": "required"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			props := maps.Clone(base)
			maps.Copy(props, tc.props)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			b, err := broker.Start(ctx, broker.Config{DataDir: t.TempDir(), Properties: props,
				Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))})
			if err == nil {
				_ = b.Shutdown(context.Background())
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not name %s", err, tc.want)
			}
		})
	}
}
