package api

// SaslHandshake (key 17), v0-v1.
//
// Behaviour: on a SASL listener, the client names a mechanism; the response lists the
// enabled ones (sasl.enabled.mechanisms). An enabled mechanism starts an exchange: after
// v0 the next frames are bare SASL tokens (KIP-152's old framing, served by
// handleRawSASLToken), after v1 they come in SaslAuthenticate requests. A mechanism not
// enabled is UNSUPPORTED_SASL_MECHANISM and the connection closes after the response. On
// an authenticated connection a v1 handshake with the same mechanism starts a
// re-authentication (KIP-368); the old session stays valid until it expires. On a
// listener without SASL, or in any other state, ILLEGAL_SASL_STATE (and a close while
// unauthenticated).
//
// Differs from Kafka: none known. GSSAPI and OAUTHBEARER are not offered.

import (
	"context"
	"errors"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/auth"
)

const (
	saslHandshakeKey    = 17
	saslAuthenticateKey = 36
)

// errPrincipalChanged fails a re-authentication as someone else, as Kafka does.
var errPrincipalChanged = errors.New("api: cannot change principals during re-authentication")

func (d *Dispatcher) handleSASLHandshake(_ context.Context, r *request) {
	req := r.body.(*kmsg.SASLHandshakeRequest)
	resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
	s := r.session
	mechs := d.saslMechanisms(s).Enabled()
	resp.SupportedMechanisms = mechs
	st := &s.sasl
	switch {
	case !s.RequireSASL:
		resp.ErrorCode = kerr.IllegalSaslState.Code
	case st.phase == saslDone && (req.Version < 1 || st.mechanism != req.Mechanism):
		// Re-authentication needs SaslAuthenticate framing and the mechanism first used.
		resp.ErrorCode = kerr.IllegalSaslState.Code
		if req.Version >= 1 && slices.Contains(mechs, req.Mechanism) {
			resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		}
	case st.phase != saslHandshake && st.phase != saslDone:
		resp.ErrorCode = kerr.IllegalSaslState.Code
		r.reply.CloseAfterSend()
	default:
		exchange, err := d.saslMechanisms(s).Start(req.Mechanism)
		if err != nil {
			resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
			st.phase = saslFailed
			r.reply.CloseAfterSend()
			break
		}
		st.reauth = st.phase == saslDone
		st.exchange, st.mechanism, st.version = exchange, req.Mechanism, req.Version
		st.phase = saslAuthenticate
		if req.Version == 0 {
			st.phase = saslRawToken
		}
	}
	r.respond(resp)
}

// saslMechanisms returns what the session's listener offers; nil (which offers nothing)
// when SASL is not configured.
func (d *Dispatcher) saslMechanisms(s *Session) *auth.Mechanisms {
	if d.cfg.SASL.Mechanisms == nil {
		return nil
	}
	return d.cfg.SASL.Mechanisms(s.Listener)
}
