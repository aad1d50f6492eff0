package api

// SaslAuthenticate (key 36), v0-v2.
//
// Behaviour: carries one token of the exchange a v1 SaslHandshake started, and the
// server's answer back. When the exchange completes the connection's principal becomes
// User:<name> (quotas, ACLs and metrics see it from the next request on). With
// connections.max.reauth.ms set, v1+ answers session_lifetime_ms, and a connection whose
// session expires without re-authenticating is closed at its next request (KIP-368). A
// failed exchange is answered SASL_AUTHENTICATION_FAILED with a message that does not
// say whether the user exists, after connection.failed.authentication.delay.ms, and the
// connection closes. Outside an exchange: ILLEGAL_SASL_STATE, and a close unless the
// connection is authenticated. v2 is flexible.
//
// Differs from Kafka: none known; the failure delay holds only the failing connection's
// reply (its writer waits, nothing else does).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (d *Dispatcher) handleSASLAuthenticate(ctx context.Context, r *request) {
	req := r.body.(*kmsg.SASLAuthenticateRequest)
	resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	s := r.session
	st := &s.sasl
	if !s.RequireSASL || st.phase != saslAuthenticate {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		resp.ErrorMessage = ptrTo("SaslAuthenticate is not expected now: send a SaslHandshake first")
		if s.RequireSASL && st.phase != saslDone {
			r.reply.CloseAfterSend()
		}
		r.respond(resp)
		return
	}
	mechanism, reauth := st.mechanism, st.reauth
	answer, err := d.saslStep(s, req.SASLAuthBytes)
	if err != nil {
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		resp.ErrorMessage = ptrTo(authFailureMessage(mechanism, reauth, err))
		d.saslFailure(ctx, r, resp)
		return
	}
	resp.SASLAuthBytes = answer
	if st.phase == saslDone && !st.expires.IsZero() {
		resp.SessionLifetimeMillis = d.cfg.SASL.ReauthAfter.Milliseconds()
	}
	r.respond(resp)
}

// authFailureMessage is Kafka's text for a failed exchange; it never says whether the
// user or the password was wrong.
func authFailureMessage(mechanism string, reauth bool, err error) string {
	if err == errPrincipalChanged {
		return "Cannot change principals during re-authentication"
	}
	what := "authentication"
	if reauth {
		what = "re-authentication"
	}
	return "Authentication failed during " + what + " due to invalid credentials with SASL mechanism " + mechanism
}
