package metadata

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"testing"
)

// sampleRecords has one record of every type with every field set, for round trips and as
// fuzz seeds.
func sampleRecords() []Record {
	id := TopicID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	return []Record{
		RegisterBroker{NodeID: 1, Host: "broker-1.example", Port: 9092, Rack: "eu-west-1a"},
		CreateTopic{
			Name:    "orders",
			TopicID: id,
			Partitions: []PartitionAssignment{
				{Partition: 0, Replicas: []int32{1, 2}, Leader: 1, LeaderEpoch: 0, ISR: []int32{1, 2}},
				{Partition: 1, Replicas: []int32{2, 1}, Leader: NoLeader, LeaderEpoch: 3, ISR: []int32{}},
			},
			Configs: map[string]string{"cleanup.policy": "compact", "retention.ms": "-1"},
		},
		DeleteTopic{TopicID: id},
		CreatePartitions{TopicID: id, New: []PartitionAssignment{
			{Partition: 2, Replicas: []int32{1}, Leader: 1, ISR: []int32{1}},
		}},
		AlterTopicConfigs{TopicID: id, Set: map[string]string{"segment.bytes": "1048576"}, Delete: []string{"retention.ms"}},
		AlterBrokerConfigs{NodeID: ClusterDefault, Set: map[string]string{"log.retention.ms": "3600000"}, Delete: []string{"num.io.threads"}},
		AllocateProducerIDs{NodeID: 1, Start: 0, Count: DefaultProducerIDBlockSize},
		SetClusterID{ID: "MkU3OEVBNTcwNTJENDM2Qk"},
		ClientQuota{Entity: []QuotaEntityPart{{Type: QuotaEntityUser, Name: ptr("alice")}, {Type: QuotaEntityClientID}},
			Key: "producer_byte_rate", Value: 1048576, Remove: true},
		UserScramCredential{User: "alice", Mechanism: "SCRAM-SHA-256", Salt: []byte("salt"), Iterations: 4096,
			StoredKey: []byte("stored"), ServerKey: []byte("server")},
		UserScramCredential{User: "alice", Mechanism: "SCRAM-SHA-512", Remove: true},
		CreateACL{ID: "kXcNLCn-TYKdbMSeZD8YbQ", Binding: sampleACL},
		DeleteACL{ID: "kXcNLCn-TYKdbMSeZD8YbQ"},
		ChangePartition{TopicID: id, Partition: 0, Leader: 2, LeaderEpoch: 1, ISR: []int32{2}, PartitionEpoch: 1},
		ChangePartition{TopicID: id, Partition: 0, Leader: 2, LeaderEpoch: 1, ISR: []int32{2}, PartitionEpoch: 2,
			Replicas: []int32{3, 2}, AddingReplicas: []int32{3}, RemovingReplicas: []int32{2}},
		FenceBroker{NodeID: 2},
		UnfenceBroker{NodeID: 2},
		NoOp{},
	}
}

func ptr[T any](v T) *T { return &v }

func TestRecordRoundTrip(t *testing.T) {
	for _, rec := range sampleRecords() {
		t.Run(rec.Type().String(), func(t *testing.T) {
			b, err := EncodeRecord(rec)
			if err != nil {
				t.Fatal(err)
			}
			version := recordVersions[rec.Type()]
			if v, ok := rec.(versionedRecord); ok {
				version = v.recordVersion()
			}
			if RecordType(b[0]) != rec.Type() || b[1] != version {
				t.Fatalf("header % x, want type %d version %d", b[:2], rec.Type(), version)
			}
			got, err := DecodeRecord(b)
			if err != nil {
				t.Fatalf("decode %s: %v", b, err)
			}
			if !reflect.DeepEqual(got, rec) {
				t.Fatalf("round trip changed the record:\n got %#v\nwant %#v", got, rec)
			}
		})
	}
}

func TestDecodeRecordErrors(t *testing.T) {
	valid, err := EncodeRecord(DeleteTopic{TopicID: NewTopicID()})
	if err != nil {
		t.Fatal(err)
	}
	withHeader := func(typ, version byte, payload string) []byte {
		return append([]byte{typ, version}, payload...)
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrCorruptRecord},
		{"header only half", []byte{2}, ErrCorruptRecord},
		{"type zero", withHeader(0, 0, "{}"), ErrUnknownRecord},
		{"type from the future", withHeader(200, 0, "{}"), ErrUnknownRecord},
		{"version from the future", withHeader(byte(RecordDeleteTopic), 1, string(valid[2:])), ErrUnknownRecord},
		{"not JSON", withHeader(byte(RecordDeleteTopic), 0, "topic"), ErrCorruptRecord},
		{"no payload", withHeader(byte(RecordDeleteTopic), 0, ""), ErrCorruptRecord},
		{"unknown field", withHeader(byte(RecordRegisterBroker), 0, `{"nodeId":1,"listener":"x"}`), ErrCorruptRecord},
		{"trailing data", append(bytes.Clone(valid), "{}"...), ErrCorruptRecord},
		{"wrong field type", withHeader(byte(RecordRegisterBroker), 0, `{"nodeId":"one"}`), ErrCorruptRecord},
		{"topic ID too short", withHeader(byte(RecordDeleteTopic), 0, `{"topicId":"AAAA"}`), ErrCorruptRecord},
		{"topic ID not canonical", withHeader(byte(RecordDeleteTopic), 0, `{"topicId":"AAAAAAAAAAAAAAAAAAAAAB"}`), ErrCorruptRecord},
		{"producer ID count past int64", withHeader(byte(RecordAllocateProducerIDs), 0, `{"nodeId":1,"start":0,"count":9223372036854775808}`), ErrCorruptRecord},
		{"producer ID count not whole", withHeader(byte(RecordAllocateProducerIDs), 0, `{"nodeId":1,"start":0,"count":1.5}`), ErrCorruptRecord},
		{"cluster ID not a string", withHeader(byte(RecordSetClusterID), 0, `{"clusterId":7}`), ErrCorruptRecord},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := DecodeRecord(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("DecodeRecord(%q) = %v, %v; want %v", tc.in, rec, err, tc.want)
			}
		})
	}
}

