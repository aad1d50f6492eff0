// Package testcert makes throwaway X.509 certificates, for tests only: a CA, leaf
// certificates it signs for TLS server use, client use or both, and PEM files in the
// shapes the broker's loaders read (ssl.truststore.location: the CA certificate;
// ssl.keystore.location: an unencrypted private key followed by its certificate chain).
// Keys are ECDSA P-256; certificates are valid from an hour ago for a day. Nothing is
// committed to the repository: tests write the files to their temp dirs.
//
// It imports only the standard library, so any package's tests can use it.
package testcert

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
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// Usage is the extended key usage of a leaf certificate.
type Usage int

const (
	Server Usage = 1 << iota // TLS server authentication
	Client                   // TLS client authentication
)

// ServerAndClient allows both, as a node's one certificate on a mutual-TLS listener
// serves its both sides.
const ServerAndClient = Server | Client

// CA is a self-signed certificate authority.
type CA struct {
	Cert   *x509.Certificate
	Key    *ecdsa.PrivateKey
	PEM    []byte         // the certificate as PEM: what WriteTruststore writes
	Pool   *x509.CertPool // a pool holding only this CA
	serial atomic.Int64   // the last serial number issued; the CA's own is 1
}

// NewCA makes a CA whose subject's common name is name.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &CA{Cert: cert, Key: key, PEM: encode("CERTIFICATE", der), Pool: x509.NewCertPool()}
	ca.Pool.AddCert(cert)
	ca.serial.Store(1)
	return ca
}

// WriteTruststore writes the CA certificate as PEM to path: ssl.truststore.location, or
// a client's CA file.
func (ca *CA) WriteTruststore(t testing.TB, path string) {
	t.Helper()
	writeFile(t, path, ca.PEM)
}

// Leaf is a certificate signed by a CA, with its private key.
type Leaf struct {
	Cert    *x509.Certificate
	Key     *ecdsa.PrivateKey
	CertPEM []byte // the certificate alone
	KeyPEM  []byte // the private key, PKCS #8, unencrypted
	ca      *CA
}

// Issue signs a certificate for subject with the given usage. Each host is a subject
// alternative name: an IP address if it parses as one, else a DNS name.
func (ca *CA) Issue(t testing.TB, subject pkix.Name, usage Usage, hosts ...string) *Leaf {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.serial.Add(1)), Subject: subject,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if usage&Server != 0 {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if usage&Client != 0 {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return &Leaf{Cert: cert, Key: key, CertPEM: encode("CERTIFICATE", der), KeyPEM: encode("PRIVATE KEY", keyDER), ca: ca}
}

// TLSCertificate is the leaf and its key for a tls.Config's Certificates.
func (l *Leaf) TLSCertificate() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{l.Cert.Raw}, PrivateKey: l.Key, Leaf: l.Cert}
}

// WriteKeystore writes the private key, the certificate and the CA's certificate as one
// PEM file to path: ssl.keystore.location.
func (l *Leaf) WriteKeystore(t testing.TB, path string) {
	t.Helper()
	writeFile(t, path, l.KeyPEM, l.CertPEM, l.ca.PEM)
}

// WriteCert writes the certificate alone as PEM to path, as a client's certificate file.
func (l *Leaf) WriteCert(t testing.TB, path string) {
	t.Helper()
	writeFile(t, path, l.CertPEM)
}

// WriteKey writes the private key alone as PEM to path, as a client's key file.
func (l *Leaf) WriteKey(t testing.TB, path string) {
	t.Helper()
	writeFile(t, path, l.KeyPEM)
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func encode(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func writeFile(t testing.TB, path string, parts ...[]byte) {
	t.Helper()
	if err := os.WriteFile(path, slices.Concat(parts...), 0o600); err != nil {
		t.Fatal(err)
	}
}
