package broker

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/nagare-dev/nagare/internal/api"
	"github.com/nagare-dev/nagare/internal/auth"
	"github.com/nagare-dev/nagare/internal/config"
	"github.com/nagare-dev/nagare/internal/metadata"
	"github.com/nagare-dev/nagare/internal/server"
)

// listenerSetting reads a setting for one listener the way Kafka does: the
// listener.name.<listener>.<name> override first, then the broker-wide name.
func (b *Broker) listenerSetting(listener, name string) string {
	return b.conf.ListenerString(listener, name)
}

// listenerConfigs turns listeners and listener.security.protocol.map into the server's
// listener configs: TLS material for SSL and SASL_SSL listeners, the principal mapping
// for client certificates, and the protocol that makes a listener require SASL.
func (b *Broker) listenerConfigs() ([]server.ListenerConfig, error) {
	listeners := b.conf.Listeners()
	if len(listeners) == 0 {
		return nil, fmt.Errorf("broker: no listeners configured")
	}
	var lcs []server.ListenerConfig
	for _, l := range listeners {
		proto, ok := b.conf.SecurityProtocol(l.Name)
		if !ok {
			return nil, fmt.Errorf("broker: listener %s has no security protocol", l.Name)
		}
		lc := server.ListenerConfig{Name: l.Name, Addr: net.JoinHostPort(l.Host, strconv.Itoa(l.Port)), Protocol: proto}
		if proto == config.ProtocolSSL || proto == config.ProtocolSASLSSL {
			tlsConfig, mapper, err := b.listenerTLS(l.Name)
			if err != nil {
				return nil, err
			}
			lc.TLS = tlsConfig
			lc.TLSPrincipal = func(state tls.ConnectionState) (string, bool, error) {
				return auth.PeerUser(state, mapper)
			}
		}
		lcs = append(lcs, lc)
	}
	return lcs, nil
}

