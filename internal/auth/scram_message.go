package auth

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
)

// clientFirst is RFC 5802's client-first-message:
//
//	gs2-header client-first-message-bare
//	gs2-header = ("n" | "y") "," ["a=" saslname] ","
//	client-first-message-bare = "n=" saslname ",r=" nonce ["," extensions]
type clientFirst struct {
	gs2Header string // as sent, for the channel binding check
	authzid   string // "" when absent
	user      string // unescaped
	nonce     string
	bare      string // client-first-message-bare, part of the AuthMessage
	// tokenAuth is Kafka's tokenauth=true extension (delegation tokens), which Nagare
	// does not serve.
	tokenAuth bool
}

// clientFinal is RFC 5802's client-final-message:
//
//	"c=" base64(gs2-header) ",r=" nonce ["," extensions] ",p=" base64(proof)
type clientFinal struct {
	channelBinding []byte
	nonce          string
	withoutProof   string // part of the AuthMessage
	proof          []byte
}

// parseClientFirst parses and checks a client-first-message. Channel binding ("p=") is
// refused: Kafka does not support it either.
func parseClientFirst(msg []byte) (clientFirst, error) {
	var cf clientFirst
	s := string(msg)
	if !isPrintable(s) {
		return cf, fmt.Errorf("%w: client-first-message has non-printable bytes", ErrMalformed)
	}
	flag, rest, ok := strings.Cut(s, ",")
	if !ok {
		return cf, fmt.Errorf("%w: client-first-message has no gs2 header", ErrMalformed)
	}
	switch flag {
	case "n", "y":
	default:
		return cf, fmt.Errorf("%w: channel binding flag %q is not supported", ErrMalformed, flag)
	}
	authz, bare, ok := strings.Cut(rest, ",")
	if !ok {
		return cf, fmt.Errorf("%w: client-first-message has an incomplete gs2 header", ErrMalformed)
	}
	if authz != "" {
		name, ok := strings.CutPrefix(authz, "a=")
		if !ok {
			return cf, fmt.Errorf("%w: bad authorization id %q", ErrMalformed, authz)
		}
		var err error
		if cf.authzid, err = unescapeSaslName(name); err != nil {
			return cf, err
		}
	}
	cf.gs2Header = flag + "," + authz + ","
	cf.bare = bare
	fields := strings.Split(bare, ",")
	if len(fields) < 2 {
		return cf, fmt.Errorf("%w: client-first-message-bare needs n= and r=", ErrMalformed)
	}
	name, ok := strings.CutPrefix(fields[0], "n=")
	if !ok {
		return cf, fmt.Errorf("%w: client-first-message-bare starts with %q, not n=", ErrMalformed, fields[0])
	}
	var err error
	if cf.user, err = unescapeSaslName(name); err != nil {
		return cf, err
	}
	if cf.user == "" {
		return cf, fmt.Errorf("%w: empty user name", ErrMalformed)
	}
	if cf.nonce, ok = strings.CutPrefix(fields[1], "r="); !ok || cf.nonce == "" {
		return cf, fmt.Errorf("%w: client-first-message-bare has no nonce", ErrMalformed)
	}
	for _, ext := range fields[2:] {
		key, value, ok := strings.Cut(ext, "=")
		if !ok || key == "" {
			return cf, fmt.Errorf("%w: bad extension %q", ErrMalformed, ext)
		}
		if key == "tokenauth" && strings.EqualFold(value, "true") {
			cf.tokenAuth = true
		}
	}
	return cf, nil
}

// parseClientFinal parses a client-final-message.
func parseClientFinal(msg []byte) (clientFinal, error) {
	var cf clientFinal
	s := string(msg)
	if !isPrintable(s) {
		return cf, fmt.Errorf("%w: client-final-message has non-printable bytes", ErrMalformed)
	}
	i := strings.LastIndex(s, ",p=")
	if i < 0 {
		return cf, fmt.Errorf("%w: client-final-message has no proof", ErrMalformed)
	}
	cf.withoutProof = s[:i]
	proof, err := base64.StdEncoding.DecodeString(s[i+len(",p="):])
	if err != nil || len(proof) == 0 {
		return cf, fmt.Errorf("%w: client proof is not base64", ErrMalformed)
	}
	cf.proof = proof
	fields := strings.Split(cf.withoutProof, ",")
	if len(fields) < 2 {
		return cf, fmt.Errorf("%w: client-final-message needs c= and r=", ErrMalformed)
	}
	cb, ok := strings.CutPrefix(fields[0], "c=")
	if !ok {
		return cf, fmt.Errorf("%w: client-final-message starts with %q, not c=", ErrMalformed, fields[0])
	}
	if cf.channelBinding, err = base64.StdEncoding.DecodeString(cb); err != nil {
		return cf, fmt.Errorf("%w: channel binding is not base64", ErrMalformed)
	}
	if cf.nonce, ok = strings.CutPrefix(fields[1], "r="); !ok || cf.nonce == "" {
		return cf, fmt.Errorf("%w: client-final-message has no nonce", ErrMalformed)
	}
	return cf, nil
}

// unescapeSaslName undoes RFC 5802's saslname escaping: "=2C" is ',' and "=3D" is '=';
// any other '=' is an error, as the RFC says.
func unescapeSaslName(s string) (string, error) {
	if !strings.Contains(s, "=") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", fmt.Errorf("%w: invalid escape in user name %q", ErrMalformed, s)
		}
		i += 2
	}
	return b.String(), nil
}

// isPrintable accepts the characters SCRAM messages are made of (UTF-8 user names
// included) and refuses control bytes, NUL in particular.
func isPrintable(s string) bool {
	return bytes.IndexFunc([]byte(s), func(r rune) bool { return r < 0x20 || r == 0x7f }) < 0
}
