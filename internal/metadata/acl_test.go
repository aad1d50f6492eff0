package metadata

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/nagare-dev/nagare/internal/acl"
)

var sampleACL = acl.Binding{ResourceType: acl.ResourceTopic, ResourceName: "billing.", PatternType: acl.PatternPrefixed,
	Principal: "User:alice", Host: "*", Operation: acl.OpWrite, Permission: acl.PermissionAllow}

func TestApplyACLs(t *testing.T) {
	other := sampleACL
	other.Permission = acl.PermissionDeny
	img := mustApply(t, emptyImage, []Record{
		CreateACL{ID: "a", Binding: sampleACL},
		CreateACL{ID: "b", Binding: other},
	}...)
	if got := img.ACLBindings(); !reflect.DeepEqual(got, []acl.Binding{sampleACL, other}) {
		t.Fatalf("ACLBindings = %v", got)
	}
	if img.ACLIndex() != img.Index() {
		t.Fatalf("ACLIndex %d, Index %d", img.ACLIndex(), img.Index())
	}
	for name, tc := range map[string]struct {
		rec  Record
		want error
	}{
		"same binding":  {CreateACL{ID: "c", Binding: sampleACL}, ErrACLExists},
		"same ID":       {CreateACL{ID: "a", Binding: acl.Binding{}}, ErrInvalidRecord},
		"invalid":       {CreateACL{ID: "d", Binding: acl.Binding{ResourceType: acl.ResourceAny}}, ErrInvalidRecord},
		"no ID":         {CreateACL{Binding: sampleACL}, ErrInvalidRecord},
		"unknown ID":    {DeleteACL{ID: "zz"}, ErrUnknownACL},
		"duplicate ID2": {CreateACL{ID: "b", Binding: sampleACL}, ErrACLExists},
	} {
		if _, err := img.apply(tc.rec, img.Index()+1); !errors.Is(err, tc.want) {
			t.Errorf("%s: apply = %v, want %v", name, err, tc.want)
		}
	}
	after, err := img.apply(DeleteACL{ID: "a"}, img.Index()+1)
	if err != nil {
		t.Fatal(err)
	}
	if got := after.ACLBindings(); !reflect.DeepEqual(got, []acl.Binding{other}) || len(img.ACLs()) != 2 {
		t.Fatalf("after delete: %v (old image %d ACLs)", got, len(img.ACLs()))
	}
	// The binding is free again.
	if _, err := after.apply(CreateACL{ID: "e", Binding: sampleACL}, after.Index()+1); err != nil {
		t.Fatal(err)
	}
}

func TestSnapshotKeepsACLs(t *testing.T) {
	other := sampleACL
	other.ResourceName, other.PatternType = "*", acl.PatternLiteral
	img := mustApply(t, emptyImage, []Record{CreateACL{ID: "b", Binding: sampleACL}, CreateACL{ID: "a", Binding: other}}...)
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
	if !reflect.DeepEqual(got.ACLs(), img.ACLs()) {
		t.Fatalf("snapshot ACLs %v, want %v", got.ACLs(), img.ACLs())
	}
}

// TestSnapshotInstallDropsDeletedACLs is a follower that applied an ACL and then installs
// a snapshot taken after the ACL was deleted: the snapshot holds no ACL record, and the
// authorizer, following the FSM as the broker does (api.ApplyACLs), must stop enforcing
// the ACL. A restored Image once had ACL version 0, which the authorizer ignores once it
// holds a newer one.
func TestSnapshotInstallDropsDeletedACLs(t *testing.T) {
	follow := func(a *acl.Authorizer, img *Image) { // api.ApplyACLs, which imports this package
		if img.ACLIndex() != a.Version() {
			a.SetBindings(img.ACLIndex(), img.ACLBindings())
		}
	}
	create := CreateACL{ID: "a", Binding: sampleACL}
	a := acl.New(acl.Config{})
	f := NewFSM(nil, func() {})
	data, err := EncodeRecord(create)
	if err != nil {
		t.Fatal(err)
	}
	if err, _ := f.Apply(&raft.Log{Index: 1, Data: data}).(error); err != nil {
		t.Fatal(err)
	}
	follow(a, f.Image())
	if !a.Authorize("alice", "h", acl.OpWrite, acl.ResourceTopic, "billing.x") {
		t.Fatal("the ACL is not in force")
	}

	// The leader deleted it and compacted its log into a snapshot.
	leader := mustApply(t, emptyImage, create, DeleteACL{ID: "a"}, SetClusterID{ID: "c"})
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	if err := writeSnapshot(w, leader); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	if err := f.Restore(io.NopCloser(&buf)); err != nil {
		t.Fatal(err)
	}
	if got := f.Image().ACLIndex(); got <= 1 {
		t.Fatalf("restored ACL version %d, not newer than the 1 in force", got)
	}
	follow(a, f.Image())
	if a.Authorize("alice", "h", acl.OpWrite, acl.ResourceTopic, "billing.x") {
		t.Fatal("an ACL deleted before the snapshot is still in force after installing it")
	}
}
