package api

// AlterUserScramCredentials (key 51), v0.
//
// Behaviour: deletions remove a user's credential for one mechanism; upsertions set one
// from the client's salt, iteration count and salted password (SaltedPassword =
// Hi(password, salt, iterations), computed by the client so the password never travels),
// from which the broker derives and stores the stored and server keys. Checked per user,
// in Kafka's order and with Kafka's messages: an empty name is UNACCEPTABLE_CREDENTIAL, an
// unknown mechanism UNSUPPORTED_SASL_MECHANISM, the same user and mechanism twice in one
// request DUPLICATE_RESOURCE, iterations outside 4096..16384 or an empty salt or salted
// password UNACCEPTABLE_CREDENTIAL, deleting a credential that does not exist
// RESOURCE_NOT_FOUND. A user with any error has none of its alterations applied. One
// result per user, in request order. Needs ALTER on the cluster. The protocol is flexible
// from v0.
//
// Differs from Kafka: a user's alterations are separate records, so a failure part way
// (the quorum lost) can leave some applied.

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/auth"
	"github.com/nagare-dev/nagare/internal/metadata"
)

// scramAlteration is one deletion or upsertion, checked.
type scramAlteration struct {
	user, mechanism string
	record          metadata.UserScramCredential
}

func (d *Dispatcher) handleAlterUserScramCredentials(ctx context.Context, r *request) {
	req := r.body.(*kmsg.AlterUserSCRAMCredentialsRequest)
	resp := req.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
	img := d.cfg.Metadata.Image()

	var users []string
	failed := map[string]*kerr.Error{}
	messages := map[string]string{}
	alterations := map[string][]scramAlteration{}
	seenPair := map[[2]string]int{}
	fail := func(user string, code *kerr.Error, msg string) {
		if failed[user] == nil {
			failed[user], messages[user] = code, msg
		}
	}
	note := func(user string, mech int8) (string, bool) {
		if _, ok := alterations[user]; !ok && failed[user] == nil {
			users = append(users, user)
			alterations[user] = nil
		}
		name, known := auth.ScramMechanismName(mech)
		if known {
			seenPair[[2]string{user, name}]++
		}
		return name, known
	}
	for _, del := range req.Deletions {
		note(del.Name, del.Mechanism)
	}
	for _, up := range req.Upsertions {
		note(up.Name, up.Mechanism)
	}
	if !d.authorizedCluster(r, acl.OpAlter) { // Kafka: ALTER on CLUSTER
		for _, user := range users {
			fail(user, kerr.ClusterAuthorizationFailed, kerr.ClusterAuthorizationFailed.Message)
		}
	}
	check := func(user string, mech int8) (string, bool) {
		name, known := auth.ScramMechanismName(mech)
		switch {
		case user == "":
			fail(user, kerr.UnacceptableCredential, "Username must not be empty")
		case !known:
			fail(user, kerr.UnsupportedSaslMechanism, "Unknown SCRAM mechanism")
		case seenPair[[2]string{user, name}] > 1:
			fail(user, kerr.DuplicateResource, "A user credential cannot be altered twice in the same request")
		default:
			return name, true
		}
		return "", false
	}
	for _, del := range req.Deletions {
		name, ok := check(del.Name, del.Mechanism)
		if !ok {
			continue
		}
		if _, exists := img.ScramCredential(del.Name, name); !exists {
			fail(del.Name, kerr.ResourceNotFound, "Attempt to delete a user credential that does not exist")
			continue
		}
		alterations[del.Name] = append(alterations[del.Name], scramAlteration{user: del.Name, mechanism: name,
			record: metadata.UserScramCredential{User: del.Name, Mechanism: name, Remove: true}})
	}
	for _, up := range req.Upsertions {
		name, ok := check(up.Name, up.Mechanism)
		if !ok {
			continue
		}
		rec, err := scramUpsertRecord(up, name)
		if err != nil {
			fail(up.Name, kerr.UnacceptableCredential, err.Error())
			continue
		}
		alterations[up.Name] = append(alterations[up.Name], scramAlteration{user: up.Name, mechanism: name, record: rec})
	}
	for _, user := range users {
		res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		res.User = user
		if code := failed[user]; code != nil {
			res.ErrorCode, res.ErrorMessage = code.Code, ptrTo(messages[user])
			resp.Results = append(resp.Results, res)
			continue
		}
		for _, alt := range alterations[user] {
			if _, err := d.cfg.Metadata.Propose(ctx, alt.record); err != nil {
				res.ErrorCode, res.ErrorMessage = scramErrorCode(err), ptrTo(err.Error())
				break
			}
		}
		resp.Results = append(resp.Results, res)
	}
	r.respond(resp)
}

// scramUpsertRecord checks an upsertion's iterations, salt and salted password, and
// derives the keys to store.
func scramUpsertRecord(up kmsg.AlterUserSCRAMCredentialsRequestUpsertion, mechanism string) (metadata.UserScramCredential, error) {
	switch {
	case up.Iterations < auth.ScramMinIterations:
		return metadata.UserScramCredential{}, kafkaMessage("Too few iterations")
	case up.Iterations > auth.ScramMaxIterations:
		return metadata.UserScramCredential{}, kafkaMessage("Too many iterations")
	case len(up.Salt) == 0:
		return metadata.UserScramCredential{}, kafkaMessage("Salt must not be empty")
	case len(up.SaltedPassword) == 0:
		return metadata.UserScramCredential{}, kafkaMessage("Salted password must not be empty")
	}
	cred, err := auth.CredentialFromSaltedPassword(mechanism, up.SaltedPassword, up.Salt, int(up.Iterations))
	if err != nil {
		return metadata.UserScramCredential{}, err
	}
	return metadata.UserScramCredential{User: up.Name, Mechanism: mechanism, Salt: cred.Salt,
		Iterations: up.Iterations, StoredKey: cred.StoredKey, ServerKey: cred.ServerKey}, nil
}

// scramErrorCode maps a failed proposal: a credential removed meanwhile is
// RESOURCE_NOT_FOUND, the rest as every other API maps them.
func scramErrorCode(err error) int16 {
	if errors.Is(err, metadata.ErrUnknownScramCredential) {
		return kerr.ResourceNotFound.Code
	}
	return errorCode(err)
}

// kafkaMessage is an error whose text is Kafka's own message for the case, capitalised as
// Kafka's clients and tools show it, so it goes into the response as is.
type kafkaMessage string

func (m kafkaMessage) Error() string { return string(m) }
