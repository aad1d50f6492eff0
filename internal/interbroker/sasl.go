package interbroker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// ErrAuthentication marks a failed SASL exchange with another broker, so that callers
// can say so loudly: it does not heal by retrying, unlike a broker that is away.
var ErrAuthentication = errors.New("interbroker: authentication failed")

// RoundTrip writes req on a connection and reads its response into resp; the replica
// fetcher's connection provides it, framing and correlation ids included.
type RoundTrip func(req kmsg.Request, resp kmsg.Response) error

// mechanism is franz-go's client side of the configured mechanism, nil without SASL.
func (s *Settings) mechanism() sasl.Mechanism {
	if s == nil {
		return nil
	}
	switch s.Mechanism {
	case "PLAIN":
		return plain.Auth{User: s.User, Pass: s.password}.AsMechanism()
	case "SCRAM-SHA-256":
		return scram.Auth{User: s.User, Pass: s.password}.AsSha256Mechanism()
	case "SCRAM-SHA-512":
		return scram.Auth{User: s.User, Pass: s.password}.AsSha512Mechanism()
	}
	return nil
}

// Authenticate runs the SASL exchange on a connection that has just been opened (after
// ApiVersions) or, to re-authenticate (KIP-368), between requests: SaslHandshake v1 and
// then SaslAuthenticate v1 frames carrying franz-go's mechanism's messages. host is the
// server's address. It returns the session lifetime the server granted (0: no limit).
// Without SASL it does nothing.
func (s *Settings) Authenticate(ctx context.Context, rt RoundTrip, host string) (time.Duration, error) {
	mech := s.mechanism()
	if mech == nil {
		return 0, nil
	}
	if err := handshake(rt, mech.Name()); err != nil {
		return 0, err
	}
	sess, write, err := mech.Authenticate(ctx, host)
	if err != nil {
		return 0, fmt.Errorf("interbroker: %s: %w", mech.Name(), err)
	}
	var lifetime time.Duration
	for done := false; !done || len(write) > 0; {
		resp, err := authenticateStep(rt, write)
		if err != nil {
			return 0, fmt.Errorf("%s as %s: %w", mech.Name(), s.User, err)
		}
		lifetime = time.Duration(resp.SessionLifetimeMillis) * time.Millisecond
		write = nil
		if !done {
			if done, write, err = sess.Challenge(resp.SASLAuthBytes); err != nil {
				return 0, fmt.Errorf("%w: %s as %s: %v", ErrAuthentication, mech.Name(), s.User, err)
			}
		}
	}
	return lifetime, nil
}

// handshake asks the server for the mechanism (SaslHandshake v1: tokens then go in
// SaslAuthenticate requests, KIP-152).
func handshake(rt RoundTrip, mechanism string) error {
	req := kmsg.NewPtrSASLHandshakeRequest()
	req.Version = 1
	req.Mechanism = mechanism
	resp := kmsg.NewPtrSASLHandshakeResponse()
	if err := rt(req, resp); err != nil {
		return fmt.Errorf("interbroker: sasl handshake: %w", err)
	}
	if resp.ErrorCode != 0 {
		return fmt.Errorf("%w: sasl handshake for %s (server offers %v): %v",
			ErrAuthentication, mechanism, resp.SupportedMechanisms, kerr.ErrorForCode(resp.ErrorCode))
	}
	return nil
}

// authenticateStep sends one client message and returns the server's answer; a refusal
// is ErrAuthentication with the server's message.
func authenticateStep(rt RoundTrip, msg []byte) (*kmsg.SASLAuthenticateResponse, error) {
	req := kmsg.NewPtrSASLAuthenticateRequest()
	req.Version = 1 // v1 has the session lifetime and, unlike v2, no flexible header
	req.SASLAuthBytes = msg
	resp := kmsg.NewPtrSASLAuthenticateResponse()
	if err := rt(req, resp); err != nil {
		return nil, fmt.Errorf("interbroker: sasl authenticate: %w", err)
	}
	if resp.ErrorCode != 0 {
		msg := ""
		if resp.ErrorMessage != nil {
			msg = ": " + *resp.ErrorMessage
		}
		return nil, fmt.Errorf("%w: %v%s", ErrAuthentication, kerr.ErrorForCode(resp.ErrorCode), msg)
	}
	return resp, nil
}

// IsAuthError reports whether err is an authentication failure with another broker,
// from Authenticate or from a franz-go client (which returns the broker's error code).
func IsAuthError(err error) bool {
	return errors.Is(err, ErrAuthentication) || errors.Is(err, kerr.SaslAuthenticationFailed) ||
		errors.Is(err, kerr.UnsupportedSaslMechanism) || errors.Is(err, kerr.IllegalSaslState)
}
