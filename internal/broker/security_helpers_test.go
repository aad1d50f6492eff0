package broker_test

// Helpers for the security tests: a broker with every kind of listener, and a raw Kafka
// connection for exchanges franz-go would not make (v0 SASL framing, requests before
// authentication, oversized frames).

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/nagare-dev/nagare/internal/auth"
	"github.com/nagare-dev/nagare/internal/brokertest"
)

const (
	alicePassword = "alice-secret"
	carolPassword = "carol-secret"
)

// startSecureBroker starts a broker with PLAINTEXT (first, for the admin client),
// SASL_PLAINTEXT, SSL (client certificates required, CN mapped to the user) and SASL_SSL
// listeners. alice has SCRAM-SHA-256 and -512 credentials; carol is a PLAIN user. ACLs
// are left open (allow.everyone.if.no.acl.found) so these tests are about authentication.
func startSecureBroker(t *testing.T, extra map[string]string) (*brokertest.Broker, *brokertest.TLSFiles) {
	t.Helper()
	files := brokertest.NewTLSFiles(t)
	props := map[string]string{
		"listeners":                                 "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,SASL_SSL://127.0.0.1:0",
		"sasl.enabled.mechanisms":                   "SCRAM-SHA-256,SCRAM-SHA-512,PLAIN",
		"sasl.jaas.config":                          `org.apache.kafka.common.security.plain.PlainLoginModule required user_carol="` + carolPassword + `";`,
		"ssl.keystore.location":                     files.KeystoreFile,
		"ssl.truststore.location":                   files.CAFile,
		"listener.name.ssl.ssl.client.auth":         "required",
		"ssl.principal.mapping.rules":               "RULE:^CN=([^,]+),.*$/$1/L,DEFAULT",
		"allow.everyone.if.no.acl.found":            "true",
		"super.users":                               "User:ANONYMOUS",
		"connection.failed.authentication.delay.ms": "100",
	}
	for k, v := range extra {
		props[k] = v
	}
	specs := []auth.ScramSpec{}
	for _, s := range []string{
		"SCRAM-SHA-256=[name=alice,password=" + alicePassword + "]",
		"SCRAM-SHA-512=[name=alice,iterations=8192,password=" + alicePassword + "]",
	} {
		spec, err := auth.ParseScramSpec(s)
		if err != nil {
			t.Fatal(err)
		}
		specs = append(specs, spec)
	}
	return brokertest.Start(t, brokertest.WithProperties(props), brokertest.WithAddScram(specs...)), files
}

func listenerAddr(t testing.TB, b *brokertest.Broker, name string) string {
	t.Helper()
	addr, ok := b.ListenerAddr(name)
	if !ok {
		t.Fatalf("no listener %s", name)
	}
	return addr
}

// saslClient is a franz-go client on a listener, authenticating with mech.
func saslClient(t *testing.T, b *brokertest.Broker, listener string, mech sasl.Mechanism, tlsCfg *tls.Config, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{kgo.SeedBrokers(listenerAddr(t, b, listener)), kgo.SASL(mech),
		kgo.RequestRetries(0), kgo.RetryTimeout(2 * time.Second)}
	if tlsCfg != nil {
		base = append(base, kgo.DialTLSConfig(tlsCfg))
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func scram256(user, pass string) sasl.Mechanism {
	return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()
}

func scram512(user, pass string) sasl.Mechanism {
	return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()
}

func plainAuth(user, pass string) sasl.Mechanism {
	return plain.Auth{User: user, Pass: pass}.AsMechanism()
}

// rawConn speaks the Kafka framing by hand.
type rawConn struct {
	t    *testing.T
	conn net.Conn
	corr int32
	fmt  *kmsg.RequestFormatter
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, conn: c, fmt: kmsg.NewRequestFormatter(kmsg.FormatterClientID("raw"))}
}

// send writes a request at its version.
func (r *rawConn) send(req kmsg.Request) {
	r.t.Helper()
	r.corr++
	if _, err := r.conn.Write(r.fmt.AppendRequest(nil, req, r.corr)); err != nil {
		r.t.Fatalf("write %s: %v", kmsg.NameForKey(req.Key()), err)
	}
}

// frame reads one size-prefixed frame.
func (r *rawConn) frame() ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(r.conn, size[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint32(size[:]))
	_, err := io.ReadFull(r.conn, b)
	return b, err
}

// roundTrip sends req and decodes its response.
func (r *rawConn) roundTrip(req kmsg.Request) kmsg.Response {
	r.t.Helper()
	r.send(req)
	b, err := r.frame()
	if err != nil {
		r.t.Fatalf("read %s response: %v", kmsg.NameForKey(req.Key()), err)
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	b = b[4:] // correlation id
	if resp.IsFlexible() && req.Key() != 18 {
		b = b[1:] // header tags
	}
	if err := resp.ReadFrom(b); err != nil {
		r.t.Fatalf("decode %s response: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp
}

// rawToken sends a bare SASL token (v0 framing) and reads the bare answer.
func (r *rawConn) rawToken(token []byte) ([]byte, error) {
	var size [4]byte
	binary.BigEndian.PutUint32(size[:], uint32(len(token)))
	if _, err := r.conn.Write(append(size[:], token...)); err != nil {
		return nil, err
	}
	return r.frame()
}

// wantClosed waits for the broker to close the connection.
func (r *rawConn) wantClosed(what string) {
	r.t.Helper()
	r.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var buf [1]byte
	_, err := r.conn.Read(buf[:])
	if err == nil {
		for err == nil { // drain whatever response came before the close
			_, err = r.conn.Read(buf[:])
		}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		r.t.Fatalf("%s: connection still open", what)
	}
}

func handshake(version int16, mechanism string) *kmsg.SASLHandshakeRequest {
	req := kmsg.NewPtrSASLHandshakeRequest()
	req.Version, req.Mechanism = version, mechanism
	return req
}

func authenticate(version int16, token []byte) *kmsg.SASLAuthenticateRequest {
	req := kmsg.NewPtrSASLAuthenticateRequest()
	req.Version, req.SASLAuthBytes = version, token
	return req
}

func metadataRequest() *kmsg.MetadataRequest {
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 9
	return req
}

func cutLast(s, sep string) (string, string, bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }
