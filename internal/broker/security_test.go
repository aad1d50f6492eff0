package broker_test

// Authentication and encryption end to end: SCRAM-SHA-256/512 and PLAIN with franz-go on
// SASL_PLAINTEXT and SASL_SSL, TLS with client certificates on SSL, what Kafka closes
// connections for (a wrong password, a request before authentication, oversized or
// malformed authentication frames), the v0 framing of KIP-152, re-authentication and
// session expiry (KIP-368), and clients that misbehave without affecting others.

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// roundTripRecord produces one record through cl and reads it back.
func roundTripRecord(t *testing.T, cl *kgo.Client, topic, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(value)}).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}

func TestSASLMechanismsAndTLS(t *testing.T) {
	b, files := startSecureBroker(t, nil)
	createTopic(t, b.Admin(), "secure", 1, nil)

	cases := []struct {
		name     string
		listener string
		cl       func() *kgo.Client
	}{
		{"SCRAM-SHA-256", "SASL_PLAINTEXT", func() *kgo.Client {
			return saslClient(t, b, "SASL_PLAINTEXT", scram256("alice", alicePassword), nil)
		}},
		{"SCRAM-SHA-512", "SASL_PLAINTEXT", func() *kgo.Client {
			return saslClient(t, b, "SASL_PLAINTEXT", scram512("alice", alicePassword), nil)
		}},
		{"PLAIN", "SASL_PLAINTEXT", func() *kgo.Client {
			return saslClient(t, b, "SASL_PLAINTEXT", plainAuth("carol", carolPassword), nil)
		}},
		{"SASL_SSL SCRAM-SHA-512", "SASL_SSL", func() *kgo.Client {
			return saslClient(t, b, "SASL_SSL", scram512("alice", alicePassword), files.ClientConfig(false))
		}},
		{"SSL with a client certificate", "SSL", func() *kgo.Client {
			return b.Client(kgo.SeedBrokers(listenerAddr(t, b, "SSL")), kgo.DialTLSConfig(files.ClientConfig(true)))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cl := tc.cl()
			roundTripRecord(t, cl, "secure", tc.name)
			// Metadata leads the client back to the listener it came on.
			resp, err := kmsg.NewPtrMetadataRequest().RequestWith(testContext(t), cl)
			if err != nil || len(resp.Brokers) != 1 {
				t.Fatalf("metadata: %v %+v", err, resp)
			}
			if got, want := resp.Brokers[0].Port, listenerAddr(t, b, tc.listener); !hasPort(want, got) {
				t.Fatalf("metadata advertises port %d, the client came on %s", got, want)
			}
		})
	}

	// The principals: SCRAM and the certificate (CN=alice, mapped by the rule) are
	// User:alice, PLAIN is User:carol. A DENY for alice shows which is which.
	t.Run("principals", func(t *testing.T) {
		createTopic(t, b.Admin(), "denied", 1, nil)
		mustCreateACLs(t, b.Admin(), kadm.NewACLs().Deny("User:alice").Topics("denied").Operations(kadm.OpWrite))
		mustCreateACLs(t, b.Admin(), kadm.NewACLs().Allow("User:*").Topics("denied").Operations(kadm.OpWrite))
		for _, c := range []struct {
			name   string
			cl     *kgo.Client
			denied bool
		}{
			{"SCRAM alice", saslClient(t, b, "SASL_PLAINTEXT", scram256("alice", alicePassword), nil, kgo.DisableIdempotentWrite()), true},
			{"certificate alice", b.Client(kgo.SeedBrokers(listenerAddr(t, b, "SSL")), kgo.DialTLSConfig(files.ClientConfig(true)), kgo.DisableIdempotentWrite()), true},
			{"PLAIN carol", saslClient(t, b, "SASL_PLAINTEXT", plainAuth("carol", carolPassword), nil, kgo.DisableIdempotentWrite()), false},
		} {
			err := produceOne(testContext(t), c.cl, "denied")
			if denied := errors.Is(err, kerr.TopicAuthorizationFailed); denied != c.denied {
				t.Errorf("%s producing to a topic denied to User:alice: %v", c.name, err)
			}
		}
	})

	t.Run("SSL without a client certificate", func(t *testing.T) {
		cl := b.Client(kgo.SeedBrokers(listenerAddr(t, b, "SSL")), kgo.DialTLSConfig(files.ClientConfig(false)),
			kgo.RequestRetries(0), kgo.RetryTimeout(time.Second))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := cl.Ping(ctx); err == nil {
			t.Fatal("a client without a certificate was served on a listener that requires one")
		}
	})
}

func hasPort(addr string, port int32) bool {
	_, p, ok := cutLast(addr, ":")
	return ok && p == itoa(port)
}

