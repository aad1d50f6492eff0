package metadata

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
)

// A snapshot is an Image written as the records that rebuild it, as Kafka's KRaft snapshots
// are: one format to version (the records'), and restoring runs the same checks as applying.
//
//	magic    "NGMS"               4 bytes
//	version  1                    1 byte, the snapshot framing version
//	index    uint64 big-endian    8 bytes, Image.Index
//	count    uint32 big-endian    4 bytes, number of records that follow
//	count ×  uvarint length, then an encoded record (see EncodeRecord)
//
// Records come in dependency order: SetClusterID when the cluster has an ID, RegisterBroker
// for every broker (followed by FenceBroker when it is fenced), CreateTopic for every topic (sorted by name, with its partitions and
// config overrides), AlterBrokerConfigs for every broker and the cluster default that has
// dynamic configs, and one AllocateProducerIDs{NodeID: -1, Start: 0, Count: NextProducerID}
// when any producer IDs were handed out (the blocks themselves are not kept, as in Kafka),
// then one ClientQuota per entity and key, sorted, then one UserScramCredential per user
// and mechanism, sorted, then one CreateACL per ACL, by ID.
// The count finds a truncated snapshot; raft's FileSnapshotStore also checks a CRC-64 of the
// whole file before Restore.
//
// A new kind of state comes as a new record type, not a new framing version: a snapshot
// without it reads as before (SetClusterID and AllocateProducerIDs joined without a version
// bump), and an older binary given a snapshot with it stops at the unknown record type.
const (
	snapshotMagic   = "NGMS"
	snapshotVersion = 1
	// maxSnapshotRecord bounds one record so that a corrupt length cannot allocate without
	// limit; a topic with 100k partitions of 5 replicas encodes to about 10 MiB.
	maxSnapshotRecord = 64 << 20
)

// writeSnapshot writes img in the format above.
func writeSnapshot(w *bufio.Writer, img *Image) error {
	nodeIDs := slices.Sorted(maps.Keys(img.brokerConfigs))
	count := len(img.brokers) + img.TopicCount() + len(nodeIDs)
	for _, b := range img.brokers {
		if b.Fenced {
			count++
		}
	}
	if img.clusterID != "" {
		count++
	}
	if img.nextProducerID > 0 {
		count++
	}
	quotas := img.clientQuotaRecords()
	count += len(quotas)
	scram := img.scramCredentialRecords()
	count += len(scram)
	acls := img.aclRecords()
	count += len(acls)
	var header [4 + 1 + 8 + 4]byte
	copy(header[:], snapshotMagic)
	header[4] = snapshotVersion
	binary.BigEndian.PutUint64(header[5:], img.index)
	binary.BigEndian.PutUint32(header[13:], uint32(count))
	if _, err := w.Write(header[:]); err != nil {
		return err
	}
	if img.clusterID != "" {
		if err := writeSnapshotRecord(w, SetClusterID{ID: img.clusterID}); err != nil {
			return err
		}
	}
	for _, b := range img.brokers {
		if err := writeSnapshotRecord(w, registrationOf(b)); err != nil {
			return err
		}
		if b.Fenced {
			if err := writeSnapshotRecord(w, FenceBroker{NodeID: b.NodeID}); err != nil {
				return err
			}
		}
	}
	for _, t := range img.sortedTopics() {
		if err := writeSnapshotRecord(w, CreateTopic{Name: t.Name, TopicID: t.ID, Partitions: t.Partitions, Configs: t.Configs}); err != nil {
			return err
		}
	}
	for _, id := range nodeIDs {
		if err := writeSnapshotRecord(w, AlterBrokerConfigs{NodeID: id, Set: img.brokerConfigs[id]}); err != nil {
			return err
		}
	}
	if img.nextProducerID > 0 {
		if err := writeSnapshotRecord(w, AllocateProducerIDs{NodeID: -1, Start: 0, Count: img.nextProducerID}); err != nil {
			return err
		}
	}
	for _, q := range quotas {
		if err := writeSnapshotRecord(w, q); err != nil {
			return err
		}
	}
	for _, c := range scram {
		if err := writeSnapshotRecord(w, c); err != nil {
			return err
		}
	}
	for _, a := range acls {
		if err := writeSnapshotRecord(w, a); err != nil {
			return err
		}
	}
	return nil
}

func writeSnapshotRecord(w *bufio.Writer, rec Record) error {
	b, err := EncodeRecord(rec)
	if err != nil {
		return err
	}
	var n [binary.MaxVarintLen64]byte
	if _, err := w.Write(n[:binary.PutUvarint(n[:], uint64(len(b)))]); err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// readSnapshot reads the format above and rebuilds the Image, every record checked as Apply
// checks it. Any failure is ErrCorruptSnapshot, or ErrUnknownRecord when a newer version
// wrote the snapshot.
func readSnapshot(r *bufio.Reader) (*Image, error) {
	var header [4 + 1 + 8 + 4]byte
	if _, err := io.ReadFull(r, header[:]); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrCorruptSnapshot, err)
	}
	if string(header[:4]) != snapshotMagic {
		return nil, fmt.Errorf("%w: bad magic %q", ErrCorruptSnapshot, header[:4])
	}
	if header[4] != snapshotVersion {
		return nil, fmt.Errorf("%w: snapshot version %d, this node reads version %d", ErrUnknownRecord, header[4], snapshotVersion)
	}
	index := binary.BigEndian.Uint64(header[5:])
	count := binary.BigEndian.Uint32(header[13:])
	img := emptyImage
	for i := range count {
		size, err := binary.ReadUvarint(r)
		if err != nil {
			return nil, fmt.Errorf("%w: record %d of %d: %v", ErrCorruptSnapshot, i, count, err)
		}
		if size > maxSnapshotRecord {
			return nil, fmt.Errorf("%w: record %d of %d: %d bytes", ErrCorruptSnapshot, i, count, size)
		}
		b := make([]byte, size)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("%w: record %d of %d: %v", ErrCorruptSnapshot, i, count, err)
		}
		rec, err := DecodeRecord(b)
		if errors.Is(err, ErrUnknownRecord) {
			return nil, fmt.Errorf("snapshot record %d of %d: %w", i, count, err)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: record %d of %d: %v", ErrCorruptSnapshot, i, count, err)
		}
		if img, err = img.apply(rec, index); err != nil {
			return nil, fmt.Errorf("%w: record %d of %d: %v", ErrCorruptSnapshot, i, count, err)
		}
	}
	switch _, err := r.ReadByte(); {
	case err == nil:
		return nil, fmt.Errorf("%w: data after %d records", ErrCorruptSnapshot, count)
	case err != io.EOF:
		return nil, fmt.Errorf("metadata: read snapshot: %w", err)
	}
	img = img.next(index) // also stamps the empty Image of an empty snapshot
	img.contentIndex = index
	// The ACLs are versioned by the index of their last change, which a snapshot does not
	// keep; without ACL records that would leave 0, which the authorizer (holding a newer
	// version from before the install) ignores, keeping ACLs the snapshot has deleted in
	// force. The snapshot's index is newer than any change this node applied before it.
	img.aclIndex = index
	return img, nil
}
