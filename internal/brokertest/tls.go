package brokertest

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"path/filepath"
	"testing"

	"github.com/nagare-dev/nagare/internal/testcert"
)

// TLSFiles are PEM files made for one test: a CA, a server certificate for 127.0.0.1
// signed by it, and a client certificate with Subject CN=alice,OU=eng,O=example. Nothing
// is committed to the repository; the files live in the test's temp dir.
type TLSFiles struct {
	CAFile       string // the CA certificate: ssl.truststore.location, a client's --tls-ca
	KeystoreFile string // the server's key and chain: ssl.keystore.location
	ClientCert   string // the client's certificate (PEM)
	ClientKey    string // the client's private key (PEM)
	ca           *x509.CertPool
	client       tls.Certificate
}

// NewTLSFiles makes a CA, a server and a client certificate and writes them as PEM.
func NewTLSFiles(t testing.TB) *TLSFiles {
	t.Helper()
	dir := t.TempDir()
	ca := testcert.NewCA(t, "nagare test CA")
	server := ca.Issue(t, pkix.Name{CommonName: "127.0.0.1"}, testcert.Server, "127.0.0.1", "localhost")
	client := ca.Issue(t, pkix.Name{CommonName: "alice", OrganizationalUnit: []string{"eng"},
		Organization: []string{"example"}}, testcert.Client, "localhost")
	f := &TLSFiles{
		CAFile:       filepath.Join(dir, "ca.pem"),
		KeystoreFile: filepath.Join(dir, "server.pem"),
		ClientCert:   filepath.Join(dir, "client.pem"),
		ClientKey:    filepath.Join(dir, "client.key"),
		ca:           ca.Pool,
		client:       client.TLSCertificate(),
	}
	ca.WriteTruststore(t, f.CAFile)
	server.WriteKeystore(t, f.KeystoreFile)
	client.WriteCert(t, f.ClientCert)
	client.WriteKey(t, f.ClientKey)
	return f
}

// ClientConfig is a client's TLS config trusting the test CA, with the client
// certificate when withCert is set.
func (f *TLSFiles) ClientConfig(withCert bool) *tls.Config {
	cfg := &tls.Config{RootCAs: f.ca, MinVersion: tls.VersionTLS12}
	if withCert {
		cfg.Certificates = []tls.Certificate{f.client}
	}
	return cfg
}
