package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// TestScramRFC7677 replays RFC 7677's SCRAM-SHA-256 example: user "user", password
// "pencil", the RFC's nonces and salt; the server must send the RFC's server-first and
// server-final messages.
func TestScramRFC7677(t *testing.T) {
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	cred, err := NewScramCredential(MechanismScramSHA256, "pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	lookup := func(user, mech string) (ScramCredential, bool) {
		return cred, user == "user" && mech == MechanismScramSHA256
	}
	// The server's nonce part is "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0" in the RFC; its random
	// bytes here are chosen so their unpadded base64 is a known string instead.
	s, err := NewScramServer(MechanismScramSHA256, lookup, bytes.NewReader(bytes.Repeat([]byte{0xAB}, scramNonceBytes)))
	if err != nil {
		t.Fatal(err)
	}
	serverNonce := base64.RawStdEncoding.EncodeToString(bytes.Repeat([]byte{0xAB}, scramNonceBytes))
	first, done, err := s.Step([]byte("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"))
	if err != nil || done {
		t.Fatalf("client-first: %v %v", err, done)
	}
	want := "r=rOprNGfwEbeRWgbNEkqO" + serverNonce + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
	if string(first) != want {
		t.Fatalf("server-first %q, want %q", first, want)
	}
	// With the RFC's own nonce the proof and signature are the RFC's; check the math with
	// them directly.
	rfc, _ := NewScramServer(MechanismScramSHA256, lookup, nil)
	rfc.first, _ = parseClientFirst([]byte("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"))
	rfc.cred, rfc.known, rfc.step = cred, true, 1
	rfc.nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
	rfc.serverFirst = "r=" + rfc.nonce + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
	final, done, err := rfc.Step([]byte("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="))
	if err != nil || !done {
		t.Fatalf("client-final: %v %v", err, done)
	}
	if string(final) != "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=" || rfc.User() != "user" {
		t.Fatalf("server-final %q user %q", final, rfc.User())
	}
}

// TestScramWithFranzGo runs franz-go's SCRAM client against the server for both
// mechanisms, with the right and a wrong password and an unknown user.
func TestScramWithFranzGo(t *testing.T) {
	for _, mech := range ScramMechanisms {
		cred, err := NewScramCredential(mech, "secret", nil, 4096)
		if err != nil {
			t.Fatal(err)
		}
		lookup := func(user, m string) (ScramCredential, bool) { return cred, user == "alice" && m == mech }
		for _, tc := range []struct {
			user, pass string
			ok         bool
		}{{"alice", "secret", true}, {"alice", "wrong", false}, {"bob", "secret", false}, {"a,=b", "x", false}} {
			auth := scram.Auth{User: tc.user, Pass: tc.pass}
			client := auth.AsSha256Mechanism()
			if mech == MechanismScramSHA512 {
				client = auth.AsSha512Mechanism()
			}
			sess, msg, err := client.Authenticate(context.Background(), "broker")
			if err != nil {
				t.Fatal(err)
			}
			server, _ := NewScramServer(mech, lookup, nil)
			var serverErr error
			for step := 0; step < 4; step++ {
				answer, done, err := server.Step(msg)
				if err != nil {
					serverErr = err
					break
				}
				clientDone, next, err := sess.Challenge(answer)
				if err != nil {
					t.Fatalf("%s %s: client refused the server: %v", mech, tc.user, err)
				}
				if done {
					if !clientDone {
						t.Fatalf("%s: server done, client not", mech)
					}
					break
				}
				msg = next
			}
			if ok := serverErr == nil; ok != tc.ok {
				t.Errorf("%s user %q password %q: err %v, want ok=%v", mech, tc.user, tc.pass, serverErr, tc.ok)
			}
			if serverErr != nil && !errors.Is(serverErr, ErrAuthenticationFailed) {
				t.Errorf("%s: failure %v is not ErrAuthenticationFailed", mech, serverErr)
			}
			if serverErr == nil && server.User() != tc.user {
				t.Errorf("%s: user %q", mech, server.User())
			}
		}
	}
}

