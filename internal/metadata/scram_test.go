package metadata

import (
	"bufio"
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func sampleScram(user, mech string) UserScramCredential {
	return UserScramCredential{User: user, Mechanism: mech, Salt: []byte("salt-" + user), Iterations: 4096,
		StoredKey: []byte("stored-" + user), ServerKey: []byte("server-" + user)}
}

// TestScramCredentials: upsert, replace and remove; bad records refused; the credentials
// survive a snapshot and a record round trip.
func TestScramCredentials(t *testing.T) {
	alice256 := sampleScram("alice", "SCRAM-SHA-256")
	replaced := alice256
	replaced.Iterations = 8192
	img := mustApply(t, emptyImage,
		alice256,
		sampleScram("alice", "SCRAM-SHA-512"),
		sampleScram("bob", "SCRAM-SHA-256"),
		replaced,
		UserScramCredential{User: "bob", Mechanism: "SCRAM-SHA-256", Remove: true},
	)
	if c, ok := img.ScramCredential("alice", "SCRAM-SHA-256"); !ok || c.Iterations != 8192 {
		t.Fatalf("alice SHA-256 = %+v %v, want the replaced credential", c, ok)
	}
	if _, ok := img.ScramCredential("bob", "SCRAM-SHA-256"); ok {
		t.Fatal("bob's removed credential is still there")
	}
	if n := len(img.ScramCredentials()); n != 2 {
		t.Fatalf("%d credentials, want 2", n)
	}

	for _, bad := range []UserScramCredential{
		{User: "", Mechanism: "SCRAM-SHA-256"},
		{User: "x", Mechanism: "SCRAM-SHA-256"}, // no keys
		{User: "nobody", Mechanism: "SCRAM-SHA-256", Remove: true},
	} {
		if _, err := img.apply(bad, img.Index()+1); err == nil {
			t.Errorf("apply %+v: accepted", bad)
		}
	}
	if _, err := img.apply(UserScramCredential{User: "nobody", Mechanism: "SCRAM-SHA-256", Remove: true}, 99); !errors.Is(err, ErrUnknownScramCredential) {
		t.Errorf("removing an unknown credential: %v, want ErrUnknownScramCredential", err)
	}

	b, err := EncodeRecord(alice256)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := DecodeRecord(b)
	if err != nil || !reflect.DeepEqual(rec, alice256) {
		t.Fatalf("record round trip: %v %#v", err, rec)
	}

	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	if err := writeSnapshot(w, img); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	got, err := readSnapshot(bufio.NewReader(&buf))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.ScramCredentials(), img.ScramCredentials()) {
		t.Fatalf("snapshot changed the credentials:\n got %+v\nwant %+v", got.ScramCredentials(), img.ScramCredentials())
	}
}