func TestSASLWrongPasswordClosesAfterDelay(t *testing.T) {
	b, _ := startSecureBroker(t, map[string]string{"connection.failed.authentication.delay.ms": "300"})
	addr := listenerAddr(t, b, "SASL_PLAINTEXT")

	// franz-go sees SASL_AUTHENTICATION_FAILED.
	cl := saslClient(t, b, "SASL_PLAINTEXT", scram256("alice", "wrong"), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.Ping(ctx); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("wrong SCRAM password: %v, want SASL_AUTHENTICATION_FAILED", err)
	}
	cl = saslClient(t, b, "SASL_PLAINTEXT", plainAuth("nobody", "x"), nil)
	if err := cl.Ping(ctx); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("unknown PLAIN user: %v, want SASL_AUTHENTICATION_FAILED", err)
	}

	// By hand: the answer comes after the delay, then the connection closes. Meanwhile
	// another connection is served at once: the delay holds nobody else.
	raw := dialRaw(t, addr)
	if resp := raw.roundTrip(handshake(1, "PLAIN")).(*kmsg.SASLHandshakeResponse); resp.ErrorCode != 0 {
		t.Fatalf("handshake: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	start := time.Now()
	raw.send(authenticate(1, []byte("\x00carol\x00wrong")))
	other := saslClient(t, b, "SASL_PLAINTEXT", plainAuth("carol", carolPassword), nil)
	if err := other.Ping(ctx); err != nil {
		t.Fatalf("another client during the delay: %v", err)
	}
	if waited := time.Since(start); waited > 250*time.Millisecond {
		t.Logf("note: the other client took %v", waited)
	}
	frame, err := raw.frame()
	if err != nil {
		t.Fatalf("no answer to the failed authentication: %v", err)
	}
	if waited := time.Since(start); waited < 250*time.Millisecond {
		t.Fatalf("failed authentication answered after %v, want the 300ms delay", waited)
	}
	resp := kmsg.NewPtrSASLAuthenticateResponse()
	resp.Version = 1
	if err := resp.ReadFrom(frame[4:]); err != nil || resp.ErrorCode != kerr.SaslAuthenticationFailed.Code || resp.ErrorMessage == nil {
		t.Fatalf("failed authentication answer: %v %+v", err, resp)
	}
	raw.wantClosed("after a failed authentication")
}

func TestSASLRequestBeforeAuthenticationCloses(t *testing.T) {
	b, _ := startSecureBroker(t, nil)
	addr := listenerAddr(t, b, "SASL_PLAINTEXT")

	raw := dialRaw(t, addr)
	raw.send(metadataRequest())
	raw.wantClosed("Metadata before authentication")

	// ApiVersions is allowed first, and SaslAuthenticate without a handshake is not.
	raw = dialRaw(t, addr)
	versions := kmsg.NewPtrApiVersionsRequest()
	versions.Version = 3
	versions.ClientSoftwareName, versions.ClientSoftwareVersion = "raw", "1"
	if resp := raw.roundTrip(versions).(*kmsg.ApiVersionsResponse); resp.ErrorCode != 0 {
		t.Fatalf("ApiVersions before authentication: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	raw.send(authenticate(1, []byte("x")))
	raw.wantClosed("SaslAuthenticate without a handshake")

	// An unknown mechanism is UNSUPPORTED_SASL_MECHANISM with the list, then a close.
	raw = dialRaw(t, addr)
	resp := raw.roundTrip(handshake(1, "GSSAPI")).(*kmsg.SASLHandshakeResponse)
	if resp.ErrorCode != kerr.UnsupportedSaslMechanism.Code || len(resp.SupportedMechanisms) != 3 {
		t.Fatalf("GSSAPI handshake: %+v", resp)
	}
	raw.wantClosed("after an unsupported mechanism")

	// On a PLAINTEXT listener the SASL requests are ILLEGAL_SASL_STATE, and nothing closes.
	raw = dialRaw(t, b.Addr())
	if resp := raw.roundTrip(handshake(1, "PLAIN")).(*kmsg.SASLHandshakeResponse); resp.ErrorCode != kerr.IllegalSaslState.Code {
		t.Fatalf("handshake on PLAINTEXT: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	if resp := raw.roundTrip(metadataRequest()).(*kmsg.MetadataResponse); len(resp.Brokers) != 1 {
		t.Fatalf("metadata on PLAINTEXT after a handshake: %+v", resp)
	}
}

func TestSASLv0Framing(t *testing.T) {
	b, _ := startSecureBroker(t, nil)
	raw := dialRaw(t, listenerAddr(t, b, "SASL_PLAINTEXT"))
	if resp := raw.roundTrip(handshake(0, "PLAIN")).(*kmsg.SASLHandshakeResponse); resp.ErrorCode != 0 {
		t.Fatalf("v0 handshake: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	answer, err := raw.rawToken([]byte("\x00carol\x00" + carolPassword))
	if err != nil || len(answer) != 0 {
		t.Fatalf("bare PLAIN token: answer %q, %v", answer, err)
	}
	if resp := raw.roundTrip(metadataRequest()).(*kmsg.MetadataResponse); len(resp.Brokers) != 1 {
		t.Fatalf("metadata after v0 authentication: %+v", resp)
	}

	// A wrong bare token: no answer in this framing, just a close.
	raw = dialRaw(t, listenerAddr(t, b, "SASL_PLAINTEXT"))
	raw.roundTrip(handshake(0, "PLAIN"))
	if _, err := raw.rawToken([]byte("\x00carol\x00wrong")); err == nil {
		t.Fatal("a wrong bare token was answered")
	}
}

func TestSASLMalformedAndOversizedDoNotAffectOthers(t *testing.T) {
	b, files := startSecureBroker(t, map[string]string{"sasl.server.max.receive.size": "4096"})
	saslAddr := listenerAddr(t, b, "SASL_PLAINTEXT")
	ctx := testContext(t)

	// A slow-loris client on each kind of listener: connected, silent, or half a frame.
	loris := dialRaw(t, listenerAddr(t, b, "SSL"))
	loris.conn.Write([]byte{0x16, 0x03}) // the start of a TLS record, never finished
	loris2 := dialRaw(t, saslAddr)
	loris2.conn.Write([]byte{0, 0, 0, 40, 0, 17}) // half a request
	_ = dialRaw(t, listenerAddr(t, b, "SASL_SSL"))

	var wg sync.WaitGroup
	for _, bad := range []func(*rawConn){
		func(r *rawConn) { r.conn.Write([]byte{0, 0x10, 0, 0}) }, // a 1 MiB frame before authenticating
		func(r *rawConn) { // a SCRAM token over sasl.server.max.receive.size
			r.roundTrip(handshake(1, "SCRAM-SHA-256"))
			r.send(authenticate(1, make([]byte, 8192)))
		},
		func(r *rawConn) { // garbage SCRAM messages
			r.roundTrip(handshake(1, "SCRAM-SHA-256"))
			r.send(authenticate(1, []byte("n,,n=alice,r=\x00\xff")))
		},
		func(r *rawConn) { r.conn.Write([]byte{0, 0, 0, 2, 0, 18}) }, // a frame too short for a header
	} {
		raw := dialRaw(t, saslAddr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			bad(raw)
		}()
		wg.Wait()
		raw.wantClosed("a malformed authentication")
	}

	// Meanwhile (the slow clients still connected) good clients on every listener work.
	tlsCfg := files.ClientConfig(false)
	for _, cl := range []*kgo.Client{
		saslClient(t, b, "SASL_PLAINTEXT", scram256("alice", alicePassword), nil),
		saslClient(t, b, "SASL_SSL", scram256("alice", alicePassword), tlsCfg),
		b.Client(kgo.SeedBrokers(listenerAddr(t, b, "SSL")), kgo.DialTLSConfig(files.ClientConfig(true))),
	} {
		pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := cl.Ping(pingCtx); err != nil {
			t.Fatalf("a good client beside misbehaving ones: %v", err)
		}
		cancel()
	}
}

func TestSASLReauthentication(t *testing.T) {
	b, _ := startSecureBroker(t, map[string]string{"connections.max.reauth.ms": "1000"})
	addr := listenerAddr(t, b, "SASL_PLAINTEXT")
	createTopic(t, b.Admin(), "reauth", 1, nil)

	// v1+ learns the session lifetime; v0 does not have the field.
	raw := dialRaw(t, addr)
	raw.roundTrip(handshake(1, "PLAIN"))
	resp := raw.roundTrip(authenticate(1, []byte("\x00carol\x00"+carolPassword))).(*kmsg.SASLAuthenticateResponse)
	if resp.ErrorCode != 0 || resp.SessionLifetimeMillis != 1000 {
		t.Fatalf("authenticate v1: %v lifetime %d, want lifetime 1000", kerr.ErrorForCode(resp.ErrorCode), resp.SessionLifetimeMillis)
	}
	// Re-authenticating on the open connection renews the session...
	time.Sleep(600 * time.Millisecond)
	raw.roundTrip(handshake(1, "PLAIN"))
	resp = raw.roundTrip(authenticate(1, []byte("\x00carol\x00"+carolPassword))).(*kmsg.SASLAuthenticateResponse)
	if resp.ErrorCode != 0 {
		t.Fatalf("re-authentication: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	time.Sleep(600 * time.Millisecond) // past the first session, within the second
	if m := raw.roundTrip(metadataRequest()).(*kmsg.MetadataResponse); len(m.Brokers) != 1 {
		t.Fatalf("metadata in the renewed session: %+v", m)
	}
	// ...and one that lets it expire is closed at its next request.
	time.Sleep(500 * time.Millisecond)
	raw.send(metadataRequest())
	raw.wantClosed("a request after the session expired")

	// Re-authenticating as someone else is refused.
	raw = dialRaw(t, addr)
	raw.roundTrip(handshake(1, "PLAIN"))
	raw.roundTrip(authenticate(1, []byte("\x00carol\x00"+carolPassword)))
	raw.roundTrip(handshake(1, "PLAIN"))
	raw.send(authenticate(1, []byte("\x00mallory\x00x")))
	raw.wantClosed("re-authentication as another user")

	// franz-go re-authenticates by itself and keeps producing past several lifetimes.
	cl := saslClient(t, b, "SASL_PLAINTEXT", scram256("alice", alicePassword), nil, kgo.ProducerLinger(0))
	for end := time.Now().Add(2500 * time.Millisecond); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		roundTripRecord(t, cl, "reauth", "v")
	}
}

func TestScramCredentialsAdmin(t *testing.T) {
	b := brokertest.Start(t)
	adm := b.Admin()
	ctx := testContext(t)

	res, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: "bob", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "bob-secret"},
		{User: "bob", Mechanism: kadm.ScramSha512, Iterations: 16384, Password: "bob-secret"},
	})
	if err != nil || res["bob"].Err != nil {
		t.Fatalf("alter: %v %+v", err, res)
	}

	// Raw request for what kadm would not send: duplicates, unknown mechanism, empty name,
	// deleting what does not exist.
	req := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	up := func(name string, mech int8) kmsg.AlterUserSCRAMCredentialsRequestUpsertion {
		u := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
		u.Name, u.Mechanism, u.Iterations, u.Salt, u.SaltedPassword = name, mech, 4096, []byte("salt"), []byte("salted")
		return u
	}
	del := func(name string, mech int8) kmsg.AlterUserSCRAMCredentialsRequestDeletion {
		d := kmsg.NewAlterUserSCRAMCredentialsRequestDeletion()
		d.Name, d.Mechanism = name, mech
		return d
	}
	low, high := up("low", 1), up("high", 2)
	low.Iterations, high.Iterations = 1000, 20000
	req.Upsertions = append(req.Upsertions, up("dup", 1), up("dup", 1), up("weird", 9), up("", 1), low, high)
	req.Deletions = append(req.Deletions, del("ghost", 1))
	resp, err := req.RequestWith(ctx, b.Client())
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]int16{}
	for _, r := range resp.Results {
		codes[r.User] = r.ErrorCode
	}
	wantCodes := map[string]int16{
		"dup": kerr.DuplicateResource.Code, "weird": kerr.UnsupportedSaslMechanism.Code,
		"": kerr.UnacceptableCredential.Code, "ghost": kerr.ResourceNotFound.Code,
		"low": kerr.UnacceptableCredential.Code, "high": kerr.UnacceptableCredential.Code,
	}
	for user, code := range wantCodes {
		if codes[user] != code {
			t.Errorf("alter %q: %v, want %v", user, kerr.ErrorForCode(codes[user]), kerr.ErrorForCode(code))
		}
	}

	described, err := adm.DescribeUserSCRAMs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(described) != 1 || len(described["bob"].CredInfos) != 2 || described["bob"].CredInfos[1].Iterations != 16384 {
		t.Fatalf("describe all: %+v", described)
	}
	described, _ = adm.DescribeUserSCRAMs(ctx, "nobody")
	if !errors.Is(described["nobody"].Err, kerr.ResourceNotFound) {
		t.Fatalf("describe an unknown user: %+v", described)
	}

	// The credentials survive a restart (the metadata log).
	b.Restart()
	described, err = b.Admin().DescribeUserSCRAMs(ctx, "bob")
	if err != nil || described["bob"].Err != nil || len(described["bob"].CredInfos) != 2 {
		t.Fatalf("after restart: %v %+v", err, described)
	}
	delRes, err := b.Admin().AlterUserSCRAMs(ctx, []kadm.DeleteSCRAM{{User: "bob", Mechanism: kadm.ScramSha256}}, nil)
	if err != nil || delRes["bob"].Err != nil {
		t.Fatalf("delete: %v %+v", err, delRes)
	}
}
