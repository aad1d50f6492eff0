package auth

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// ScramSpec is one credential to create at start, written the way kafka-storage format
// --add-scram takes it:
//
//	SCRAM-SHA-256=[name=admin,password=admin-secret]
//	SCRAM-SHA-512=[name=alice,iterations=8192,salt="c2FsdA==",password="s3cret"]
//	SCRAM-SHA-256=[name=bob,salt="...",saltedpassword="...",iterations=4096]
//
// salt and saltedpassword are base64, as in Kafka; values may be double-quoted.
type ScramSpec struct {
	Mechanism      string
	User           string
	Password       string // "" when SaltedPassword is given
	SaltedPassword []byte
	Salt           []byte // nil: random
	Iterations     int
}

// ParseScramSpec parses one --add-scram value.
func ParseScramSpec(s string) (ScramSpec, error) {
	var spec ScramSpec
	mech, body, ok := strings.Cut(strings.TrimSpace(s), "=")
	if !ok || !strings.HasPrefix(body, "[") || !strings.HasSuffix(body, "]") {
		return spec, fmt.Errorf("auth: SCRAM credential %q: want MECHANISM=[name=...,password=...]", s)
	}
	spec.Mechanism = strings.ToUpper(strings.TrimSpace(mech))
	if _, ok := ScramMechanismType(spec.Mechanism); !ok {
		return spec, fmt.Errorf("auth: SCRAM credential %q: unknown mechanism %q", s, mech)
	}
	spec.Iterations = ScramDefaultIterations
	for _, kv := range splitSpec(body[1 : len(body)-1]) {
		key, value, ok := strings.Cut(kv, "=")
		if !ok {
			return spec, fmt.Errorf("auth: SCRAM credential %q: %q is not key=value", s, kv)
		}
		value = strings.TrimSpace(value)
		if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
			value = value[1 : len(value)-1]
		}
		var err error
		switch strings.TrimSpace(key) {
		case "name":
			spec.User = value
		case "password":
			spec.Password = value
		case "iterations":
			spec.Iterations, err = strconv.Atoi(value)
		case "salt":
			spec.Salt, err = base64.StdEncoding.DecodeString(value)
		case "saltedpassword":
			spec.SaltedPassword, err = base64.StdEncoding.DecodeString(value)
		default:
			return spec, fmt.Errorf("auth: SCRAM credential %q: unknown key %q", s, key)
		}
		if err != nil {
			return spec, fmt.Errorf("auth: SCRAM credential %q: %s: %v", s, key, err)
		}
	}
	switch {
	case spec.User == "":
		return spec, fmt.Errorf("auth: SCRAM credential %q: name is required", s)
	case spec.Password == "" && spec.SaltedPassword == nil:
		return spec, fmt.Errorf("auth: SCRAM credential %q: password (or saltedpassword) is required", s)
	case spec.SaltedPassword != nil && spec.Salt == nil:
		return spec, fmt.Errorf("auth: SCRAM credential %q: saltedpassword needs salt", s)
	case spec.Iterations < ScramMinIterations || spec.Iterations > ScramMaxIterations:
		return spec, fmt.Errorf("auth: SCRAM credential %q: iterations must be %d to %d", s, ScramMinIterations, ScramMaxIterations)
	}
	return spec, nil
}

// Credential derives the credential the spec describes.
func (s ScramSpec) Credential() (ScramCredential, error) {
	if s.SaltedPassword != nil {
		return CredentialFromSaltedPassword(s.Mechanism, s.SaltedPassword, s.Salt, s.Iterations)
	}
	return NewScramCredential(s.Mechanism, s.Password, s.Salt, s.Iterations)
}

// splitSpec splits at commas outside double quotes.
func splitSpec(s string) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}
