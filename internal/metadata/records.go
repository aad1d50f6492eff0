package metadata

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// RecordType names a kind of metadata record. It is the first byte of every encoded record,
// so its values are part of the on-disk format: never renumber or reuse one.
type RecordType uint8

// The record types, numbered as they are stored. Zero is left unused so that a zeroed buffer
// never decodes as a record.
const (
	RecordRegisterBroker      RecordType = 1
	RecordCreateTopic         RecordType = 2
	RecordDeleteTopic         RecordType = 3
	RecordCreatePartitions    RecordType = 4
	RecordAlterTopicConfigs   RecordType = 5
	RecordAlterBrokerConfigs  RecordType = 6
	RecordAllocateProducerIDs RecordType = 7
	RecordSetClusterID        RecordType = 8
	RecordClientQuota         RecordType = 9
	RecordUserScramCredential RecordType = 10
	RecordCreateACL           RecordType = 11
	RecordDeleteACL           RecordType = 12
	RecordChangePartition     RecordType = 13
	RecordFenceBroker         RecordType = 14
	RecordUnfenceBroker       RecordType = 15
	RecordNoOp                RecordType = 16
)

// recordVersions is the newest payload version this code writes and reads, per type. A change
// to a record's fields that older code cannot read bumps its version here, and DecodeRecord
// keeps reading every older version.
var recordVersions = map[RecordType]uint8{
	RecordRegisterBroker:      1, // 1: IncarnationID, BrokerEpoch, Fenced, Listeners (KIP-631)
	RecordCreateTopic:         0,
	RecordDeleteTopic:         0,
	RecordCreatePartitions:    0,
	RecordAlterTopicConfigs:   0,
	RecordAlterBrokerConfigs:  0,
	RecordAllocateProducerIDs: 0,
	RecordSetClusterID:        0,
	RecordClientQuota:         0,
	RecordUserScramCredential: 0,
	RecordCreateACL:           0,
	RecordDeleteACL:           0,
	RecordChangePartition:     1, // 1: Replicas, AddingReplicas, RemovingReplicas (reassignments)
	RecordFenceBroker:         0,
	RecordUnfenceBroker:       0,
	RecordNoOp:                0,
}

// String names the type as the Go struct that carries it, for logs and errors.
func (t RecordType) String() string {
	switch t {
	case RecordRegisterBroker:
		return "RegisterBroker"
	case RecordCreateTopic:
		return "CreateTopic"
	case RecordDeleteTopic:
		return "DeleteTopic"
	case RecordCreatePartitions:
		return "CreatePartitions"
	case RecordAlterTopicConfigs:
		return "AlterTopicConfigs"
	case RecordAlterBrokerConfigs:
		return "AlterBrokerConfigs"
	case RecordAllocateProducerIDs:
		return "AllocateProducerIDs"
	case RecordSetClusterID:
		return "SetClusterID"
	case RecordClientQuota:
		return "ClientQuota"
	case RecordUserScramCredential:
		return "UserScramCredential"
	case RecordCreateACL:
		return "CreateACL"
	case RecordDeleteACL:
		return "DeleteACL"
	case RecordChangePartition:
		return "ChangePartition"
	case RecordFenceBroker:
		return "FenceBroker"
	case RecordUnfenceBroker:
		return "UnfenceBroker"
	case RecordNoOp:
		return "NoOp"
	}
	return fmt.Sprintf("RecordType(%d)", uint8(t))
}

// Record is one change to the cluster metadata, as proposed to the quorum and stored in its
// log. The set is closed (the unexported method) so that the FSM's switch over record types
// is exhaustive and a record it cannot apply can only come from the log, never from code.
type Record interface {
	// Type is the byte that identifies the record in its encoding.
	Type() RecordType
	isRecord()
}

// ClusterDefault is the node ID under which AlterBrokerConfigs and Image.BrokerConfigs keep
// the cluster-wide default broker configs, as Kafka's empty broker entity name does.
const ClusterDefault int32 = -1

// NoLeader is the Leader of a partition that has none, as in Kafka's metadata responses.
const NoLeader int32 = -1

