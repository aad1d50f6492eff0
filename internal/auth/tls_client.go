package auth

import (
	"crypto/tls"
)

// ClientTLSConfig builds the tls.Config a broker dials other brokers with, from the
// same files its listener serves with, as a Kafka broker's inter-broker client does:
// servers are checked against the truststore (the system roots when it is unset, as
// Java's default truststore) and the server name, and the keystore's certificate, when
// there is one, is presented if the server asks for a client certificate
// (ssl.client.auth=required or requested). ClientAuth is ignored.
func ClientTLSConfig(f TLSFiles) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS13}
	if len(f.EnabledProtocols) > 0 {
		var err error
		if cfg.MinVersion, cfg.MaxVersion, err = tlsVersions(f.EnabledProtocols); err != nil {
			return nil, err
		}
	}
	if f.KeystoreLocation != "" {
		cert, err := loadKeystore(f.KeystoreLocation)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if f.TruststoreLocation != "" {
		pool, err := loadCAs(f.TruststoreLocation)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}
