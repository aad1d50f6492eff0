package auth

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
)

// SCRAM iteration bounds, Kafka's (ScramMechanism's minIterations and maxIterations): fewer
// makes brute force cheap, more makes each login an easy way to burn broker CPU.
const (
	ScramMinIterations = 4096
	ScramMaxIterations = 16384
	// ScramDefaultIterations is what kafka-storage and kafka-configs use when not told.
	ScramDefaultIterations = 4096
)

// ScramMechanisms are the SCRAM mechanisms in Kafka's numbering order.
var ScramMechanisms = []string{MechanismScramSHA256, MechanismScramSHA512}

// ScramMechanismType returns Kafka's wire number for a SCRAM mechanism (the mechanism
// field of Describe/AlterUserScramCredentials): 1 for SHA-256, 2 for SHA-512.
func ScramMechanismType(name string) (int8, bool) {
	switch name {
	case MechanismScramSHA256:
		return 1, true
	case MechanismScramSHA512:
		return 2, true
	}
	return 0, false
}

// ScramMechanismName is the inverse of ScramMechanismType.
func ScramMechanismName(t int8) (string, bool) {
	switch t {
	case 1:
		return MechanismScramSHA256, true
	case 2:
		return MechanismScramSHA512, true
	}
	return "", false
}

// scramHash returns the hash of a SCRAM mechanism.
func scramHash(mechanism string) (func() hash.Hash, bool) {
	switch mechanism {
	case MechanismScramSHA256:
		return sha256.New, true
	case MechanismScramSHA512:
		return sha512.New, true
	}
	return nil, false
}

// ScramCredential is what the broker keeps for one user and mechanism (RFC 5802's
// server-side state): enough to check a proof and prove itself, never the password.
type ScramCredential struct {
	Salt       []byte
	Iterations int
	StoredKey  []byte // H(HMAC(SaltedPassword, "Client Key"))
	ServerKey  []byte // HMAC(SaltedPassword, "Server Key")
}

// SaltPassword computes Hi(password, salt, iterations), RFC 5802's SaltedPassword, which
// is what AlterUserScramCredentials carries on the wire.
func SaltPassword(mechanism, password string, salt []byte, iterations int) ([]byte, error) {
	h, ok := scramHash(mechanism)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedMechanism, mechanism)
	}
	if iterations < 1 {
		return nil, fmt.Errorf("auth: %d SCRAM iterations", iterations)
	}
	key, err := pbkdf2.Key(h, password, salt, iterations, h().Size())
	if err != nil {
		return nil, fmt.Errorf("auth: salt password: %w", err)
	}
	return key, nil
}

// CredentialFromSaltedPassword derives the stored and server keys.
func CredentialFromSaltedPassword(mechanism string, saltedPassword, salt []byte, iterations int) (ScramCredential, error) {
	h, ok := scramHash(mechanism)
	if !ok {
		return ScramCredential{}, fmt.Errorf("%w: %q", ErrUnsupportedMechanism, mechanism)
	}
	clientKey := hmacSum(h, saltedPassword, []byte("Client Key"))
	stored := h()
	stored.Write(clientKey)
	return ScramCredential{
		Salt:       append([]byte(nil), salt...),
		Iterations: iterations,
		StoredKey:  stored.Sum(nil),
		ServerKey:  hmacSum(h, saltedPassword, []byte("Server Key")),
	}, nil
}

// NewScramCredential derives a credential from a password. A nil salt gets a random
// 32-byte one (Kafka's ScramFormatter uses a random salt too).
func NewScramCredential(mechanism, password string, salt []byte, iterations int) (ScramCredential, error) {
	if salt == nil {
		salt = make([]byte, 32)
		_, _ = rand.Read(salt) // crypto/rand.Read never fails (Go 1.24+)
	}
	salted, err := SaltPassword(mechanism, password, salt, iterations)
	if err != nil {
		return ScramCredential{}, err
	}
	return CredentialFromSaltedPassword(mechanism, salted, salt, iterations)
}

func hmacSum(h func() hash.Hash, key, msg []byte) []byte {
	mac := hmac.New(h, key)
	mac.Write(msg)
	return mac.Sum(nil)
}
