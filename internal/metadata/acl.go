package metadata

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/nagare-dev/nagare/internal/acl"
)

// Errors of the ACL records. CreateAcls treats both as success: the ACL it asked for is
// there (someone else added it), or the one it removes is gone.
var (
	// ErrACLExists is a CreateACL whose binding, or ID, is already in the image.
	ErrACLExists = errors.New("metadata: ACL already exists")
	// ErrUnknownACL is a DeleteACL naming an ID that is not in the image.
	ErrUnknownACL = errors.New("metadata: unknown ACL")
)

// CreateACL adds one ACL binding, as Kafka's AccessControlEntryRecord. ID is chosen by
// the proposer (NewACLID) so that a delete names exactly this binding.
type CreateACL struct {
	ID string `json:"id"`
	acl.Binding
}

// DeleteACL removes the ACL with ID, as Kafka's RemoveAccessControlEntryRecord.
type DeleteACL struct {
	ID string `json:"id"`
}

// Type implements Record.
func (CreateACL) Type() RecordType { return RecordCreateACL }

// Type implements Record.
func (DeleteACL) Type() RecordType { return RecordDeleteACL }

func (CreateACL) isRecord() {}
func (DeleteACL) isRecord() {}

// NewACLID returns a fresh random ID for a CreateACL, in the text form of a UUID.
func NewACLID() string { return NewTopicID().String() }

// ACLs returns every ACL binding by ID. The map is shared: do not modify it.
func (img *Image) ACLs() map[string]acl.Binding { return img.acls }

// ACLBindings returns every ACL binding, sorted by ID so that listings are stable.
func (img *Image) ACLBindings() []acl.Binding {
	out := make([]acl.Binding, 0, len(img.acls))
	for _, id := range slices.Sorted(maps.Keys(img.acls)) {
		out = append(out, img.acls[id])
	}
	return out
}

// ACLIndex is the index of the last record that changed the ACLs (0: never), or of the
// snapshot the Image was restored from when that is later: a version the authorizer
// compares to rebuild its index only when the ACLs may have changed, so it only grows.
func (img *Image) ACLIndex() uint64 { return img.aclIndex }

func (img *Image) applyCreateACL(r CreateACL, index uint64) (*Image, error) {
	if r.ID == "" {
		return nil, fmt.Errorf("%w: ACL without an ID", ErrInvalidRecord)
	}
	if err := r.Binding.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidRecord, err)
	}
	if _, ok := img.acls[r.ID]; ok {
		return nil, fmt.Errorf("%w: ID %s", ErrACLExists, r.ID)
	}
	if id, ok := img.aclIDs[r.Binding]; ok {
		return nil, fmt.Errorf("%w: %v has ID %s", ErrACLExists, r.Binding, id)
	}
	n := img.next(index)
	n.aclIndex = index
	n.acls = maps.Clone(img.acls)
	n.aclIDs = maps.Clone(img.aclIDs)
	if n.acls == nil {
		n.acls, n.aclIDs = map[string]acl.Binding{}, map[acl.Binding]string{}
	}
	n.acls[r.ID] = r.Binding
	n.aclIDs[r.Binding] = r.ID
	return n, nil
}

func (img *Image) applyDeleteACL(r DeleteACL, index uint64) (*Image, error) {
	b, ok := img.acls[r.ID]
	if !ok {
		return nil, fmt.Errorf("%w: ID %q", ErrUnknownACL, r.ID)
	}
	n := img.next(index)
	n.aclIndex = index
	n.acls = maps.Clone(img.acls)
	n.aclIDs = maps.Clone(img.aclIDs)
	delete(n.acls, r.ID)
	delete(n.aclIDs, b)
	return n, nil
}

// aclRecords returns the records that rebuild the ACLs, sorted by ID, for snapshots.
func (img *Image) aclRecords() []CreateACL {
	out := make([]CreateACL, 0, len(img.acls))
	for _, id := range slices.Sorted(maps.Keys(img.acls)) {
		out = append(out, CreateACL{ID: id, Binding: img.acls[id]})
	}
	return out
}

// ACLID returns the ID under which b is stored, if it is.
func (img *Image) ACLID(b acl.Binding) (string, bool) {
	id, ok := img.aclIDs[b]
	return id, ok
}
