package main

import (
	"testing"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// TestACLCommands adds, lists and removes ACLs through `nagare acl` against a Nagare
// broker that enforces ACLs, with the CLI's own unauthenticated principal a super user.
func TestACLCommands(t *testing.T) {
	b := brokertest.Start(t, brokertest.WithProperties(map[string]string{
		"authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"super.users":           "User:ANONYMOUS",
	}))
	acl := func(args ...string) []string {
		return append(append([]string{"acl"}, args...), "--bootstrap", b.Addr())
	}

	mustRun(t, "", acl("add", "--allow-principal", "User:alice", "--operation", "read", "--operation", "WRITE",
		"--topic", "billing.", "--resource-pattern-type", "prefixed")...)
	mustRun(t, "", acl("add", "--deny-principal", "User:bob", "--deny-host", "10.0.0.7", "--operation", "describe-configs", "--cluster")...)
	mustRun(t, "", acl("add", "--allow-principal", "User:alice", "--operation", "READ", "--group", "app")...)

	var rows []aclRow
	decodeJSON(t, mustRun(t, "", acl("list", "-o", "json")...).stdout, &rows)
	if len(rows) != 4 {
		t.Fatalf("list: %d ACLs, want 4: %+v", len(rows), rows)
	}
	decodeJSON(t, mustRun(t, "", acl("list", "--topic", "billing.events", "--resource-pattern-type", "match", "-o", "json")...).stdout, &rows)
	if len(rows) != 2 || rows[0].PatternType != "PREFIXED" || rows[0].Principal != "User:alice" {
		t.Fatalf("list match billing.events: %+v", rows)
	}
	decodeJSON(t, mustRun(t, "", acl("list", "--cluster", "-o", "json")...).stdout, &rows)
	if len(rows) != 1 || rows[0].Host != "10.0.0.7" || rows[0].Permission != "DENY" || rows[0].Operation != "DESCRIBE_CONFIGS" {
		t.Fatalf("list cluster: %+v", rows)
	}

	mustRun(t, "", acl("remove", "--allow-principal", "User:alice", "--operation", "WRITE",
		"--topic", "billing.", "--resource-pattern-type", "prefixed")...)
	decodeJSON(t, mustRun(t, "", acl("list", "--allow-principal", "User:alice", "-o", "json")...).stdout, &rows)
	if len(rows) != 2 {
		t.Fatalf("after remove: %+v", rows)
	}

	if r := nagare(t, "", acl("add", "--operation", "READ", "--topic", "x")...); r.code == 0 {
		t.Fatal("add without a principal succeeded")
	}
	if r := nagare(t, "", acl("remove")...); r.code == 0 {
		t.Fatal("remove without filters succeeded")
	}
}
