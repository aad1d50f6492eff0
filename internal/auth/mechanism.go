package auth

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// SASL mechanism names, as clients send them in SaslHandshake.
const (
	MechanismPlain       = "PLAIN"
	MechanismScramSHA256 = "SCRAM-SHA-256"
	MechanismScramSHA512 = "SCRAM-SHA-512"
)

// Errors an Exchange returns. Both fail the authentication; the api layer answers
// SASL_AUTHENTICATION_FAILED with the error's text, so the text never says more than
// Kafka's would (in particular not whether the user exists).
var (
	// ErrAuthenticationFailed: the credentials do not match.
	ErrAuthenticationFailed = errors.New("auth: authentication failed: invalid credentials")
	// ErrMalformed: the client's message does not follow the mechanism's grammar.
	ErrMalformed = errors.New("auth: malformed SASL message")
	// ErrUnsupportedMechanism: the mechanism is not enabled on this listener.
	ErrUnsupportedMechanism = errors.New("auth: unsupported SASL mechanism")
)

// Exchange is one SASL authentication in progress on the server side.
type Exchange interface {
	// Step consumes the client's next message and returns the server's answer. done is
	// true once the client has authenticated (the answer may still carry data, such as
	// SCRAM's server signature). An error ends the exchange: authentication failed.
	Step(message []byte) (answer []byte, done bool, err error)
	// User is the authenticated user name (without "User:"); valid once Step said done.
	User() string
}

// CredentialLookup finds a user's SCRAM credential for one mechanism.
type CredentialLookup func(user, mechanism string) (ScramCredential, bool)

// Mechanisms is what one listener offers: the enabled mechanism names in order, the
// PLAIN users and where SCRAM credentials come from. It is immutable once built.
type Mechanisms struct {
	enabled    []string
	plainUsers map[string]string
	scram      CredentialLookup
	random     io.Reader // nil: crypto/rand
}

// NewMechanisms checks the enabled names and returns the set. plainUsers may be nil when
// PLAIN is not enabled; scram may be nil when no SCRAM mechanism is.
func NewMechanisms(enabled []string, plainUsers map[string]string, scram CredentialLookup) (*Mechanisms, error) {
	m := &Mechanisms{plainUsers: plainUsers, scram: scram}
	for _, name := range enabled {
		name = strings.TrimSpace(name)
		switch name {
		case MechanismPlain, MechanismScramSHA256, MechanismScramSHA512:
		case "":
			continue
		default:
			return nil, fmt.Errorf("%w: %q", ErrUnsupportedMechanism, name)
		}
		if !slices.Contains(m.enabled, name) {
			m.enabled = append(m.enabled, name)
		}
	}
	if slices.Contains(m.enabled, MechanismPlain) && len(plainUsers) == 0 {
		return nil, errors.New("auth: PLAIN is enabled but no PLAIN users are configured (sasl.jaas.config user_<name>=\"password\")")
	}
	return m, nil
}

// Enabled lists the enabled mechanism names, as SaslHandshake answers them; none for a
// nil Mechanisms (a listener without SASL configured).
func (m *Mechanisms) Enabled() []string {
	if m == nil {
		return nil
	}
	return slices.Clone(m.enabled)
}

// Start begins an exchange with the named mechanism, or ErrUnsupportedMechanism when it is
// not enabled.
func (m *Mechanisms) Start(mechanism string) (Exchange, error) {
	if m == nil || !slices.Contains(m.enabled, mechanism) {
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedMechanism, mechanism)
	}
	switch mechanism {
	case MechanismPlain:
		return &PlainServer{users: m.plainUsers}, nil
	default:
		return NewScramServer(mechanism, m.scram, m.random)
	}
}
