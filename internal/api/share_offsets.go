package api

// What the share group operator APIs (DescribeShareGroupOffsets 90,
// AlterShareGroupOffsets 91, DeleteShareGroupOffsets 92) and DeleteGroups of a share
// group share: finding the group, finding which of its share-partitions have state,
// and lag.
//
// Which share-partitions have state is read from the state itself (the
// __share_group_state index on each state partition's leader), not from group
// metadata as Kafka's ShareGroupStatePartitionMetadata record does: membership is not
// persisted here (kmsg has no schemas for Kafka's share group records), and a data
// leader creates a share-partition's state without telling the coordinator. The cost is
// one unfenced ReadShareGroupState per state leader naming every partition of every
// topic, paid only by these operator calls.

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/nagare-dev/nagare/internal/group"
	"github.com/nagare-dev/nagare/internal/metadata"
	"github.com/nagare-dev/nagare/internal/share"
)

// errNoShares: share groups are not served by this broker.
var errNoShares = newError(kerr.UnsupportedVersion, "share groups are not enabled")

// operatorShareGroup checks that groupID is a share group this broker coordinates and
// reports whether it has no members. A share group the coordinator does not know (its
// membership is not persisted: after a restart or a coordinator move) still exists,
// empty, while it has share state, as Kafka's persisted share groups do.
func (d *Dispatcher) operatorShareGroup(ctx context.Context, groupID string) (empty bool, err error) {
	if d.cfg.Shares == nil {
		return false, errNoShares
	}
	desc, err := d.cfg.Groups.DescribeShareGroup(groupID)
	if err == nil {
		return desc.State == group.ShareEmpty, nil
	}
	if !errors.Is(err, group.ErrGroupIDNotFound) {
		return false, err
	}
	if _, exists := d.cfg.Groups.IsShareGroup(groupID); exists {
		return false, err // a group of another kind
	}
	state, serr := d.shareGroupState(ctx, groupID)
	if serr != nil {
		return false, serr
	}
	if len(state) == 0 {
		return false, err
	}
	return true, nil
}

// shareGroupState returns the stored snapshots of every share-partition of groupID
// that has state, over every topic in the metadata image.
func (d *Dispatcher) shareGroupState(ctx context.Context, groupID string) (map[share.Key][]byte, error) {
	var keys []share.Key
	for _, t := range d.cfg.Metadata.Image().Topics() {
		if t.Name == share.StateTopic {
			continue
		}
		keys = append(keys, shareKeys(groupID, t)...)
	}
	return d.cfg.Shares.ReadAll(ctx, keys)
}

// shareKeys are the keys of every partition of t in groupID.
func shareKeys(groupID string, t *metadata.Topic) []share.Key {
	keys := make([]share.Key, len(t.Partitions))
	for i := range t.Partitions {
		keys[i] = share.Key{Group: groupID, TopicID: t.ID, Partition: int32(i)}
	}
	return keys
}

// dropLoaded forgets a share-partition this broker holds after its state was reset or
// deleted; a leader on another broker notices when a member's share session opens.
func (d *Dispatcher) dropLoaded(key share.Key) {
	d.cfg.Shares.Drop(key)
}

// shareLag is KIP-1226's lag of a share-partition: the high watermark less the start
// offset and the acknowledged or archived offsets past it; -1 when this broker has no
// replica of the partition (a follower's high watermark may trail the leader's).
func (d *Dispatcher) shareLag(topic string, index int32, sum share.Summary) int64 {
	part, ok := d.cfg.Partitions.Get(topic, index)
	if !ok {
		return -1
	}
	return max(part.Log().HighWatermark()-sum.StartOffset-sum.Completed, 0)
}

// deleteShareState deletes the state of keys and drops what this broker holds of them.
func (d *Dispatcher) deleteShareState(ctx context.Context, keys []share.Key) error {
	for _, k := range keys {
		if err := d.cfg.Shares.Store().Delete(ctx, k); err != nil {
			return err
		}
		d.dropLoaded(k)
	}
	return nil
}

// deleteGroup serves one group of DeleteGroups. A share group's state is deleted
// first, as Kafka's coordinator deletes it through the persister before writing the
// group's tombstones, so a group of the same name starts afresh at
// share.auto.offset.reset; a share group known only by its state (after a coordinator
// restart) is deleted by deleting that state. A member joining between the two steps
// makes the answer NON_EMPTY_GROUP with the state already gone (it starts afresh).
func (d *Dispatcher) deleteGroup(ctx context.Context, groupID string) error {
	if d.cfg.Shares == nil {
		return d.cfg.Groups.DeleteGroup(groupID)
	}
	isShare, exists := d.cfg.Groups.IsShareGroup(groupID)
	if exists && !isShare {
		return d.cfg.Groups.DeleteGroup(groupID)
	}
	empty, err := d.operatorShareGroup(ctx, groupID)
	switch {
	case err != nil:
		return err
	case !empty:
		return group.ErrNonEmptyGroup
	}
	state, err := d.shareGroupState(ctx, groupID)
	if err != nil {
		return err
	}
	keys := make([]share.Key, 0, len(state))
	for k := range state {
		keys = append(keys, k)
	}
	if err := d.deleteShareState(ctx, keys); err != nil {
		return err
	}
	if !exists {
		return nil
	}
	return d.cfg.Groups.DeleteGroup(groupID)
}
