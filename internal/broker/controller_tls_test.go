package broker_test

// The CONTROLLER listener as SSL with ssl.client.auth=required: the metadata quorum,
// broker registrations and heartbeats go over mutual TLS, and a node whose certificate
// the cluster's CA did not sign never joins.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/big"
	"net"
	"os"
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
)

// quorumCA is a CA written as PEM for one test, issuing node keystores. A node's one
// certificate serves both sides of the controller listener, so it allows both server and
// client authentication, as a Kafka broker's keystore must for mutual TLS.
type quorumCA struct {
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	caFile string // ssl.truststore.location
	dir    string
}

func newQuorumCA(t *testing.T, name string) *quorumCA {
	t.Helper()
	key := quorumKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &quorumCA{cert: cert, key: key, dir: t.TempDir()}
	ca.caFile = filepath.Join(ca.dir, "ca.pem")
	writePEM(t, ca.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	return ca
}

// keystore writes a node's key and certificate (for 127.0.0.1) and returns its path:
// ssl.keystore.location.
func (ca *quorumCA) keystore(t *testing.T, name string, serial int64) string {
	t.Helper()
	key := quorumKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(ca.dir, name+".pem")
	writePEM(t, path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	return path
}

func quorumKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func writePEM(t *testing.T, path string, parts ...[]byte) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strings.Join(func() []string {
		var s []string
		for _, p := range parts {
			s = append(s, string(p))
		}
		return s
	}(), "")), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestControllerListenerSSL runs three nodes whose CONTROLLER listener is SSL with client
// certificates required: they form the quorum, register (forwarded to the leader over
// TLS), and serve an RF 3 topic; the controller port refuses plaintext and TLS without a
// trusted certificate; a broker-only node whose certificate another CA signed (though it
// trusts the cluster's CA) cannot start and is never listed as a broker.
func TestControllerListenerSSL(t *testing.T) {
	ca := newQuorumCA(t, "quorum CA")
	keystore := ca.keystore(t, "node", 2)
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
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	refusedOnController(t, "TLS without a client certificate", func() (net.Conn, error) {
		return tls.Dial("tcp", controllerAddr, &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12})
	})

	rogue := newQuorumCA(t, "rogue CA").keystore(t, "rogue", 3)
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
	t.Logf("untrusted broker refused: %v", err)
}

// An SSL controller listener that would admit peers other than the cluster's nodes is
// refused at start: without required client certificates, or with only the broker-wide
// truststore (which usually trusts ordinary clients' CA).
func TestControllerListenerSSLRequiresClientAuthAndOwnTruststore(t *testing.T) {
	ca := newQuorumCA(t, "quorum CA")
	keystore := ca.keystore(t, "node", 2)
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
