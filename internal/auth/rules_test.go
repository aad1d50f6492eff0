package auth

import (
	"errors"
	"testing"
)

// TestPrincipalRules uses the examples of Kafka's documentation and SslPrincipalMapperTest.
func TestPrincipalRules(t *testing.T) {
	cases := []struct {
		rules, dn, want string
	}{
		{"DEFAULT", "CN=alice,OU=eng,O=example", "CN=alice,OU=eng,O=example"},
		{"", "CN=alice", "CN=alice"},
		{`RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,DEFAULT`, "CN=kafka-client,OU=ServiceUsers,O=Unknown,L=Unknown,ST=Unknown,C=Unknown", "kafka-client"},
		{`RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,DEFAULT`, "CN=admin,OU=Admin,O=Unknown", "CN=admin,OU=Admin,O=Unknown"},
		{`RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L`, "CN=Duke,OU=ServiceUsers,O=Org,L=City,ST=State,C=US", "duke@serviceusers"},
		{`RULE:^CN=(.*?),OU=(.*?)$/$1/U`, "CN=duke,OU=x", "DUKE"},
		{"RULE:^cn=(.*?),(.*)$/$1/L\nDEFAULT", "cn=Bob,OU=x", "bob"},
		{`RULE:^CN=([^,]+),.*$/$1\/svc/`, "CN=a,O=b", "a/svc"},
		{`RULE:^CN=([^,]+)$/$1$9/`, "CN=a", "a$9"},
	}
	for _, tc := range cases {
		m, err := ParsePrincipalRules(tc.rules)
		if err != nil {
			t.Errorf("parse %q: %v", tc.rules, err)
			continue
		}
		got, err := m.Map(tc.dn)
		if err != nil || got != tc.want {
			t.Errorf("rules %q on %q: %q %v, want %q", tc.rules, tc.dn, got, err, tc.want)
		}
	}
	m, _ := ParsePrincipalRules(`RULE:^CN=(.*)$/$1/`)
	if _, err := m.Map("OU=x"); !errors.Is(err, ErrNoMatchingRule) {
		t.Errorf("no rule matches: %v", err)
	}
	for _, bad := range []string{"RULE:x", "bogus", "RULE:(/x/", "DEFAULT,junk"} {
		if _, err := ParsePrincipalRules(bad); err == nil {
			t.Errorf("rules %q accepted", bad)
		}
	}
}

func TestJAAS(t *testing.T) {
	entries, err := ParseJAAS(`org.apache.kafka.common.security.plain.PlainLoginModule required
		username="admin" password="admin-secret"
		user_admin="admin-secret" user_alice="al\"ice" user_bob=bare;`)
	if err != nil {
		t.Fatal(err)
	}
	users := PlainUsers(entries)
	if len(users) != 3 || users["admin"] != "admin-secret" || users["alice"] != `al"ice` || users["bob"] != "bare" {
		t.Fatalf("users %v", users)
	}
	for _, bad := range []string{"", "Module", "Module required user_a=\"x\"", "Module maybe;", "Module required a=;", `Module required a="x;`} {
		if _, err := ParseJAAS(bad); err == nil {
			t.Errorf("JAAS %q accepted", bad)
		}
	}
}

func TestScramSpec(t *testing.T) {
	s, err := ParseScramSpec(`SCRAM-SHA-512=[name=alice,iterations=8192,salt="c2FsdA==",password="a,b"]`)
	if err != nil || s.User != "alice" || s.Iterations != 8192 || string(s.Salt) != "salt" || s.Password != "a,b" {
		t.Fatalf("%+v %v", s, err)
	}
	if _, err := s.Credential(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"SCRAM-SHA-1=[name=a,password=b]", "SCRAM-SHA-256=[password=b]", "SCRAM-SHA-256=[name=a]",
		"SCRAM-SHA-256=[name=a,password=b,iterations=100]", "SCRAM-SHA-256=name=a", "SCRAM-SHA-256=[name=a,saltedpassword=eA==]",
		"SCRAM-SHA-256=[name=a,password=b,color=red]"} {
		if _, err := ParseScramSpec(bad); err == nil {
			t.Errorf("spec %q accepted", bad)
		}
	}
}