// RegisterBroker adds a broker to the cluster, or replaces the registration of a broker that
// restarts, as Kafka's RegisterBrokerRecord (KIP-631). Replica assignments may only name
// registered brokers. The fields after Rack are absent in records written before broker
// epochs existed (version 0), which read as a registration without an incarnation: its
// broker epoch is its own index, as for any new incarnation (broker_registration.go).
type RegisterBroker struct {
	NodeID int32 `json:"nodeId"`
	// Host and Port are the broker's address on inter.broker.listener.name (its first
	// listener when unset): where replica fetchers and transaction marker clients dial.
	Host string `json:"host"`
	Port int32  `json:"port"`
	Rack string `json:"rack"` // "" when the broker has no rack
	// IncarnationID is random per process start: a registration with the incarnation of
	// the current one is a retry and keeps its broker epoch.
	IncarnationID string `json:"incarnationId,omitempty"`
	// BrokerEpoch is set only in snapshots, which must keep each broker's epoch; a
	// registration proposed by a broker leaves it 0 and gets its own index.
	BrokerEpoch int64 `json:"brokerEpoch,omitempty"`
	// Fenced registers the broker fenced, as Kafka's controller does: it is unfenced by a
	// heartbeat once its metadata has caught up with the registration.
	Fenced bool `json:"fenced,omitempty"`
	// Listeners are every advertised client listener, so that Metadata answers each
	// client with addresses on the listener it came in on.
	Listeners []Endpoint `json:"listeners,omitempty"`
}

// CreateTopic adds a topic with all its partitions. TopicID is chosen by the proposer (see
// NewTopicID), never by the FSM, because applying a record must be deterministic.
type CreateTopic struct {
	Name       string                `json:"name"`
	TopicID    TopicID               `json:"topicId"`
	Partitions []PartitionAssignment `json:"partitions"`
	Configs    map[string]string     `json:"configs"` // topic-level overrides only
}

// DeleteTopic removes a topic. It names the topic by ID so that a delete raced by a delete and
// re-create of the same name cannot remove the new topic.
type DeleteTopic struct {
	TopicID TopicID `json:"topicId"`
}

// CreatePartitions adds partitions to a topic. New must continue the numbering: Kafka never
// removes or renumbers partitions, because keys are hashed to partition numbers.
type CreatePartitions struct {
	TopicID TopicID               `json:"topicId"`
	New     []PartitionAssignment `json:"new"`
}

// AlterTopicConfigs sets and removes topic-level config overrides, as IncrementalAlterConfigs
// does. A key may not be in both Set and Delete.
type AlterTopicConfigs struct {
	TopicID TopicID           `json:"topicId"`
	Set     map[string]string `json:"set"`
	Delete  []string          `json:"delete"`
}

// AlterBrokerConfigs sets and removes dynamic broker configs for one broker, or for every
// broker when NodeID is ClusterDefault.
type AlterBrokerConfigs struct {
	NodeID int32             `json:"nodeId"`
	Set    map[string]string `json:"set"`
	Delete []string          `json:"delete"`
}

// AllocateProducerIDs hands the block of producer IDs [Start, Start+Count) to one node, as
// Kafka's ProducerIdsRecord does, so that no producer ID is handed out twice, even by nodes
// that restart and forget which IDs they used. Start must be the Image's NextProducerID: the
// FSM, not the proposer, decides who got a block, so of two proposers that read the same
// NextProducerID one wins and the other's record is rejected (see ProducerIDAllocator).
type AllocateProducerIDs struct {
	// NodeID is the node the block is for, so a dumped log shows who holds which IDs; it is
	// -1 in a snapshot, which keeps only where the next block starts, as Kafka's does.
	NodeID int32 `json:"nodeId"`
	Start  int64 `json:"start"`
	Count  int64 `json:"count"`
}

// SetClusterID names the cluster once, as Kafka's cluster.id: clients and tools use it to
// tell clusters apart, so it never changes once set. Store.EnsureClusterID proposes it.
type SetClusterID struct {
	ID string `json:"clusterId"`
}

