package testcert

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"os"
	"path/filepath"
	"testing"
)

// The keystore file loads as one key pair (as ssl.keystore.location is read), the leaf
// verifies against the CA for exactly its usages, and another CA does not verify it.
func TestIssueAndKeystore(t *testing.T) {
	ca := NewCA(t, "test CA")
	dir := t.TempDir()
	truststore, keystore := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "node.pem")
	ca.WriteTruststore(t, truststore)
	for _, tc := range []struct {
		usage          Usage
		server, client bool
	}{{Server, true, false}, {Client, false, true}, {ServerAndClient, true, true}} {
		leaf := ca.Issue(t, pkix.Name{CommonName: "node"}, tc.usage, "127.0.0.1", "localhost")
		leaf.WriteKeystore(t, keystore)
		b, err := os.ReadFile(keystore)
		if err != nil {
			t.Fatal(err)
		}
		pair, err := tls.X509KeyPair(b, b)
		if err != nil {
			t.Fatal(err)
		}
		if len(pair.Certificate) != 2 {
			t.Fatalf("keystore chain has %d certificates, want the leaf and the CA", len(pair.Certificate))
		}
		roots := x509.NewCertPool()
		if pem, err := os.ReadFile(truststore); err != nil || !roots.AppendCertsFromPEM(pem) {
			t.Fatalf("truststore: %v", err)
		}
		for _, u := range []struct {
			eku  x509.ExtKeyUsage
			want bool
		}{{x509.ExtKeyUsageServerAuth, tc.server}, {x509.ExtKeyUsageClientAuth, tc.client}} {
			_, err := leaf.Cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "127.0.0.1", KeyUsages: []x509.ExtKeyUsage{u.eku}})
			if (err == nil) != u.want {
				t.Errorf("usage %d, key usage %v: verify error %v", tc.usage, u.eku, err)
			}
		}
	}
	other := NewCA(t, "other CA")
	if _, err := ca.Issue(t, pkix.Name{CommonName: "x"}, Server).Cert.Verify(x509.VerifyOptions{Roots: other.Pool}); err == nil {
		t.Fatal("a certificate verified against another CA")
	}
}
