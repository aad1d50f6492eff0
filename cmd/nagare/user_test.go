package main

import (
	"strings"
	"testing"

	"github.com/nagare-dev/nagare/internal/auth"
	"github.com/nagare-dev/nagare/internal/brokertest"
)

// TestUserCommands manages SCRAM users over a SASL_SSL listener, authenticating the CLI
// itself with SCRAM and TLS flags, and checks a new user can then connect.
func TestUserCommands(t *testing.T) {
	files := brokertest.NewTLSFiles(t)
	admin, err := auth.ParseScramSpec("SCRAM-SHA-512=[name=admin,password=admin-secret]")
	if err != nil {
		t.Fatal(err)
	}
	b := brokertest.Start(t, brokertest.WithAddScram(admin), brokertest.WithProperties(map[string]string{
		"listeners":                      "SASL_SSL://127.0.0.1:0",
		"ssl.keystore.location":          files.KeystoreFile,
		"super.users":                    "User:admin",
		"allow.everyone.if.no.acl.found": "true",
	}))
	conn := func(user, pass, mech string) []string {
		return []string{"--bootstrap", b.Addr(), "--tls-ca", files.CAFile,
			"--sasl-mechanism", mech, "--sasl-user", user, "--sasl-password", pass}
	}
	asAdmin := func(args ...string) []string { return append(args, conn("admin", "admin-secret", "SCRAM-SHA-512")...) }

	r := mustRun(t, "", asAdmin("user", "add", "alice", "--password", "alice-secret", "--iterations", "8192")...)
	if !strings.Contains(r.stdout, `added SCRAM credentials for user "alice" (SCRAM-SHA-256, SCRAM-SHA-512)`) {
		t.Errorf("add printed %q", r.stdout)
	}
	mustRun(t, "bob-secret\n", asAdmin("user", "add", "bob", "--mechanism", "SCRAM-SHA-256", "--password-stdin")...)
	r = mustRun(t, "", asAdmin("user", "list")...)
	for _, want := range []string{"admin  SCRAM-SHA-512  4096", "alice  SCRAM-SHA-256  8192", "alice  SCRAM-SHA-512  8192", "bob    SCRAM-SHA-256  4096"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("list output lacks %q:\n%s", want, r.stdout)
		}
	}
	var listed []userEntry
	decodeJSON(t, mustRun(t, "", asAdmin("user", "list", "bob", "-o", "json")...).stdout, &listed)
	if len(listed) != 1 || listed[0].User != "bob" || len(listed[0].Credentials) != 1 {
		t.Errorf("list bob -o json: %+v", listed)
	}

	// alice can now connect with either mechanism; a wrong password is refused.
	mustRun(t, "", append([]string{"topic", "list"}, conn("alice", "alice-secret", "SCRAM-SHA-256")...)...)
	mustRun(t, "", append([]string{"topic", "list"}, conn("alice", "alice-secret", "SCRAM-SHA-512")...)...)
	r = nagare(t, "", append([]string{"topic", "list"}, conn("alice", "wrong", "SCRAM-SHA-256")...)...)
	if r.code != exitFailure || !strings.Contains(r.stderr, "refused the SASL credentials") {
		t.Errorf("wrong password: exit %d, stderr %q", r.code, r.stderr)
	}

	mustRun(t, "", asAdmin("user", "remove", "alice", "--mechanism", "SCRAM-SHA-256")...)
	mustRun(t, "", asAdmin("user", "remove", "bob")...)
	r = nagare(t, "", asAdmin("user", "list", "bob")...)
	if r.code != exitFailure || !strings.Contains(r.stderr, `user "bob" has no SCRAM credentials`) {
		t.Errorf("list a removed user: exit %d, stderr %q", r.code, r.stderr)
	}
	r = nagare(t, "", asAdmin("user", "add", "carol", "--iterations", "100", "--password", "x")...)
	if r.code != exitUsage {
		t.Errorf("add with 100 iterations: exit %d, stderr %q", r.code, r.stderr)
	}
	r = nagare(t, "", "user", "list", "--bootstrap", b.Addr(), "--sasl-mechanism", "GSSAPI", "--sasl-user", "a", "--sasl-password", "b")
	if r.code != exitUsage {
		t.Errorf("--sasl-mechanism GSSAPI: exit %d, stderr %q", r.code, r.stderr)
	}
	r = nagare(t, "", "serve", "--add-scram", "SCRAM-SHA-1=[name=a,password=b]", "--http", "", "--data-dir", t.TempDir())
	if r.code != exitUsage || !strings.Contains(r.stderr, "--add-scram") {
		t.Errorf("serve --add-scram with a bad mechanism: exit %d, stderr %q", r.code, r.stderr)
	}
}