// PartitionAssignment is a partition's replicas and leadership. Replicas is ordered: the first
// replica is the preferred leader, as in Kafka.
type PartitionAssignment struct {
	Partition   int32   `json:"partition"`
	Replicas    []int32 `json:"replicas"`
	Leader      int32   `json:"leader"` // NoLeader when offline
	LeaderEpoch int32   `json:"leaderEpoch"`
	ISR         []int32 `json:"isr"`
	// PartitionEpoch counts the changes to leader and ISR (ChangePartition), so that a
	// change computed from a stale view is refused.
	PartitionEpoch int32 `json:"partitionEpoch"`
	// AddingReplicas and RemovingReplicas are set while a reassignment (KIP-455,
	// reassign.go) is in progress: Replicas is then the target followed by the replicas
	// being removed. Absent in records and snapshots written before reassignments
	// existed, which read as "none in progress".
	AddingReplicas   []int32 `json:"addingReplicas,omitempty"`
	RemovingReplicas []int32 `json:"removingReplicas,omitempty"`
}

// Type implements Record.
func (RegisterBroker) Type() RecordType { return RecordRegisterBroker }

// Type implements Record.
func (CreateTopic) Type() RecordType { return RecordCreateTopic }

// Type implements Record.
func (DeleteTopic) Type() RecordType { return RecordDeleteTopic }

// Type implements Record.
func (CreatePartitions) Type() RecordType { return RecordCreatePartitions }

// Type implements Record.
func (AlterTopicConfigs) Type() RecordType { return RecordAlterTopicConfigs }

// Type implements Record.
func (AlterBrokerConfigs) Type() RecordType { return RecordAlterBrokerConfigs }

// Type implements Record.
func (AllocateProducerIDs) Type() RecordType { return RecordAllocateProducerIDs }

// Type implements Record.
func (SetClusterID) Type() RecordType { return RecordSetClusterID }

func (RegisterBroker) isRecord()      {}
func (CreateTopic) isRecord()         {}
func (DeleteTopic) isRecord()         {}
func (CreatePartitions) isRecord()    {}
func (AlterTopicConfigs) isRecord()   {}
func (AlterBrokerConfigs) isRecord()  {}
func (AllocateProducerIDs) isRecord() {}
func (SetClusterID) isRecord()        {}

// versionedRecord is a record whose payload version depends on its fields: one that does not
// use a newer version's fields is written at the older version, so nodes not yet upgraded
// keep reading it (a rolling upgrade) until the new feature is used.
type versionedRecord interface {
	recordVersion() uint8
}

// recordHeaderSize is the type byte and the version byte in front of every payload.
const recordHeaderSize = 2

// EncodeRecord returns the stored form of rec: its type byte, its payload version byte, then
// the payload as JSON (see doc.go). Records are encoded once per proposal, so JSON's cost does
// not matter and its readability in a dumped log does.
func EncodeRecord(rec Record) ([]byte, error) {
	if rec == nil {
		return nil, fmt.Errorf("%w: nil record", ErrInvalidRecord)
	}
	version, ok := recordVersions[rec.Type()]
	if !ok {
		return nil, fmt.Errorf("%w: %v", ErrUnknownRecord, rec.Type())
	}
	if v, ok := rec.(versionedRecord); ok {
		version = v.recordVersion()
	}
	var buf bytes.Buffer
	buf.WriteByte(byte(rec.Type()))
	buf.WriteByte(version)
	if err := json.NewEncoder(&buf).Encode(rec); err != nil {
		return nil, fmt.Errorf("metadata: encode %v: %w", rec.Type(), err)
	}
	return buf.Bytes(), nil
}

