package config

import (
	"errors"
	"strings"
	"testing"
)

// TestControllerListenerSSL accepts an SSL controller listener, with its settings read
// through the listener.name.controller. prefix as Kafka reads them, and refuses the SASL
// protocols, which the quorum's transport does not speak.
func TestControllerListenerSSL(t *testing.T) {
	b := mustBroker(t, withCluster(map[string]string{
		"listener.security.protocol.map":                   "PLAINTEXT:PLAINTEXT,CONTROLLER:SSL",
		"ssl.keystore.location":                            "/etc/nagare/client.pem",
		"listener.name.controller.ssl.keystore.location":   "/etc/nagare/controller.pem",
		"listener.name.controller.ssl.truststore.location": "/etc/nagare/controller-ca.pem",
		"listener.name.controller.ssl.client.auth":         "required",
	}))
	if p, ok := b.SecurityProtocol("CONTROLLER"); !ok || p != ProtocolSSL {
		t.Errorf("controller listener protocol = %q, %v; want SSL", p, ok)
	}
	for name, want := range map[string]string{
		"ssl.keystore.location":   "/etc/nagare/controller.pem",
		"ssl.truststore.location": "/etc/nagare/controller-ca.pem",
		"ssl.client.auth":         "required",
	} {
		if got := b.ListenerString("CONTROLLER", name); got != want {
			t.Errorf("controller listener %s = %q, want %q", name, got, want)
		}
	}

	for _, proto := range []string{"SASL_SSL", "SASL_PLAINTEXT"} {
		_, err := NewBroker(withCluster(map[string]string{
			"listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:" + proto,
		}))
		if !errors.Is(err, ErrInvalidValue) || !strings.Contains(err.Error(), "must be PLAINTEXT or SSL, not "+proto) {
			t.Errorf("CONTROLLER:%s: %v, want refused", proto, err)
		}
	}
}
