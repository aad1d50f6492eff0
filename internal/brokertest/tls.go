package brokertest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
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
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "nagare test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(serial int64, subject pkix.Name, usage x509.ExtKeyUsage, ips []net.IP) (certPEM, keyPEM []byte) {
		key := newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: subject, IPAddresses: ips, DNSNames: []string{"localhost"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	serverCert, serverKey := issue(2, pkix.Name{CommonName: "127.0.0.1"}, x509.ExtKeyUsageServerAuth,
		[]net.IP{net.ParseIP("127.0.0.1")})
	clientCert, clientKey := issue(3, pkix.Name{CommonName: "alice", OrganizationalUnit: []string{"eng"},
		Organization: []string{"example"}}, x509.ExtKeyUsageClientAuth, nil)

	f := &TLSFiles{
		CAFile:       filepath.Join(dir, "ca.pem"),
		KeystoreFile: filepath.Join(dir, "server.pem"),
		ClientCert:   filepath.Join(dir, "client.pem"),
		ClientKey:    filepath.Join(dir, "client.key"),
		ca:           x509.NewCertPool(),
	}
	f.ca.AddCert(caCert)
	write := func(path string, parts ...[]byte) {
		var all []byte
		for _, p := range parts {
			all = append(all, p...)
		}
		if err := os.WriteFile(path, all, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(f.CAFile, caPEM)
	write(f.KeystoreFile, serverKey, serverCert, caPEM)
	write(f.ClientCert, clientCert)
	write(f.ClientKey, clientKey)
	if f.client, err = tls.X509KeyPair(clientCert, clientKey); err != nil {
		t.Fatal(err)
	}
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

func newKey(t testing.TB) *ecdsa.PrivateKey {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}