func TestTopicID(t *testing.T) {
	seen := make(map[TopicID]bool)
	for range 1000 {
		id := NewTopicID()
		if id.IsZero() || id == metadataTopicID || seen[id] {
			t.Fatalf("NewTopicID returned %v (zero, reserved or repeated)", id)
		}
		seen[id] = true
		if id[6]>>4 != 4 || id[8]>>6 != 2 {
			t.Fatalf("%x is not a version 4 UUID", id[:])
		}
		s := id.String()
		if len(s) != 22 || s[0] == '-' {
			t.Fatalf("text form %q", s)
		}
		var back TopicID
		if err := back.UnmarshalText([]byte(s)); err != nil || back != id {
			t.Fatalf("UnmarshalText(%q) = %v, %v", s, back, err)
		}
	}
	// Kafka's tools print the metadata topic's ID this way.
	if got := metadataTopicID.String(); got != "AAAAAAAAAAAAAAAAAAAAAQ" {
		t.Fatalf("metadata topic ID %q", got)
	}
}

// FuzzDecodeRecord holds decoding to never panic, encoding of what it accepts to be stable,
// and applying what it accepts to never panic either: a panic on raft's FSM goroutine would
// take the whole broker down on a record a peer accepted.
func FuzzDecodeRecord(f *testing.F) {
	for _, rec := range sampleRecords() {
		b, err := EncodeRecord(rec)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{byte(RecordCreateTopic), 0, '{', '}'})
	f.Add([]byte{byte(RecordAlterBrokerConfigs), 0, 'n', 'u', 'l', 'l'})
	// The edges of the producer ID space, and a cluster ID apply must refuse.
	for _, rec := range []Record{
		AllocateProducerIDs{NodeID: -1, Start: 0, Count: math.MaxInt64},
		AllocateProducerIDs{NodeID: 1, Start: math.MaxInt64, Count: 1},
		AllocateProducerIDs{NodeID: 1, Start: DefaultProducerIDBlockSize, Count: -1},
		SetClusterID{},
	} {
		f.Add(encode(f, rec))
	}
	base := fuzzBaseImage(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := DecodeRecord(data)
		if err != nil {
			if !errors.Is(err, ErrUnknownRecord) && !errors.Is(err, ErrCorruptRecord) {
				t.Fatalf("error %v is neither ErrUnknownRecord nor ErrCorruptRecord", err)
			}
			return
		}
		enc, err := EncodeRecord(rec)
		if err != nil {
			t.Fatalf("decoded %#v but cannot encode it: %v", rec, err)
		}
		again, err := DecodeRecord(enc)
		if err != nil {
			t.Fatalf("cannot decode own encoding %q: %v", enc, err)
		}
		if enc2, _ := EncodeRecord(again); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable:\n%q\n%q", enc, enc2)
		}
		for _, img := range []*Image{emptyImage, base} {
			next, err := img.apply(rec, img.Index()+1)
			if err == nil && next == nil {
				t.Fatal("apply returned neither an Image nor an error")
			}
		}
	})
}

// fuzzBaseImage is an Image the fuzzed records can hit: brokers 1 and 2, the topic of
// sampleRecords with its ID, a cluster ID, and a producer ID block taken, so that every
// record meets both an empty Image and one with the state it checks against.
func fuzzBaseImage(tb testing.TB) *Image {
	recs := sampleRecords()
	return mustApply(tb, emptyImage,
		recs[0], RegisterBroker{NodeID: 2, Host: "b2", Port: 9092}, recs[1],
		AllocateProducerIDs{NodeID: 1, Start: 0, Count: DefaultProducerIDBlockSize},
		SetClusterID{ID: "MkU3OEVBNTcwNTJENDM2Qk"})
}

// TestRecordTypesComplete checks that every type in recordVersions has a name, a sample
// record, and a decoder: a type added to the versions map alone would decode to nothing.
func TestRecordTypesComplete(t *testing.T) {
	sampled := make(map[RecordType]bool)
	for _, rec := range sampleRecords() {
		sampled[rec.Type()] = true
	}
	for typ := range recordVersions {
		if !sampled[typ] {
			t.Errorf("%v has no sample record (round trip, fuzz seed)", typ)
		}
		if typ.String() == fmt.Sprintf("RecordType(%d)", uint8(typ)) {
			t.Errorf("type %d has no name", uint8(typ))
		}
	}
	if len(sampled) != len(recordVersions) {
		t.Errorf("%d sampled types, %d in recordVersions", len(sampled), len(recordVersions))
	}
}
