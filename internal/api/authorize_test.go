package api

import "testing"

// TestSessionIP checks the host a connection's ACL checks use: the address without its
// port, in acl.NormalizeHost's form, so it compares equal to an ACL host however either
// spells an IPv6 address.
func TestSessionIP(t *testing.T) {
	for remote, want := range map[string]string{
		"10.0.0.1:9092":              "10.0.0.1",
		"[::1]:9092":                 "::1",
		"[fe80::1%eth0]:9092":        "fe80::1",
		"[0:0:0:0:0:0:0:1]:9092":     "::1",
		"[::ffff:10.0.0.1]:9092":     "10.0.0.1",
		"[2001:db8:0:0:0:0:0:1]:1":   "2001:db8::1",
		"unix-socket-without-a-port": "unix-socket-without-a-port",
	} {
		s := &Session{RemoteAddr: remote}
		if got := sessionIP(s); got != want {
			t.Errorf("sessionIP(%q) = %q, want %q", remote, got, want)
		}
		if got := sessionIP(s); got != want { // the cached answer
			t.Errorf("sessionIP(%q) again = %q, want %q", remote, got, want)
		}
	}
}
