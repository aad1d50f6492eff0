package metadata

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// ErrUnknownScramCredential is a UserScramCredential removal for a user and mechanism
// that have no credential. Kafka: RESOURCE_NOT_FOUND.
var ErrUnknownScramCredential = errors.New("metadata: no such SCRAM credential")

// UserScramCredential sets (upserts) or removes one user's SCRAM credential for one
// mechanism, as Kafka's UserScramCredentialRecord and RemoveUserScramCredentialRecord do.
// It carries what the server side of SCRAM needs (RFC 5802: salt, iterations, stored key,
// server key), never the password. Mechanism is Kafka's name, SCRAM-SHA-256 or
// SCRAM-SHA-512; which names and iteration counts are allowed is the proposer's check
// (AlterUserScramCredentials, --add-scram), apply keeps the record well formed.
type UserScramCredential struct {
	User       string `json:"user"`
	Mechanism  string `json:"mechanism"`
	Salt       []byte `json:"salt,omitempty"`
	Iterations int32  `json:"iterations,omitempty"`
	StoredKey  []byte `json:"storedKey,omitempty"`
	ServerKey  []byte `json:"serverKey,omitempty"`
	Remove     bool   `json:"remove,omitempty"`
}

// ScramKey names one credential: a user and a mechanism.
type ScramKey struct {
	User      string
	Mechanism string
}

// ScramCredential is a stored SCRAM credential. Its byte slices are shared by Images:
// never modify them.
type ScramCredential struct {
	Salt       []byte
	Iterations int32
	StoredKey  []byte
	ServerKey  []byte
}

// Type implements Record.
func (UserScramCredential) Type() RecordType { return RecordUserScramCredential }

func (UserScramCredential) isRecord() {}

// ScramCredential returns user's credential for mechanism.
func (img *Image) ScramCredential(user, mechanism string) (ScramCredential, bool) {
	c, ok := img.scramCredentials[ScramKey{User: user, Mechanism: mechanism}]
	return c, ok
}

// ScramCredentials returns every SCRAM credential. The map is shared: do not modify it.
func (img *Image) ScramCredentials() map[ScramKey]ScramCredential { return img.scramCredentials }

func (img *Image) applyUserScramCredential(r UserScramCredential, index uint64) (*Image, error) {
	if r.User == "" || r.Mechanism == "" {
		return nil, fmt.Errorf("%w: SCRAM credential needs a user and a mechanism", ErrInvalidRecord)
	}
	key := ScramKey{User: r.User, Mechanism: r.Mechanism}
	if r.Remove {
		if _, ok := img.scramCredentials[key]; !ok {
			return nil, fmt.Errorf("%w: %s for user %q", ErrUnknownScramCredential, r.Mechanism, r.User)
		}
	} else if len(r.Salt) == 0 || r.Iterations <= 0 || len(r.StoredKey) == 0 || len(r.ServerKey) == 0 {
		return nil, fmt.Errorf("%w: SCRAM credential for user %q lacks salt, iterations or keys", ErrInvalidRecord, r.User)
	}
	n := img.next(index)
	n.scramCredentials = maps.Clone(img.scramCredentials)
	if n.scramCredentials == nil {
		n.scramCredentials = map[ScramKey]ScramCredential{}
	}
	if r.Remove {
		delete(n.scramCredentials, key)
	} else {
		n.scramCredentials[key] = ScramCredential{Salt: r.Salt, Iterations: r.Iterations, StoredKey: r.StoredKey, ServerKey: r.ServerKey}
	}
	return n, nil
}

// scramCredentialRecords returns the records that rebuild the credentials, sorted by user
// then mechanism, for snapshots.
func (img *Image) scramCredentialRecords() []UserScramCredential {
	keys := slices.SortedFunc(maps.Keys(img.scramCredentials), func(a, b ScramKey) int {
		return cmp.Or(cmp.Compare(a.User, b.User), cmp.Compare(a.Mechanism, b.Mechanism))
	})
	out := make([]UserScramCredential, 0, len(keys))
	for _, k := range keys {
		c := img.scramCredentials[k]
		out = append(out, UserScramCredential{User: k.User, Mechanism: k.Mechanism, Salt: c.Salt,
			Iterations: c.Iterations, StoredKey: c.StoredKey, ServerKey: c.ServerKey})
	}
	return out
}
