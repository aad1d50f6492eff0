package interbroker

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"

	"github.com/nagare-dev/nagare/internal/auth"
	"github.com/nagare-dev/nagare/internal/config"
)

// Settings are what this broker needs to connect to another broker's inter-broker
// listener. The zero value (and nil) is PLAINTEXT.
type Settings struct {
	Listener  string      // the inter-broker listener's name
	Protocol  string      // its security protocol (config.ProtocolXXX)
	TLS       *tls.Config // nil unless SSL or SASL_SSL
	Mechanism string      // SASL mechanism; empty unless SASL_PLAINTEXT or SASL_SSL
	User      string      // SASL user name
	password  string      // SASL password; unexported, and left out of String (what logs print)
}

// FromConfig derives the settings for listener (the inter-broker listener) from the
// broker config. It fails when the listener needs material that is missing or broken,
// so a misconfigured broker stops at start rather than failing to replicate later.
func FromConfig(conf *config.Broker, listener string) (*Settings, error) {
	proto, ok := conf.SecurityProtocol(listener)
	if !ok {
		return nil, fmt.Errorf("interbroker: listener %s has no security protocol", listener)
	}
	s := &Settings{Listener: listener, Protocol: proto}
	if proto == config.ProtocolSSL || proto == config.ProtocolSASLSSL {
		cfg, err := clientTLS(conf, listener)
		if err != nil {
			return nil, fmt.Errorf("interbroker: listener %s: %w", listener, err)
		}
		s.TLS = cfg
	}
	if proto == config.ProtocolSASLPlaintext || proto == config.ProtocolSASLSSL {
		if err := s.loadSASL(conf); err != nil {
			return nil, fmt.Errorf("interbroker: listener %s: %w", listener, err)
		}
	}
	return s, nil
}

// clientTLS reads the listener's PEM files (listener-prefixed first) into a client config.
func clientTLS(conf *config.Broker, listener string) (*tls.Config, error) {
	var protocols []string
	if p := conf.ListenerString(listener, "ssl.enabled.protocols"); p != "" {
		protocols = strings.Split(p, ",")
	}
	return auth.ClientTLSConfig(auth.TLSFiles{
		KeystoreLocation:   conf.ListenerString(listener, "ssl.keystore.location"),
		TruststoreLocation: conf.ListenerString(listener, "ssl.truststore.location"),
		EnabledProtocols:   protocols,
	})
}

// loadSASL takes the mechanism and the credentials of the client side of the listener's
// JAAS config. The mechanism must be enabled on the listener, as Kafka requires, since
// the other brokers would refuse it.
func (s *Settings) loadSASL(conf *config.Broker) error {
	mech := strings.ToUpper(conf.String("sasl.mechanism.inter.broker.protocol"))
	var enabled []string
	for m := range strings.SplitSeq(conf.ListenerString(s.Listener, "sasl.enabled.mechanisms"), ",") {
		enabled = append(enabled, strings.ToUpper(strings.TrimSpace(m)))
	}
	if !slices.Contains(enabled, mech) {
		return fmt.Errorf("sasl.mechanism.inter.broker.protocol=%s is not in the listener's sasl.enabled.mechanisms (%s)",
			mech, strings.Join(enabled, ","))
	}
	user, password, err := jaasCredentials(conf.ListenerJAAS(s.Listener, mech))
	if err != nil {
		return fmt.Errorf("%s credentials (listener.name.%s.%s.sasl.jaas.config): %w",
			mech, strings.ToLower(s.Listener), strings.ToLower(mech), err)
	}
	s.Mechanism, s.User, s.password = mech, user, password
	return nil
}

// jaasCredentials is the username and password of the first login module that has
// both: the client side of a JAAS config, as Kafka's login modules read it.
func jaasCredentials(jaas string) (user, password string, err error) {
	if strings.TrimSpace(jaas) == "" {
		return "", "", fmt.Errorf("no JAAS config with username and password")
	}
	entries, err := auth.ParseJAAS(jaas)
	if err != nil {
		return "", "", err
	}
	for _, e := range entries {
		u, uok := e.Options["username"]
		p, pok := e.Options["password"]
		if uok && pok && u != "" {
			return u, p, nil
		}
	}
	return "", "", fmt.Errorf("the JAAS config has no login module with username and password options")
}

// String describes the settings without the password, for logs.
func (s *Settings) String() string {
	if s == nil {
		return config.ProtocolPlaintext
	}
	if s.Mechanism == "" {
		return fmt.Sprintf("%s (%s)", s.Listener, s.Protocol)
	}
	return fmt.Sprintf("%s (%s, %s as %s)", s.Listener, s.Protocol, s.Mechanism, s.User)
}