// DecodeRecord parses a stored record. A type or version this code does not know is
// ErrUnknownRecord (a newer version wrote it); a payload that does not parse, or that carries
// fields its version does not have, is ErrCorruptRecord. Both stop the FSM (see FSM.Apply):
// skipping a record would leave this node's image silently different from its peers'.
func DecodeRecord(b []byte) (Record, error) {
	if len(b) < recordHeaderSize {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the header", ErrCorruptRecord, len(b))
	}
	typ, version := RecordType(b[0]), b[1]
	newest, ok := recordVersions[typ]
	if !ok {
		return nil, fmt.Errorf("%w: type %d version %d", ErrUnknownRecord, b[0], version)
	}
	if version > newest {
		return nil, fmt.Errorf("%w: %v version %d, this node reads up to version %d",
			ErrUnknownRecord, typ, version, newest)
	}
	var rec Record
	var err error
	switch typ {
	case RecordRegisterBroker:
		rec, err = decodePayload[RegisterBroker](b[recordHeaderSize:])
	case RecordCreateTopic:
		rec, err = decodePayload[CreateTopic](b[recordHeaderSize:])
	case RecordDeleteTopic:
		rec, err = decodePayload[DeleteTopic](b[recordHeaderSize:])
	case RecordCreatePartitions:
		rec, err = decodePayload[CreatePartitions](b[recordHeaderSize:])
	case RecordAlterTopicConfigs:
		rec, err = decodePayload[AlterTopicConfigs](b[recordHeaderSize:])
	case RecordAlterBrokerConfigs:
		rec, err = decodePayload[AlterBrokerConfigs](b[recordHeaderSize:])
	case RecordAllocateProducerIDs:
		rec, err = decodePayload[AllocateProducerIDs](b[recordHeaderSize:])
	case RecordSetClusterID:
		rec, err = decodePayload[SetClusterID](b[recordHeaderSize:])
	case RecordClientQuota:
		rec, err = decodePayload[ClientQuota](b[recordHeaderSize:])
	case RecordUserScramCredential:
		rec, err = decodePayload[UserScramCredential](b[recordHeaderSize:])
	case RecordCreateACL:
		rec, err = decodePayload[CreateACL](b[recordHeaderSize:])
	case RecordDeleteACL:
		rec, err = decodePayload[DeleteACL](b[recordHeaderSize:])
	case RecordChangePartition:
		rec, err = decodePayload[ChangePartition](b[recordHeaderSize:])
	case RecordFenceBroker:
		rec, err = decodePayload[FenceBroker](b[recordHeaderSize:])
	case RecordUnfenceBroker:
		rec, err = decodePayload[UnfenceBroker](b[recordHeaderSize:])
	case RecordNoOp:
		rec, err = decodePayload[NoOp](b[recordHeaderSize:])
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v version %d: %v", ErrCorruptRecord, typ, version, err)
	}
	return rec, nil
}

// decodePayload parses one JSON value strictly: unknown fields and trailing bytes are errors,
// because a field this version does not know means the record is not the version it claims.
func decodePayload[T any](payload []byte) (T, error) {
	var v T
	if err := decodeStrict(payload, &v); err != nil {
		return v, err
	}
	return v, nil
}

// decodeStrict is the JSON reading shared by records and snapshots.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// TopicID is a topic's UUID, the identity that outlives a delete and re-create of the same
// name. Its text form is Kafka's: unpadded URL-safe base64, 22 characters.
type TopicID [16]byte

// metadataTopicID is the ID Kafka reserves for its own __cluster_metadata topic.
var metadataTopicID = TopicID{15: 1}

// NewTopicID returns a random version 4 UUID, re-rolled like Kafka's Uuid.randomUuid when it
// would be zero, the reserved metadata topic ID, or a string starting with '-' (which command
// lines would take for a flag).
func NewTopicID() TopicID {
	for {
		var id TopicID
		_, _ = rand.Read(id[:]) // crypto/rand.Read never fails (Go 1.24+)
		id[6] = id[6]&0x0f | 0x40
		id[8] = id[8]&0x3f | 0x80
		if id != (TopicID{}) && id != metadataTopicID && id.String()[0] != '-' {
			return id
		}
	}
}

// IsZero reports whether id is the all-zero UUID, which Kafka uses to mean "no topic ID".
func (id TopicID) IsZero() bool { return id == TopicID{} }

// String returns Kafka's text form of the ID, as shown by Kafka's own tools.
func (id TopicID) String() string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// MarshalText writes Kafka's text form, so records and snapshots show IDs as operators see
// them rather than as arrays of sixteen numbers.
func (id TopicID) MarshalText() ([]byte, error) {
	out := make([]byte, base64.RawURLEncoding.EncodedLen(len(id)))
	base64.RawURLEncoding.Encode(out, id[:])
	return out, nil
}

// UnmarshalText parses Kafka's text form.
func (id *TopicID) UnmarshalText(text []byte) error {
	if len(text) != base64.RawURLEncoding.EncodedLen(len(id)) {
		return fmt.Errorf("metadata: topic ID %q: want %d characters", text, base64.RawURLEncoding.EncodedLen(len(id)))
	}
	var tmp TopicID
	n, err := base64.RawURLEncoding.Strict().Decode(tmp[:], text)
	if err != nil || n != len(tmp) {
		return fmt.Errorf("metadata: topic ID %q: not unpadded URL-safe base64", text)
	}
	*id = tmp
	return nil
}
