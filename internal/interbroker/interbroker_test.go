package interbroker_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/auth"
	"github.com/nagare-dev/nagare/internal/brokertest"
	"github.com/nagare-dev/nagare/internal/config"
	"github.com/nagare-dev/nagare/internal/interbroker"
)

func jaas(module, user, password string) string {
	return fmt.Sprintf(`org.apache.kafka.common.security.%s required username="%s" password="%s";`, module, user, password)
}

func TestFromConfigErrors(t *testing.T) {
	files := brokertest.NewTLSFiles(t)
	base := map[string]string{"listeners": "SASL_SSL://127.0.0.1:0", "ssl.keystore.location": files.KeystoreFile}
	cases := []struct {
		name  string
		extra map[string]string
		want  string // "" for success
	}{
		{"no credentials", nil, "no JAAS config"},
		{"mechanism not enabled", map[string]string{"sasl.mechanism.inter.broker.protocol": "PLAIN",
			"sasl.jaas.config": jaas("plain.PlainLoginModule", "admin", "x")}, "not in the listener's sasl.enabled.mechanisms"},
		{"server-only JAAS", map[string]string{"sasl.jaas.config": `org.apache.kafka.common.security.scram.ScramLoginModule required;`},
			"no login module with username and password"},
		{"listener-prefixed truststore missing", map[string]string{
			"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": jaas("scram.ScramLoginModule", "admin", "x"),
			"listener.name.sasl_ssl.ssl.truststore.location":        "/nonexistent.pem"}, "ssl.truststore.location"},
		{"ok", map[string]string{"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": jaas("scram.ScramLoginModule", "admin", "xyzzy"),
			"ssl.truststore.location": files.CAFile}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			props := map[string]string{}
			for k, v := range base {
				props[k] = v
			}
			for k, v := range tc.extra {
				props[k] = v
			}
			conf, err := config.NewBroker(props)
			if err != nil {
				t.Fatal(err)
			}
			s, err := interbroker.FromConfig(conf, "SASL_SSL")
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("FromConfig: %v", err)
			case tc.want == "":
				if s.Mechanism != "SCRAM-SHA-512" || s.User != "admin" || s.TLS == nil || s.TLS.RootCAs == nil {
					t.Fatalf("settings %v, TLS %v", s, s.TLS)
				}
				if got := fmt.Sprint(s); strings.Contains(got, "xyzzy") {
					t.Fatalf("settings print the password: %s", got)
				}
			case err == nil || !strings.Contains(err.Error(), tc.want):
				t.Fatalf("FromConfig error %v, want %q", err, tc.want)
			}
		})
	}
}

// TestAuthenticateOverRawConnection drives Dial and Authenticate against a real SASL_SSL
// broker, as the replica fetcher does: PLAIN and SCRAM, a second exchange on the same
// connection (re-authentication, KIP-368), and a wrong password.
func TestAuthenticateOverRawConnection(t *testing.T) {
	files := brokertest.NewTLSFiles(t)
	spec, err := auth.ParseScramSpec("SCRAM-SHA-256=[name=admin,password=secret]")
	if err != nil {
		t.Fatal(err)
	}
	b := brokertest.Start(t, brokertest.WithAddScram(spec), brokertest.WithProperties(map[string]string{
		"listeners": "SASL_SSL://127.0.0.1:0", "ssl.keystore.location": files.KeystoreFile,
		"sasl.enabled.mechanisms":   "PLAIN,SCRAM-SHA-256",
		"sasl.jaas.config":          `org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="secret";`,
		"connections.max.reauth.ms": "60000",
	}))
	for _, c := range []struct{ mech, module, password, fail string }{
		{"PLAIN", "plain.PlainLoginModule", "secret", ""},
		{"SCRAM-SHA-256", "scram.ScramLoginModule", "secret", ""},
		{"SCRAM-SHA-256", "scram.ScramLoginModule", "wrong", "authentication failed"},
	} {
		t.Run(c.mech+"/"+c.password, func(t *testing.T) {
			conf, err := config.NewBroker(map[string]string{"listeners": "SASL_SSL://127.0.0.1:0",
				"ssl.truststore.location": files.CAFile, "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256",
				"sasl.mechanism.inter.broker.protocol": c.mech, "sasl.jaas.config": jaas(c.module, "admin", c.password)})
			if err != nil {
				t.Fatal(err)
			}
			s, err := interbroker.FromConfig(conf, "SASL_SSL")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			nc, err := s.Dial(ctx, b.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			rt := roundTripper(nc)
			lifetime, err := s.Authenticate(ctx, rt, b.Addr())
			if c.fail != "" {
				if !interbroker.IsAuthError(err) || !strings.Contains(err.Error(), c.fail) {
					t.Fatalf("Authenticate = %v, want an authentication error", err)
				}
				return
			}
			if err != nil || lifetime <= 0 || lifetime > time.Minute {
				t.Fatalf("Authenticate = %v, %v; want a lifetime up to 1m", lifetime, err)
			}
			if _, err := s.Authenticate(ctx, rt, b.Addr()); err != nil {
				t.Fatalf("re-authenticate: %v", err)
			}
			if err := rt(kmsg.NewPtrMetadataRequest(), kmsg.NewPtrMetadataResponse()); err != nil {
				t.Fatalf("metadata after authentication: %v", err)
			}
		})
	}
}

// roundTripper frames non-flexible requests on nc (the versions Authenticate uses, and
// Metadata v0), as the replica fetcher's connection does.
func roundTripper(nc net.Conn) interbroker.RoundTrip {
	format := kmsg.NewRequestFormatter(kmsg.FormatterClientID("test"))
	var corr int32
	return func(req kmsg.Request, resp kmsg.Response) error {
		corr++
		if _, err := nc.Write(format.AppendRequest(nil, req, corr)); err != nil {
			return err
		}
		var hdr [8]byte
		if _, err := io.ReadFull(nc, hdr[:]); err != nil {
			return err
		}
		body := make([]byte, binary.BigEndian.Uint32(hdr[:4])-4)
		if _, err := io.ReadFull(nc, body); err != nil {
			return err
		}
		resp.SetVersion(req.GetVersion())
		return resp.ReadFrom(body)
	}
}
