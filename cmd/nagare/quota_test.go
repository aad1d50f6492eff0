package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestQuotaCommands sets, lists, describes and removes quotas through every
// quota subcommand, against kfake and against a real Nagare broker, with the
// same expectations.
func TestQuotaCommands(t *testing.T) {
	for _, cluster := range []struct {
		name  string
		start func(*testing.T) string
	}{
		{"kfake", startKfake},
		{"nagare", startNagare},
	} {
		t.Run(cluster.name, func(t *testing.T) { testQuotaCommands(t, cluster.start(t), cluster.name == "kfake") })
	}
}

// testQuotaCommands runs the round trip against boot. kfake's ANY match
// skips <default> entities, where Kafka's (and Nagare's) takes names and
// defaults, so anyNamedOnly says which to expect.
func testQuotaCommands(t *testing.T, boot string, anyNamedOnly bool) {
	quota := func(args ...string) []string { return append(append([]string{"quota"}, args...), "--bootstrap", boot) }

	r := mustRun(t, "", quota("set", "--user", "alice", "--client-id", "etl",
		"--add", "producer_byte_rate=1048576", "--add", "request_percentage=12.5")...)
	if want := "Altered quotas of user=alice, client-id=etl: set producer_byte_rate=1048576; set request_percentage=12.5.\n"; r.stdout != want {
		t.Errorf("set printed %q, want %q", r.stdout, want)
	}
	mustRun(t, "", quota("set", "--client-id-default", "--add", "request_percentage=200")...)
	mustRun(t, "", quota("set", "--user", "alice", "--add", "consumer_byte_rate=2000000")...)
	var altered quotaAlteration
	decodeJSON(t, mustRun(t, "", quota("set", "--user-default", "--client-id-default", "--add", "producer_byte_rate=5e6", "-o", "json")...).stdout, &altered)
	if quotaEntity(altered.Entity) != "user=<default>,client-id=<default>" || altered.Set["producer_byte_rate"] != 5e6 || altered.ValidateOnly {
		t.Errorf("set -o json: %+v", altered)
	}
	// validate-only changes nothing.
	mustRun(t, "", quota("set", "--user", "bob", "--add", "request_percentage=1", "--validate-only")...)

	all := []string{
		"client-id=<default> request_percentage=200",
		"user=<default>,client-id=<default> producer_byte_rate=5000000",
		"user=alice consumer_byte_rate=2000000",
		"user=alice,client-id=etl producer_byte_rate=1048576 request_percentage=12.5",
	}
	wantQuotas(t, "list", quotaListJSON(t, quota("list", "-o", "json")...), all...)
	wantQuotas(t, "list --user alice", quotaListJSON(t, quota("list", "--user", "alice", "-o", "json")...), all[2:]...)
	wantQuotas(t, "list --user alice --strict", quotaListJSON(t, quota("list", "--user", "alice", "--strict", "-o", "json")...), all[2])
	wantQuotas(t, "list --user-default", quotaListJSON(t, quota("list", "--user-default", "-o", "json")...), all[1])
	if anyNamedOnly {
		wantQuotas(t, "list --client-id-any", quotaListJSON(t, quota("list", "--client-id-any", "-o", "json")...), all[3])
	} else {
		wantQuotas(t, "list --client-id-any", quotaListJSON(t, quota("list", "--client-id-any", "-o", "json")...), all[0], all[1], all[3])
		wantQuotas(t, "list --user-any --client-id-any", quotaListJSON(t, quota("list", "--user-any", "--client-id-any", "-o", "json")...), all[1], all[3])
	}
	wantQuotas(t, "list --client-id nobody", quotaListJSON(t, quota("list", "--client-id", "nobody", "-o", "json")...))

	r = mustRun(t, "", quota("list")...)
	for _, want := range []string{"USER  CLIENT-ID  QUOTA  VALUE", "-  <default>  request_percentage  200",
		"alice  etl  producer_byte_rate  1048576", "alice  etl  request_percentage  12.5", "<default>  <default>  producer_byte_rate  5000000"} {
		if !strings.Contains(squeeze(r.stdout), want) {
			t.Errorf("list table lacks %q:\n%s", want, r.stdout)
		}
	}

	var d quotaEntry
	decodeJSON(t, mustRun(t, "", quota("describe", "--user", "alice", "--client-id", "etl", "-o", "json")...).stdout, &d)
	wantQuotas(t, "describe", []quotaEntry{d}, all[3])
	r = mustRun(t, "", quota("describe", "--user", "alice")...)
	if !strings.Contains(r.stdout, "Quotas of user=alice:") || !strings.Contains(squeeze(r.stdout), "consumer_byte_rate  2000000") ||
		strings.Contains(r.stdout, "producer_byte_rate") {
		t.Errorf("describe --user alice:\n%s", r.stdout)
	}
	if r = mustRun(t, "", quota("describe", "--user", "bob")...); r.stdout != "No quotas set on user=bob.\n" {
		t.Errorf("describe of an entity without quotas printed %q", r.stdout)
	}

	r = mustRun(t, "", quota("remove", "--user", "alice", "--client-id", "etl", "--delete", "producer_byte_rate")...)
	if r.stdout != "Altered quotas of user=alice, client-id=etl: removed producer_byte_rate.\n" {
		t.Errorf("remove printed %q", r.stdout)
	}
	d = quotaEntry{} // decoding into a map merges
	decodeJSON(t, mustRun(t, "", quota("describe", "--user", "alice", "--client-id", "etl", "-o", "json")...).stdout, &d)
	wantQuotas(t, "describe after remove", []quotaEntry{d}, "user=alice,client-id=etl request_percentage=12.5")
	mustRun(t, "", quota("remove", "--user-default", "--client-id-default", "--all")...)
	mustRun(t, "", quota("remove", "--user", "alice", "--client-id", "etl", "--delete", "request_percentage")...)
	wantQuotas(t, "list after removes", quotaListJSON(t, quota("list", "-o", "json")...), all[0], all[2])
	wantOneLineError(t, nagare(t, "", quota("remove", "--user", "bob", "--all")...), exitFailure, "user=bob has no quotas to remove")
}

func TestQuotaUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"quota", "bogus"}, `unknown command "bogus" for "nagare quota"`},
		{[]string{"quota", "set", "--add", "request_percentage=1"}, "name the entity"},
		{[]string{"quota", "set", "--user", "a"}, "nothing to set"},
		{[]string{"quota", "set", "--user", "a", "--add", "request_percentage"}, "--add wants key=value"},
		{[]string{"quota", "set", "--user", "a", "--add", "request_percentage=lots"}, "the value must be a number"},
		{[]string{"quota", "set", "--user", "a", "--user-default", "--add", "x=1"}, "give --user or --user-default, not both"},
		{[]string{"quota", "set", "--client-id", "", "--add", "x=1"}, "--client-id must not be empty"},
		{[]string{"quota", "remove", "--user", "a"}, "nothing to remove"},
		{[]string{"quota", "remove", "--user", "a", "--all", "--delete", "x"}, "not both"},
		{[]string{"quota", "describe"}, "name the entity"},
		{[]string{"quota", "list", "--user", "a", "--user-any"}, "give only one of --user, --user-default and --user-any"},
		{[]string{"quota", "list", "--strict"}, "--strict needs a filter"},
		{[]string{"quota", "list", "extra"}, "takes 0 argument(s)"},
		{[]string{"quota", "list", "-o", "yaml"}, "must be one of table, json"},
	} {
		r := nagare(t, "", tc.args...)
		if r.code != exitUsage {
			t.Errorf("nagare %v: exit %d, want %d (stderr %q)", tc.args, r.code, exitUsage, r.stderr)
		}
		lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
		if len(lines) != 2 || !strings.Contains(lines[0], tc.want) || !strings.HasPrefix(lines[1], "Run 'nagare quota") {
			t.Errorf("nagare %v: stderr %q, want %q and a help hint", tc.args, r.stderr, tc.want)
		}
	}
}

func quotaListJSON(t *testing.T, args ...string) []quotaEntry {
	t.Helper()
	var entries []quotaEntry
	decodeJSON(t, mustRun(t, "", args...).stdout, &entries)
	return entries
}

func quotaEntity(parts []quotaEntityPart) string {
	s := make([]string, len(parts))
	for i, p := range parts {
		name := p.Name
		if p.Default {
			name = defaultName
		}
		s[i] = p.Type + "=" + name
	}
	return strings.Join(s, ",")
}

// wantQuotas checks entries, in order, against "entity key=value..." lines.
func wantQuotas(t *testing.T, what string, entries []quotaEntry, want ...string) {
	t.Helper()
	got := make([]string, len(entries))
	for i, e := range entries {
		s := quotaEntity(e.Entity)
		keys := make([]string, 0, len(e.Quotas))
		for k := range e.Quotas {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			s += fmt.Sprintf(" %s=%s", k, formatQuota(e.Quotas[k]))
		}
		got[i] = s
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: quotas\n  %s\nwant\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
