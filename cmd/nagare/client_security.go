package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// saslPasswordEnv is read when --sasl-password is not given, so the password need not
// appear in the process list or shell history.
const saslPasswordEnv = "NAGARE_SASL_PASSWORD"

// securityFlags are how client commands authenticate and encrypt: SASL (PLAIN,
// SCRAM-SHA-256, SCRAM-SHA-512) and TLS, for listeners of type SASL_PLAINTEXT, SSL and
// SASL_SSL on any Kafka cluster. clientFlags registers them, so every client command has
// them.
type securityFlags struct {
	saslMechanism string
	saslUser      string
	saslPassword  string
	tls           bool   // TLS with the system roots (implied by any other --tls-* flag)
	tlsCA         string // PEM CA bundle to trust instead of the system roots
	tlsCert       string // PEM client certificate, for mutual TLS
	tlsKey        string // PEM client private key
	tlsServerName string // name to verify the broker's certificate against
	tlsInsecure   bool   // skip verification (testing only)
}

func (f *securityFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.saslMechanism, "sasl-mechanism", "",
		"authenticate with SASL: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	fs.StringVar(&f.saslUser, "sasl-user", "", "SASL user name")
	fs.StringVar(&f.saslPassword, "sasl-password", "",
		"SASL password (default $"+saslPasswordEnv+")")
	fs.BoolVar(&f.tls, "tls", false, "connect with TLS (SSL and SASL_SSL listeners), trusting the system CAs")
	fs.StringVar(&f.tlsCA, "tls-ca", "", "PEM file of CA certificates to trust (implies --tls)")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "PEM client certificate for mutual TLS (implies --tls; needs --tls-key)")
	fs.StringVar(&f.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&f.tlsServerName, "tls-server-name", "", "name to check the broker certificate against (default: the host dialed)")
	fs.BoolVar(&f.tlsInsecure, "tls-insecure", false, "do not verify the broker certificate (testing only)")
}

// opts returns the franz-go options for the flags, or why they do not fit together.
func (f *securityFlags) opts() ([]kgo.Opt, error) {
	var opts []kgo.Opt
	mech, err := f.mechanism()
	if err != nil {
		return nil, err
	}
	if mech != nil {
		opts = append(opts, kgo.SASL(mech))
	}
	tlsCfg, err := f.tlsConfig()
	if err != nil {
		return nil, err
	}
	if tlsCfg != nil {
		opts = append(opts, kgo.DialTLSConfig(tlsCfg))
	}
	return opts, nil
}

func (f *securityFlags) mechanism() (sasl.Mechanism, error) {
	if f.saslMechanism == "" {
		if f.saslUser != "" || f.saslPassword != "" {
			return nil, errors.New("--sasl-user and --sasl-password need --sasl-mechanism")
		}
		return nil, nil
	}
	password := f.saslPassword
	if password == "" {
		password = os.Getenv(saslPasswordEnv)
	}
	if f.saslUser == "" || password == "" {
		return nil, fmt.Errorf("--sasl-mechanism %s needs --sasl-user and --sasl-password (or $%s)", f.saslMechanism, saslPasswordEnv)
	}
	switch strings.ToUpper(f.saslMechanism) {
	case "PLAIN":
		return plain.Auth{User: f.saslUser, Pass: password}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: f.saslUser, Pass: password}.AsSha256Mechanism(), nil
	case "SCRAM-SHA-512":
		return scram.Auth{User: f.saslUser, Pass: password}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("--sasl-mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", f.saslMechanism)
}

func (f *securityFlags) tlsConfig() (*tls.Config, error) {
	if !f.tls && f.tlsCA == "" && f.tlsCert == "" && f.tlsKey == "" && f.tlsServerName == "" && !f.tlsInsecure {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: f.tlsServerName, InsecureSkipVerify: f.tlsInsecure}
	if f.tlsCA != "" {
		pem, err := os.ReadFile(f.tlsCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca %s: no PEM certificates", f.tlsCA)
		}
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	if f.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
