package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
)

// scramNonceBytes is the random part the server adds to the client's nonce.
const scramNonceBytes = 24

// ScramServer is the server side of SCRAM-SHA-256 or SCRAM-SHA-512 (RFC 5802, RFC 7677):
// client-first → server-first (nonce, salt, iterations), client-final → server-final
// (the server signature). It is one exchange; make a new one per authentication.
type ScramServer struct {
	mechanism string
	hash      func() hash.Hash
	lookup    CredentialLookup
	random    io.Reader

	step        int // 0: expecting client-first; 1: expecting client-final; 2: done or failed
	first       clientFirst
	serverFirst string
	nonce       string // client nonce + server nonce
	cred        ScramCredential
	known       bool // the user has a credential; unknown users fail at the proof
	user        string
}

// NewScramServer starts an exchange for mechanism. lookup finds credentials; random, nil
// for crypto/rand, makes the server nonce.
func NewScramServer(mechanism string, lookup CredentialLookup, random io.Reader) (*ScramServer, error) {
	h, ok := scramHash(mechanism)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedMechanism, mechanism)
	}
	if random == nil {
		random = rand.Reader
	}
	return &ScramServer{mechanism: mechanism, hash: h, lookup: lookup, random: random}, nil
}

// Step implements Exchange.
func (s *ScramServer) Step(msg []byte) ([]byte, bool, error) {
	switch s.step {
	case 0:
		s.step = 2 // until it succeeds
		out, err := s.clientFirst(msg)
		if err != nil {
			return nil, false, err
		}
		s.step = 1
		return out, false, nil
	case 1:
		s.step = 2
		out, err := s.clientFinal(msg)
		if err != nil {
			return nil, false, err
		}
		return out, true, nil
	}
	return nil, false, fmt.Errorf("%w: SCRAM exchange already finished", ErrMalformed)
}

// User implements Exchange.
func (s *ScramServer) User() string { return s.user }

func (s *ScramServer) clientFirst(msg []byte) ([]byte, error) {
	cf, err := parseClientFirst(msg)
	if err != nil {
		return nil, err
	}
	if cf.tokenAuth {
		return nil, fmt.Errorf("%w: delegation tokens are not supported", ErrAuthenticationFailed)
	}
	if cf.authzid != "" && cf.authzid != cf.user {
		return nil, fmt.Errorf("%w: authorization id %q differs from the user name", ErrAuthenticationFailed, cf.authzid)
	}
	s.first = cf
	if s.lookup != nil {
		s.cred, s.known = s.lookup(cf.user, s.mechanism)
	}
	if !s.known || s.cred.Iterations < 1 {
		// Go on with a made-up credential so that an unknown user fails where a wrong
		// password does, not sooner: the answer must not tell which users exist.
		s.known = false
		s.cred = ScramCredential{Salt: s.fakeSalt(cf.user), Iterations: ScramDefaultIterations}
	}
	random := make([]byte, scramNonceBytes)
	if _, err := io.ReadFull(s.random, random); err != nil {
		return nil, fmt.Errorf("auth: server nonce: %w", err)
	}
	s.nonce = cf.nonce + base64.RawStdEncoding.EncodeToString(random)
	s.serverFirst = "r=" + s.nonce + ",s=" + base64.StdEncoding.EncodeToString(s.cred.Salt) +
		",i=" + strconv.Itoa(s.cred.Iterations)
	return []byte(s.serverFirst), nil
}

// fakeSalt is stable per user within the exchange's process, so repeated probes of one
// unknown user see one salt, as they would for a real user.
func (s *ScramServer) fakeSalt(user string) []byte {
	return hmacSum(s.hash, fakeSaltKey[:], []byte(user))[:16]
}

// fakeSaltKey keys fakeSalt. It is random per process and never changes after start, so
// it is not mutable state.
var fakeSaltKey = func() (k [32]byte) { _, _ = rand.Read(k[:]); return }()

func (s *ScramServer) clientFinal(msg []byte) ([]byte, error) {
	cf, err := parseClientFinal(msg)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(cf.channelBinding, []byte(s.first.gs2Header)) != 1 {
		return nil, fmt.Errorf("%w: channel binding does not match the gs2 header", ErrAuthenticationFailed)
	}
	// The nonce must end with the server's (Kafka's check, endsWith): librdkafka sends
	// its own nonce again in front of the full one. The proof covers the message as
	// sent, so this loosens nothing.
	if !strings.HasSuffix(cf.nonce, s.nonce) {
		return nil, fmt.Errorf("%w: nonce does not match", ErrAuthenticationFailed)
	}
	authMessage := []byte(s.first.bare + "," + s.serverFirst + "," + cf.withoutProof)
	size := s.hash().Size()
	if len(cf.proof) != size || len(s.cred.StoredKey) != size || len(s.cred.ServerKey) != size || !s.known {
		return nil, ErrAuthenticationFailed
	}
	signature := hmacSum(s.hash, s.cred.StoredKey, authMessage)
	clientKey := make([]byte, size)
	for i := range clientKey {
		clientKey[i] = cf.proof[i] ^ signature[i]
	}
	h := s.hash()
	h.Write(clientKey)
	if !hmac.Equal(h.Sum(nil), s.cred.StoredKey) {
		return nil, ErrAuthenticationFailed
	}
	s.user = s.first.user
	serverSignature := hmacSum(s.hash, s.cred.ServerKey, authMessage)
	return []byte("v=" + base64.StdEncoding.EncodeToString(serverSignature)), nil
}