// listenerTLS builds one TLS listener's tls.Config and certificate principal mapping.
func (b *Broker) listenerTLS(listener string) (*tls.Config, *auth.PrincipalMapper, error) {
	for _, name := range []string{"ssl.keystore.type", "ssl.truststore.type"} {
		if t := b.listenerSetting(listener, name); t != "" && !strings.EqualFold(t, "PEM") {
			return nil, nil, fmt.Errorf("broker: listener %s: %s=%s: only PEM is supported", listener, name, t)
		}
	}
	var protocols []string
	if p := b.listenerSetting(listener, "ssl.enabled.protocols"); p != "" {
		protocols = strings.Split(p, ",")
	}
	keyPassword, _, _ := b.conf.Raw("ssl.key.password")
	tlsConfig, err := auth.ServerTLSConfig(auth.TLSFiles{
		KeystoreLocation:   b.listenerSetting(listener, "ssl.keystore.location"),
		KeyPassword:        keyPassword,
		TruststoreLocation: b.listenerSetting(listener, "ssl.truststore.location"),
		ClientAuth:         b.listenerSetting(listener, "ssl.client.auth"),
		EnabledProtocols:   protocols,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("broker: listener %s: %w", listener, err)
	}
	mapper, err := auth.ParsePrincipalRules(b.listenerSetting(listener, "ssl.principal.mapping.rules"))
	if err != nil {
		return nil, nil, fmt.Errorf("broker: listener %s: %w", listener, err)
	}
	return tlsConfig, mapper, nil
}

// saslConfig builds what SaslHandshake and SaslAuthenticate need: per SASL listener its
// enabled mechanisms (sasl.enabled.mechanisms, per-listener overridable), PLAIN users from
// its JAAS config, SCRAM credentials from the metadata image.
func (b *Broker) saslConfig(lcs []server.ListenerConfig) (api.SASLConfig, error) {
	byListener := map[string]*auth.Mechanisms{}
	lookup := api.ScramLookup(b.meta)
	for _, lc := range lcs {
		if lc.Protocol != config.ProtocolSASLPlaintext && lc.Protocol != config.ProtocolSASLSSL {
			continue
		}
		var enabled []string
		for m := range strings.SplitSeq(b.listenerSetting(lc.Name, "sasl.enabled.mechanisms"), ",") {
			enabled = append(enabled, strings.ToUpper(strings.TrimSpace(m)))
		}
		var plainUsers map[string]string
		if jaas := b.plainJAAS(lc.Name); jaas != "" {
			entries, err := auth.ParseJAAS(jaas)
			if err != nil {
				return api.SASLConfig{}, fmt.Errorf("broker: listener %s: %w", lc.Name, err)
			}
			plainUsers = auth.PlainUsers(entries)
		}
		m, err := auth.NewMechanisms(enabled, plainUsers, lookup)
		if err != nil {
			return api.SASLConfig{}, fmt.Errorf("broker: listener %s: %w", lc.Name, err)
		}
		byListener[lc.Name] = m
	}
	return api.SASLConfig{
		Mechanisms:   func(listener string) *auth.Mechanisms { return byListener[listener] },
		ReauthAfter:  b.conf.Duration("connections.max.reauth.ms"),
		FailureDelay: b.conf.Duration("connection.failed.authentication.delay.ms"),
		OnFailure: func(listener, mechanism string) {
			if b.server != nil { // set before the first connection is accepted
				b.server.CountAuthFailure(listener, mechanism)
			}
		},
	}, nil
}

// plainJAAS finds the JAAS config that lists a listener's PLAIN users, most specific
// first: listener.name.<l>.plain.sasl.jaas.config (Kafka's form), then
// listener.name.<l>.sasl.jaas.config, then sasl.jaas.config.
func (b *Broker) plainJAAS(listener string) string {
	return b.conf.ListenerJAAS(listener, "plain")
}

// addScramCredentials creates the --add-scram credentials whose user has none yet for
// that mechanism, as kafka-storage format --add-scram does for a new cluster; a credential
// already there (changed since, perhaps) is left alone.
func (b *Broker) addScramCredentials(ctx context.Context, specs []auth.ScramSpec) error {
	for _, spec := range specs {
		if _, ok := b.meta.Image().ScramCredential(spec.User, spec.Mechanism); ok {
			continue
		}
		cred, err := spec.Credential()
		if err != nil {
			return fmt.Errorf("broker: --add-scram for %s: %w", spec.User, err)
		}
		rec := metadata.UserScramCredential{User: spec.User, Mechanism: spec.Mechanism, Salt: cred.Salt,
			Iterations: int32(cred.Iterations), StoredKey: cred.StoredKey, ServerKey: cred.ServerKey}
		if _, err := b.meta.Propose(ctx, rec); err != nil {
			return fmt.Errorf("broker: --add-scram for %s: %w", spec.User, err)
		}
		b.logger.Info("created SCRAM credential", "user", spec.User, "mechanism", spec.Mechanism)
	}
	return nil
}

// ListenerAddr returns the bound address of the named listener, for tests and tools that
// use a listener other than the first.
func (b *Broker) ListenerAddr(name string) (string, bool) {
	for i, l := range b.conf.Listeners() {
		if strings.EqualFold(l.Name, name) {
			addrs := b.server.Addrs()
			if i < len(addrs) {
				return addrs[i].String(), true
			}
		}
	}
	return "", false
}

// advertisedAddr is this broker's address for clients of the named listener: its
// advertised.listeners entry when set with a host, else the listener's bound address.
func (b *Broker) advertisedAddr(listener string) (string, int32, bool) {
	if b.conf.IsSet("advertised.listeners") {
		for _, l := range b.conf.AdvertisedListeners() {
			if strings.EqualFold(l.Name, listener) && l.Host != "" {
				return l.Host, int32(l.Port), true
			}
		}
	}
	addr, ok := b.ListenerAddr(listener)
	if !ok {
		return "", 0, false
	}
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, false
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return "", 0, false
	}
	return host, int32(port), true
}
