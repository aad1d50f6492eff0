package interop

// kcat (librdkafka) against Nagare's security: SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN
// over SASL_SSL, and mutual TLS on an SSL listener, each producing and reading back
// records; a wrong password fails.

import (
	"strings"
	"testing"

	"github.com/nagare-dev/nagare/internal/auth"
	"github.com/nagare-dev/nagare/internal/brokertest"
)

func TestKcatSASLSSLAndMutualTLS(t *testing.T) {
	kcatPath(t)
	files := brokertest.NewTLSFiles(t)
	var specs []auth.ScramSpec
	for _, s := range []string{"SCRAM-SHA-256=[name=alice,password=alice-secret]", "SCRAM-SHA-512=[name=alice,password=alice-secret]"} {
		spec, err := auth.ParseScramSpec(s)
		if err != nil {
			t.Fatal(err)
		}
		specs = append(specs, spec)
	}
	b := brokertest.Start(t, brokertest.WithAddScram(specs...), brokertest.WithProperties(map[string]string{
		"listeners":               "PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0,SSL://127.0.0.1:0",
		"sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512,PLAIN",
		"listener.name.sasl_ssl.plain.sasl.jaas.config": `org.apache.kafka.common.security.plain.PlainLoginModule required user_carol="carol-secret";`,
		"ssl.keystore.location":                         files.KeystoreFile,
		"ssl.truststore.location":                       files.CAFile,
		"listener.name.ssl.ssl.client.auth":             "required",
		"allow.everyone.if.no.acl.found":                "true",
		"super.users":                                   "User:ANONYMOUS",
	}))
	createTopic(t, b, "secure", 1)
	saslAddr, _ := b.ListenerAddr("SASL_SSL")
	sslAddr, _ := b.ListenerAddr("SSL")

	sasl := func(mech, user, pass string) []string {
		return []string{"-b", saslAddr, "-X", "security.protocol=SASL_SSL", "-X", "sasl.mechanisms=" + mech,
			"-X", "sasl.username=" + user, "-X", "sasl.password=" + pass, "-X", "ssl.ca.location=" + files.CAFile}
	}
	mtls := []string{"-b", sslAddr, "-X", "security.protocol=SSL", "-X", "ssl.ca.location=" + files.CAFile,
		"-X", "ssl.certificate.location=" + files.ClientCert, "-X", "ssl.key.location=" + files.ClientKey}
	clients := []struct {
		name string
		args []string
	}{
		{"SCRAM-SHA-256", sasl("SCRAM-SHA-256", "alice", "alice-secret")},
		{"SCRAM-SHA-512", sasl("SCRAM-SHA-512", "alice", "alice-secret")},
		{"PLAIN", sasl("PLAIN", "carol", "carol-secret")},
		{"mTLS", mtls},
	}
	var want []string
	for _, c := range clients {
		runClient(t, c.name+"\n", kcatPath(t), append(c.args, "-P", "-t", "secure")...)
		want = append(want, c.name)
	}
	for _, c := range clients {
		out := runClient(t, "", kcatPath(t), append(c.args, "-C", "-t", "secure", "-e", "-q", "-o", "beginning")...)
		if got := strings.Fields(out); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s read %q, want %q", c.name, got, want)
		}
	}

	_, stderr, err := runClientErr(t, "", kcatPath(t), append(sasl("SCRAM-SHA-256", "alice", "wrong"), "-L", "-m", "1")...)
	if err == nil {
		t.Fatal("kcat with a wrong password succeeded")
	}
	if !strings.Contains(stderr, "Authentication failed") && !strings.Contains(stderr, "SASL") {
		t.Errorf("kcat's error does not mention authentication:\n%s", stderr)
	}
}
