package metadata

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/nagare-dev/nagare/internal/testcert"
)

// nodeTLS is a node's TransportTLS: a certificate for 127.0.0.1 signed by ca, valid for
// both TLS server and client use (one certificate serves a node's both sides of the
// controller listener), trusting trusted, and requiring client certificates
// (ssl.client.auth=required).
func nodeTLS(t testing.TB, ca *testcert.CA, trusted *x509.CertPool) *TransportTLS {
	t.Helper()
	cert := ca.Issue(t, pkix.Name{CommonName: "node"}, testcert.ServerAndClient, "127.0.0.1").TLSCertificate()
	return &TransportTLS{
		Server: &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: trusted,
			ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12},
		Client: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: trusted, MinVersion: tls.VersionTLS12},
	}
}

// TestClusterQuorumTLS runs a three-voter quorum over mutual TLS: it elects a leader,
// takes a proposal forwarded from a follower (the forwarding protocol over TLS), lets a
// broker-only node with a good certificate join, and never admits one whose certificate
// another CA signed, though that node trusts the cluster's CA.
func TestClusterQuorumTLS(t *testing.T) {
	baseline := runtime.NumGoroutine()
	ca := testcert.NewCA(t, "cluster CA")
	addrs := freeAddrs(t, 5)
	voters := map[int32]string{1: addrs[0], 2: addrs[1], 3: addrs[2]}
	stores := map[int32]*Store{}
	defer func() {
		for _, s := range stores {
			s.Close()
		}
	}()
	for id := int32(1); id <= 3; id++ {
		cfg := clusterConfig(t, t.TempDir(), id, voters[id], voters)
		cfg.TLS = nodeTLS(t, ca, ca.Pool)
		s, err := Open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		stores[id] = s
	}
	ready(t, stores)
	leader := leaderOf(t, stores)
	follower := stores[leader%3+1]
	propose(t, follower, RegisterBroker{NodeID: 1, Host: "127.0.0.1", Port: 9092})
	propose(t, follower, CreateTopic{Name: "over-tls", TopicID: NewTopicID(), Partitions: []PartitionAssignment{assignment(0, 1)}})

	good := clusterConfig(t, t.TempDir(), 4, addrs[3], voters)
	good.TLS = nodeTLS(t, ca, ca.Pool)
	observer, err := Open(good)
	if err != nil {
		t.Fatal(err)
	}
	stores[4] = observer
	ready(t, map[int32]*Store{4: observer})
	if !hasTopic(observer, "over-tls") {
		t.Fatal("broker-only node is ready without the quorum's topic")
	}

	rogueCA := testcert.NewCA(t, "rogue CA")
	bad := clusterConfig(t, t.TempDir(), 5, addrs[4], voters)
	bad.TLS = nodeTLS(t, rogueCA, ca.Pool) // trusts the cluster, but the cluster does not trust it
	rogue, err := Open(bad)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	err = rogue.WaitReady(ctx)
	cancel()
	rogue.Close()
	if err == nil {
		t.Fatal("a node with a certificate from another CA became ready")
	}
	if hasTopic(rogue, "over-tls") {
		t.Fatal("a node with a certificate from another CA received the metadata log")
	}
	future := stores[leaderOf(t, stores)].raft.GetConfiguration()
	if err := future.Error(); err != nil {
		t.Fatal(err)
	}
	for _, srv := range future.Configuration().Servers {
		if srv.ID == "5" {
			t.Fatalf("the quorum admitted node 5, whose certificate it does not trust: %+v", future.Configuration().Servers)
		}
	}

	for id, s := range stores {
		s.Close()
		delete(stores, id)
	}
	checkGoroutines(t, baseline)
}

// TestTransportTLSRefusesUntrusted checks the server side alone: a plaintext peer and a
// TLS peer without a certificate the truststore verifies never reach raft's Accept.
func TestTransportTLSRefusesUntrusted(t *testing.T) {
	ca := testcert.NewCA(t, "cluster CA")
	cfg := testConfig(t, t.TempDir())
	stream, err := newMuxStream("127.0.0.1:0", nil, nodeTLS(t, ca, ca.Pool), cfg.Logger, func(net.Conn) {})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.wait()
	defer stream.Close()
	addr := stream.ln.Addr().String()

	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := stream.Accept(); err == nil {
			accepted <- c
		}
	}()
	refused := func(what string, dial func() (net.Conn, error)) {
		t.Helper()
		c, err := dial()
		if err != nil {
			return // refused at the handshake
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		// raft's AppendEntries RPC type and more: a TLS server waits for a whole record header.
		_, _ = c.Write(make([]byte, 16))
		var b [1]byte
		if _, err := c.Read(b[:]); err == nil {
			t.Fatalf("%s: the controller listener answered", what)
		} else if ne := (net.Error)(nil); errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("%s: the connection stayed open: %v", what, err)
		}
	}
	refused("plaintext", func() (net.Conn, error) { return net.Dial("tcp", addr) })
	noCert := &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS12}
	refused("no client certificate", func() (net.Conn, error) { return tls.Dial("tcp", addr, noCert) })
	rogue := nodeTLS(t, testcert.NewCA(t, "rogue CA"), ca.Pool)
	refused("certificate from another CA", func() (net.Conn, error) { return tls.Dial("tcp", addr, rogue.Client) })

	select {
	case <-accepted:
		t.Fatal("an untrusted connection reached raft")
	default:
	}

	// A node with a trusted certificate is handed to raft.
	good := nodeTLS(t, ca, ca.Pool)
	c, err := tls.Dial("tcp", addr, good.Client)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte{0}); err != nil {
		t.Fatal(err)
	}
	select {
	case ac := <-accepted:
		ac.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("a trusted node's connection never reached raft")
	}
}