func TestScramRejectsMalformed(t *testing.T) {
	for _, msg := range []string{
		"", "n", "n,,", "p=tls-unique,,n=a,r=x", "n,,n=,r=abc", "n,,n=a", "n,,n=a=ZZ,r=x", "n,,r=x,n=a",
		"n,,n=a,r=", "n,x,n=a,r=x", "n,,n=a,r=x,badext", "n,,n=a\x00,r=x",
	} {
		s, _ := NewScramServer(MechanismScramSHA256, nil, nil)
		if _, _, err := s.Step([]byte(msg)); err == nil {
			t.Errorf("client-first %q accepted", msg)
		}
	}
	if _, err := parseClientFirst([]byte("n,,n=a=2Cb=3Dc,r=x,tokenauth=true")); err != nil {
		t.Fatal(err)
	}
	if cf, _ := parseClientFirst([]byte("n,a=u,n=u,r=x")); cf.authzid != "u" {
		t.Fatalf("authzid %q", cf.authzid)
	}
	for _, msg := range []string{"", "c=biws,r=x", "c=biws,r=x,p=!!", "r=x,c=biws,p=AAAA", "c=*,r=x,p=AAAA", "c=biws,p=AAAA"} {
		if _, err := parseClientFinal([]byte(msg)); err == nil {
			t.Errorf("client-final %q accepted", msg)
		}
	}
}

// FuzzScramServer feeds arbitrary client messages to a SCRAM server: it must never panic,
// and it must never accept without a valid proof.
func FuzzScramServer(f *testing.F) {
	f.Add([]byte("n,,n=user,r=abc"), []byte("c=biws,r=abcXYZ,p=AAAA"))
	f.Add([]byte("y,a=user,n=user,r=x,ext=1"), []byte("c=eSxhPXVzZXIs,r=x,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="))
	f.Add([]byte("n,,n=a=2C=3D,r=\x7f"), []byte(""))
	cred, err := NewScramCredential(MechanismScramSHA256, "pencil", []byte("salt"), 4096)
	if err != nil {
		f.Fatal(err)
	}
	lookup := func(string, string) (ScramCredential, bool) { return cred, true }
	f.Fuzz(func(t *testing.T, first, final []byte) {
		s, _ := NewScramServer(MechanismScramSHA256, lookup, nil)
		answer, _, err := s.Step(first)
		if err != nil {
			return
		}
		if !strings.HasPrefix(string(answer), "r=") {
			t.Fatalf("server-first %q", answer)
		}
		if _, done, err := s.Step(final); err == nil || done {
			// A random final message cannot carry a valid proof for a random server nonce.
			t.Fatalf("accepted client-final %q after %q", final, first)
		}
		if _, _, err := s.Step(final); err == nil {
			t.Fatal("a finished exchange took another message")
		}
		_, _ = parseClientFinal(final)
	})
}

func TestPlain(t *testing.T) {
	users := map[string]string{"carol": "secret"}
	for _, tc := range []struct {
		msg string
		ok  bool
	}{
		{"\x00carol\x00secret", true}, {"carol\x00carol\x00secret", true}, {"x\x00carol\x00secret", false},
		{"\x00carol\x00wrong", false}, {"\x00nobody\x00secret", false}, {"\x00carol", false}, {"", false},
		{"\x00\x00secret", false}, {"\x00carol\x00", false},
	} {
		s := &PlainServer{users: users}
		_, done, err := s.Step([]byte(tc.msg))
		if (err == nil && done) != tc.ok {
			t.Errorf("PLAIN %q: done %v err %v, want ok=%v", tc.msg, done, err, tc.ok)
		}
	}
}

func TestMechanisms(t *testing.T) {
	if _, err := NewMechanisms([]string{"GSSAPI"}, nil, nil); err == nil {
		t.Error("GSSAPI accepted")
	}
	if _, err := NewMechanisms([]string{"PLAIN"}, nil, nil); err == nil {
		t.Error("PLAIN without users accepted")
	}
	m, err := NewMechanisms([]string{"SCRAM-SHA-512", "PLAIN"}, map[string]string{"a": "b"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Enabled(); len(got) != 2 || got[0] != "SCRAM-SHA-512" {
		t.Fatalf("enabled %v", got)
	}
	if _, err := m.Start("SCRAM-SHA-256"); !errors.Is(err, ErrUnsupportedMechanism) {
		t.Fatalf("start a disabled mechanism: %v", err)
	}
	var none *Mechanisms
	if _, err := none.Start("PLAIN"); err == nil || none.Enabled() != nil {
		t.Fatal("nil Mechanisms offers something")
	}
}
