package config

import "strings"

// ListenerString reads a setting for one listener the way Kafka does: the
// listener.name.<listener>.<name> override first (the listener name lower-cased), then
// the broker-wide name. Overrides are not in the table, so they are read raw; the server
// side of a listener and the inter-broker client both read their TLS files through it.
func (b *Broker) ListenerString(listener, name string) string {
	if v, _, ok := b.Raw("listener.name." + strings.ToLower(listener) + "." + name); ok {
		return strings.TrimSpace(v)
	}
	if _, known := Lookup(KindBroker, name); known {
		return b.String(name)
	}
	v, _, _ := b.Raw(name)
	return strings.TrimSpace(v)
}

// ListenerJAAS finds the JAAS config of one SASL mechanism on one listener, most specific
// first: listener.name.<l>.<mechanism>.sasl.jaas.config (Kafka's form, the mechanism
// lower-cased), then listener.name.<l>.sasl.jaas.config, then sasl.jaas.config. Its
// user_<name> options are the server's PLAIN users; its username and password options
// are what this broker sends as a client on the inter-broker listener.
func (b *Broker) ListenerJAAS(listener, mechanism string) string {
	prefix := "listener.name." + strings.ToLower(listener) + "."
	for _, name := range []string{prefix + strings.ToLower(mechanism) + ".sasl.jaas.config", prefix + "sasl.jaas.config"} {
		if v, _, ok := b.Raw(name); ok {
			return v
		}
	}
	v, _, _ := b.Raw("sasl.jaas.config")
	return v
}
