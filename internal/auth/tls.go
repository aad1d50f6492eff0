package auth

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Client certificate policies, Kafka's ssl.client.auth values.
const (
	ClientAuthNone      = "none"
	ClientAuthRequested = "requested"
	ClientAuthRequired  = "required"
)

// TLSFiles is where a listener's TLS material comes from, with Kafka's config names.
type TLSFiles struct {
	KeystoreLocation   string   // ssl.keystore.location: PEM private key and certificate chain
	KeyPassword        string   // ssl.key.password: set only for an encrypted key, which is refused
	TruststoreLocation string   // ssl.truststore.location: PEM CA bundle for client certificates
	ClientAuth         string   // ssl.client.auth: none, requested or required
	EnabledProtocols   []string // ssl.enabled.protocols: TLSv1.2, TLSv1.3
}

// ServerTLSConfig builds the server's tls.Config: TLS 1.2 and 1.3 only, the keystore's
// key and chain, and client certificates checked against the truststore as ClientAuth
// asks.
func ServerTLSConfig(f TLSFiles) (*tls.Config, error) {
	if f.KeystoreLocation == "" {
		return nil, errors.New("auth: TLS listener needs ssl.keystore.location (a PEM file with key and certificate chain)")
	}
	cert, err := loadKeystore(f.KeystoreLocation)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS13}
	if len(f.EnabledProtocols) > 0 {
		if cfg.MinVersion, cfg.MaxVersion, err = tlsVersions(f.EnabledProtocols); err != nil {
			return nil, err
		}
	}
	if f.TruststoreLocation != "" {
		pool, err := loadCAs(f.TruststoreLocation)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
	}
	switch strings.ToLower(f.ClientAuth) {
	case "", ClientAuthNone:
		cfg.ClientAuth = tls.NoClientCert
	case ClientAuthRequested:
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	case ClientAuthRequired:
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	default:
		return nil, fmt.Errorf("auth: ssl.client.auth %q: want none, requested or required", f.ClientAuth)
	}
	if cfg.ClientAuth != tls.NoClientCert && cfg.ClientCAs == nil {
		return nil, fmt.Errorf("auth: ssl.client.auth=%s needs ssl.truststore.location", f.ClientAuth)
	}
	return cfg, nil
}

// loadKeystore reads ssl.keystore.location: one PEM file with an unencrypted private
// key and its certificate chain.
func loadKeystore(path string) (tls.Certificate, error) {
	pemBytes, err := os.ReadFile(path)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("auth: ssl.keystore.location: %w", err)
	}
	if strings.Contains(string(pemBytes), "ENCRYPTED") {
		return tls.Certificate{}, fmt.Errorf("auth: ssl.keystore.location %s: encrypted private keys are not supported; store the key unencrypted with file permissions protecting it", path)
	}
	cert, err := tls.X509KeyPair(pemBytes, pemBytes)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("auth: ssl.keystore.location %s: %w", path, err)
	}
	return cert, nil
}

func loadCAs(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: ssl.truststore.location: %w", err)
	}
	pool := x509.NewCertPool()
	found := false
	for block, rest := pem.Decode(b); block != nil; block, rest = pem.Decode(rest) {
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("auth: ssl.truststore.location %s: %w", path, err)
		}
		pool.AddCert(c)
		found = true
	}
	if !found {
		return nil, fmt.Errorf("auth: ssl.truststore.location %s: no PEM certificates", path)
	}
	return pool, nil
}

func tlsVersions(protocols []string) (lo, hi uint16, err error) {
	for _, p := range protocols {
		var v uint16
		switch strings.TrimSpace(p) {
		case "TLSv1.2":
			v = tls.VersionTLS12
		case "TLSv1.3":
			v = tls.VersionTLS13
		case "":
			continue
		default:
			return 0, 0, fmt.Errorf("auth: ssl.enabled.protocols: %q is not supported (TLSv1.2, TLSv1.3)", p)
		}
		if lo == 0 || v < lo {
			lo = v
		}
		hi = max(hi, v)
	}
	if lo == 0 {
		return 0, 0, errors.New("auth: ssl.enabled.protocols is empty")
	}
	return lo, hi, nil
}

// PeerUser returns the user name of a TLS connection's client certificate, mapped by the
// rules; ok is false when the client sent none (the connection stays ANONYMOUS).
func PeerUser(state tls.ConnectionState, rules *PrincipalMapper) (user string, ok bool, err error) {
	if len(state.PeerCertificates) == 0 {
		return "", false, nil
	}
	user, err = rules.Map(state.PeerCertificates[0].Subject.String())
	if err != nil {
		return "", false, err
	}
	return user, true, nil
}
