package api

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/auth"
)

// SASLConfig is what SaslHandshake and SaslAuthenticate need from the broker.
type SASLConfig struct {
	// Mechanisms returns what a SASL listener offers (by listener name), or nil when the
	// listener offers nothing, which fails every handshake.
	Mechanisms func(listener string) *auth.Mechanisms
	// ReauthAfter is connections.max.reauth.ms (KIP-368): when positive, a session must
	// re-authenticate within it or the connection closes at its next request.
	ReauthAfter time.Duration
	// FailureDelay is connection.failed.authentication.delay.ms: a failed authentication
	// is answered, and its connection closed, only after this long, which slows brute
	// force down without holding anything but that connection's own reply.
	FailureDelay time.Duration
	// OnFailure, if set, counts a failed authentication (the server's metric), by
	// listener and mechanism.
	OnFailure func(listener, mechanism string)
}

// saslPhase is where a connection of a SASL listener is in its authentication.
type saslPhase uint8

const (
	// saslHandshake: nothing yet; ApiVersions and SaslHandshake are allowed.
	saslHandshake saslPhase = iota
	// saslRawToken: a v0 SaslHandshake chose a mechanism, so the next frames are bare
	// SASL tokens without a request header (KIP-152's old framing).
	saslRawToken
	// saslAuthenticate: a v1 SaslHandshake chose a mechanism; SaslAuthenticate requests
	// carry the tokens.
	saslAuthenticate
	// saslDone: authenticated; every request is allowed until the session expires.
	saslDone
	// saslFailed: authentication failed; the connection is closing.
	saslFailed
)

// saslState is a connection's authentication state. Only the connection's reader
// goroutine reads or changes it (Handle runs there, and so do the server's frame-size
// checks), so it needs no lock.
type saslState struct {
	phase     saslPhase
	mechanism string        // chosen by the last SaslHandshake
	exchange  auth.Exchange // the exchange in progress
	version   int16         // of the SaslHandshake that started it
	user      string        // authenticated user; "" before the first success
	expires   time.Time     // zero: the session never expires (KIP-368)
	// reauth is true while an authenticated connection re-authenticates; the old session
	// stays valid meanwhile, until it expires.
	reauth bool
}

// AwaitingRawSASLToken reports whether the next frame on the connection is a bare SASL
// token (after a v0 SaslHandshake) rather than a request. The server reads such a frame
// with the authentication size limits and hands it to Handle like any other.
func (s *Session) AwaitingRawSASLToken() bool { return s.sasl.phase == saslRawToken }

// Authenticating reports whether the connection has yet to authenticate, so the server
// holds its frames to sasl.server.max.receive.size rather than socket.request.max.bytes.
// A re-authenticating connection (KIP-368) is not: its session is still valid.
func (s *Session) Authenticating() bool {
	return s.RequireSASL && s.sasl.user == ""
}

// saslGate decides what happens to a request on a SASL listener before it is decoded:
// nil to serve it, or a reason to close the connection (Kafka closes connections that
// send anything else before authenticating, or after the session expired).
func (d *Dispatcher) saslGate(s *Session, key int16) string {
	if !s.RequireSASL {
		return ""
	}
	st := &s.sasl
	switch st.phase {
	case saslDone, saslAuthenticate:
		if st.user != "" && !st.expires.IsZero() && !d.cfg.Now().Before(st.expires) &&
			key != saslHandshakeKey && key != saslAuthenticateKey {
			return "the SASL session expired without re-authentication (connections.max.reauth.ms)"
		}
		if st.phase == saslDone || st.reauth || key == saslAuthenticateKey || key == apiVersionsKey {
			return ""
		}
		return "request before SASL authentication completed"
	case saslHandshake:
		if key == apiVersionsKey || key == saslHandshakeKey {
			return ""
		}
		return "request before SASL authentication"
	}
	return "request after a failed SASL authentication"
}

// handleRawSASLToken serves a bare token after a v0 SaslHandshake: the answer goes back
// as a bare size-prefixed frame, and a failure closes the connection (there is no way to
// say why in this framing) after the failure delay.
func (d *Dispatcher) handleRawSASLToken(ctx context.Context, s *Session, token []byte) *Reply {
	reply := NewReply()
	answer, err := d.saslStep(s, token)
	if err != nil {
		d.afterFailureDelay(ctx, reply, reply.CloseConnection)
		return reply
	}
	reply.SendBytes(answer)
	return reply
}

// saslStep feeds one token to the exchange in progress and, when it completes, makes the
// connection's principal the authenticated user. An error has already been logged and
// has moved the session to saslFailed.
func (d *Dispatcher) saslStep(s *Session, token []byte) ([]byte, error) {
	st := &s.sasl
	answer, done, err := st.exchange.Step(token)
	if err == nil && done && st.user != "" && st.exchange.User() != st.user {
		err = errPrincipalChanged
	}
	if err != nil {
		d.cfg.Logger.Info("SASL authentication failed", "remote", s.RemoteAddr, "listener", s.Listener,
			"mechanism", st.mechanism, "reauthentication", st.reauth, "err", err)
		st.phase, st.exchange = saslFailed, nil
		if d.cfg.SASL.OnFailure != nil {
			d.cfg.SASL.OnFailure(s.Listener, st.mechanism)
		}
		return nil, err
	}
	if !done {
		return answer, nil
	}
	st.user = st.exchange.User()
	st.phase, st.exchange, st.reauth = saslDone, nil, false
	st.expires = time.Time{}
	if d.cfg.SASL.ReauthAfter > 0 {
		st.expires = d.cfg.Now().Add(d.cfg.SASL.ReauthAfter)
	}
	s.SetPrincipal(st.user)
	return answer, nil
}

// afterFailureDelay completes reply with complete once the failure delay has passed, or
// at once with a close if the connection goes first. Only this connection's reply waits:
// the timer runs on its own, and the connection's writer holds later replies behind it.
func (d *Dispatcher) afterFailureDelay(ctx context.Context, reply *Reply, complete func()) {
	delay := d.cfg.SASL.FailureDelay
	if delay <= 0 {
		complete()
		return
	}
	timer := time.AfterFunc(delay, complete)
	// The connection's context ends when it closes, which also releases this.
	context.AfterFunc(ctx, func() {
		if timer.Stop() {
			reply.CloseConnection()
		}
	})
}

// saslFailure answers a failed SaslAuthenticate with SASL_AUTHENTICATION_FAILED and its
// message after the failure delay, then closes the connection, as Kafka does.
func (d *Dispatcher) saslFailure(ctx context.Context, r *request, resp *kmsg.SASLAuthenticateResponse) {
	r.reply.CloseAfterSend()
	d.afterFailureDelay(ctx, r.reply, func() { r.respond(resp) })
}
