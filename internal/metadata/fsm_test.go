package metadata

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
)

// mustApply applies recs in order at the indexes following img's and fails tb on a rejection.
func mustApply(tb testing.TB, img *Image, recs ...Record) *Image {
	tb.Helper()
	for _, rec := range recs {
		next, err := img.apply(rec, img.Index()+1)
		if err != nil {
			tb.Fatalf("apply %#v: %v", rec, err)
		}
		img = next
	}
	return img
}

// dumpImage renders everything an Image holds, for comparing Images across snapshots,
// restarts and copy-on-write.
func dumpImage(tb testing.TB, img *Image) string {
	tb.Helper()
	configs := make(map[string]map[string]string)
	for id, c := range img.brokerConfigs {
		configs[fmt.Sprint(id)] = c
	}
	b, err := json.MarshalIndent(struct {
		Index          uint64
		ClusterID      string
		Brokers        []Broker
		Topics         []*Topic
		BrokerConfigs  map[string]map[string]string
		NextProducerID int64
		ClientQuotas   []ClientQuota
	}{img.Index(), img.ClusterID(), img.Brokers(), img.Topics(), configs, img.NextProducerID(), img.clientQuotaRecords()}, "", " ")
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// assignment places a partition on replicas, led by the first.
func assignment(partition int32, replicas ...int32) PartitionAssignment {
	return PartitionAssignment{Partition: partition, Replicas: replicas, Leader: replicas[0], ISR: slices.Clone(replicas)}
}

func brokers(ids ...int32) []Record {
	var out []Record
	for _, id := range ids {
		out = append(out, RegisterBroker{NodeID: id, Host: fmt.Sprintf("b%d", id), Port: 9092})
	}
	return out
}

func TestApplyTopicLifecycle(t *testing.T) {
	img := mustApply(t, emptyImage, brokers(1, 2, 3)...)
	ordersID, paymentsID := NewTopicID(), NewTopicID()
	img = mustApply(t, img,
		CreateTopic{Name: "payments", TopicID: paymentsID, Partitions: []PartitionAssignment{assignment(0, 1, 2)}},
		CreateTopic{Name: "orders", TopicID: ordersID, Partitions: []PartitionAssignment{assignment(0, 2, 3), assignment(1, 3, 1)},
			Configs: map[string]string{"retention.ms": "1000"}},
	)
	if img.Index() != 5 {
		t.Fatalf("index %d, want 5", img.Index())
	}
	orders, ok := img.TopicByName("orders")
	if !ok || orders.ID != ordersID || len(orders.Partitions) != 2 || orders.Configs["retention.ms"] != "1000" {
		t.Fatalf("orders = %+v, %v", orders, ok)
	}
	if byID, _ := img.TopicByID(ordersID); byID != orders {
		t.Fatal("TopicByID and TopicByName disagree")
	}
	if p, ok := orders.Partition(1); !ok || p.Leader != 3 {
		t.Fatalf("partition 1 = %+v, %v", p, ok)
	}
	if _, ok := orders.Partition(2); ok {
		t.Fatal("partition 2 exists")
	}
	var names []string
	for _, tp := range img.Topics() {
		names = append(names, tp.Name)
	}
	if !slices.Equal(names, []string{"orders", "payments"}) || img.TopicCount() != 2 {
		t.Fatalf("Topics() = %v", names)
	}

	img = mustApply(t, img, CreatePartitions{TopicID: ordersID, New: []PartitionAssignment{assignment(2, 1), assignment(3, 2)}})
	if orders, _ := img.TopicByName("orders"); len(orders.Partitions) != 4 || orders.Partitions[3].Replicas[0] != 2 {
		t.Fatalf("after CreatePartitions: %+v", orders.Partitions)
	}

	img = mustApply(t, img, DeleteTopic{TopicID: ordersID})
	if _, ok := img.TopicByName("orders"); ok {
		t.Fatal("deleted topic still found by name")
	}
	if _, ok := img.TopicByID(ordersID); ok {
		t.Fatal("deleted topic still found by ID")
	}
	// The name is free again, under a new ID.
	img = mustApply(t, img, CreateTopic{Name: "orders", TopicID: NewTopicID(), Partitions: []PartitionAssignment{assignment(0, 1)}})
	if again, _ := img.TopicByName("orders"); again.ID == ordersID || len(again.Partitions) != 1 {
		t.Fatalf("re-created topic %+v", again)
	}
}

func TestApplyRejects(t *testing.T) {
	id := NewTopicID()
	base := mustApply(t, emptyImage, append(brokers(1, 2),
		CreateTopic{Name: "orders", TopicID: id, Partitions: []PartitionAssignment{assignment(0, 1, 2), assignment(1, 2, 1)}},
		AllocateProducerIDs{NodeID: 1, Start: 0, Count: 100},
		SetClusterID{ID: "first"})...)
	one := []PartitionAssignment{assignment(0, 1)}
	for _, tc := range []struct {
		name string
		rec  Record
		want error
	}{
		{"duplicate name", CreateTopic{Name: "orders", TopicID: NewTopicID(), Partitions: one}, ErrTopicExists},
		{"duplicate ID", CreateTopic{Name: "other", TopicID: id, Partitions: one}, ErrTopicExists},
		{"zero ID", CreateTopic{Name: "other", Partitions: one}, ErrInvalidRecord},
		{"reserved ID", CreateTopic{Name: "other", TopicID: metadataTopicID, Partitions: one}, ErrInvalidRecord},
		{"empty name", CreateTopic{Name: "", TopicID: NewTopicID(), Partitions: one}, ErrInvalidTopicName},
		{"dot name", CreateTopic{Name: "..", TopicID: NewTopicID(), Partitions: one}, ErrInvalidTopicName},
		{"bad character", CreateTopic{Name: "a/b", TopicID: NewTopicID(), Partitions: one}, ErrInvalidTopicName},
		{"long name", CreateTopic{Name: strings.Repeat("a", 250), TopicID: NewTopicID(), Partitions: one}, ErrInvalidTopicName},
		{"no partitions", CreateTopic{Name: "other", TopicID: NewTopicID()}, ErrInvalidPartitions},
		{"numbering gap", CreateTopic{Name: "other", TopicID: NewTopicID(), Partitions: []PartitionAssignment{assignment(1, 1)}}, ErrInvalidPartitions},
		{"no replicas", CreateTopic{Name: "other", TopicID: NewTopicID(), Partitions: []PartitionAssignment{{Leader: NoLeader}}}, ErrInvalidReplicas},
		{"unregistered replica", CreateTopic{Name: "other", TopicID: NewTopicID(), Partitions: []PartitionAssignment{assignment(0, 1, 7)}}, ErrInvalidReplicas},
		{"repeated replica", CreateTopic{Name: "other", TopicID: NewTopicID(), Partitions: []PartitionAssignment{assignment(0, 1, 1)}}, ErrInvalidReplicas},
		{"leader outside ISR", CreateTopic{Name: "other", TopicID: NewTopicID(), Partitions: []PartitionAssignment{
			{Replicas: []int32{1, 2}, Leader: 1, ISR: []int32{2}}}}, ErrInvalidReplicas},
		{"ISR outside replicas", CreateTopic{Name: "other", TopicID: NewTopicID(), Partitions: []PartitionAssignment{
			{Replicas: []int32{1}, Leader: 1, ISR: []int32{1, 2}}}}, ErrInvalidReplicas},
		{"negative epoch", CreateTopic{Name: "other", TopicID: NewTopicID(), Partitions: []PartitionAssignment{
			{Replicas: []int32{1}, Leader: 1, LeaderEpoch: -1, ISR: []int32{1}}}}, ErrInvalidReplicas},
		{"empty config name", CreateTopic{Name: "other", TopicID: NewTopicID(), Partitions: one, Configs: map[string]string{"": "x"}}, ErrInvalidRecord},
		{"delete unknown topic", DeleteTopic{TopicID: NewTopicID()}, ErrUnknownTopic},
		{"grow unknown topic", CreatePartitions{TopicID: NewTopicID(), New: []PartitionAssignment{assignment(0, 1)}}, ErrUnknownTopic},
		{"grow by nothing", CreatePartitions{TopicID: id}, ErrInvalidPartitions},
		{"shrink", CreatePartitions{TopicID: id, New: []PartitionAssignment{assignment(1, 1)}}, ErrInvalidPartitions},
		{"grow with a gap", CreatePartitions{TopicID: id, New: []PartitionAssignment{assignment(3, 1)}}, ErrInvalidPartitions},
		{"alter unknown topic", AlterTopicConfigs{TopicID: NewTopicID(), Set: map[string]string{"a": "b"}}, ErrUnknownTopic},
		{"set and delete one key", AlterTopicConfigs{TopicID: id, Set: map[string]string{"a": "b"}, Delete: []string{"a"}}, ErrInvalidRecord},
		{"broker config node -2", AlterBrokerConfigs{NodeID: -2, Set: map[string]string{"a": "b"}}, ErrInvalidRecord},
		{"broker config empty delete", AlterBrokerConfigs{NodeID: 1, Delete: []string{""}}, ErrInvalidRecord},
		{"negative broker", RegisterBroker{NodeID: -1, Host: "h", Port: 1}, ErrInvalidRecord},
		{"broker without host", RegisterBroker{NodeID: 3, Port: 1}, ErrInvalidRecord},
		{"broker port out of range", RegisterBroker{NodeID: 3, Host: "h", Port: 70000}, ErrInvalidRecord},
		{"producer IDs from a stale Image", AllocateProducerIDs{NodeID: 2, Start: 0, Count: 100}, ErrInvalidRecord},
		{"producer IDs leaving a gap", AllocateProducerIDs{NodeID: 2, Start: 101, Count: 100}, ErrInvalidRecord},
		{"producer IDs overlapping", AllocateProducerIDs{NodeID: 2, Start: 99, Count: 100}, ErrInvalidRecord},
		{"no producer IDs", AllocateProducerIDs{NodeID: 2, Start: 100, Count: 0}, ErrInvalidRecord},
		{"negative producer ID count", AllocateProducerIDs{NodeID: 2, Start: 100, Count: -5}, ErrInvalidRecord},
		{"producer IDs past int64", AllocateProducerIDs{NodeID: 2, Start: 100, Count: math.MaxInt64 - 99}, ErrInvalidRecord},
		{"producer IDs for node -2", AllocateProducerIDs{NodeID: -2, Start: 100, Count: 1}, ErrInvalidRecord},
		{"second cluster ID", SetClusterID{ID: "second"}, ErrInvalidRecord},
		{"same cluster ID again", SetClusterID{ID: "first"}, ErrInvalidRecord},
		{"pointer record", &DeleteTopic{TopicID: id}, ErrUnknownRecord},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := dumpImage(t, base)
			next, err := base.apply(tc.rec, base.Index()+1)
			if !errors.Is(err, tc.want) || next != nil {
				t.Fatalf("apply = %v, %v; want %v", next, err, tc.want)
			}
			if dumpImage(t, base) != before {
				t.Fatal("a rejected record changed the Image")
			}
		})
	}
}

func TestApplyConfigs(t *testing.T) {
	id := NewTopicID()
	img := mustApply(t, emptyImage, append(brokers(1),
		CreateTopic{Name: "t", TopicID: id, Partitions: []PartitionAssignment{assignment(0, 1)}, Configs: map[string]string{"a": "1", "b": "2"}},
		AlterTopicConfigs{TopicID: id, Set: map[string]string{"b": "20", "c": "3"}, Delete: []string{"a", "never-set"}},
	)...)
	topic, _ := img.TopicByName("t")
	if want := map[string]string{"b": "20", "c": "3"}; fmt.Sprint(topic.Configs) != fmt.Sprint(want) {
		t.Fatalf("topic configs %v, want %v", topic.Configs, want)
	}
	img = mustApply(t, img, AlterTopicConfigs{TopicID: id, Delete: []string{"b", "c"}})
	if topic, _ := img.TopicByName("t"); topic.Configs != nil {
		t.Fatalf("configs after deleting all: %v", topic.Configs)
	}

	img = mustApply(t, img,
		AlterBrokerConfigs{NodeID: ClusterDefault, Set: map[string]string{"log.retention.ms": "1000"}},
		AlterBrokerConfigs{NodeID: 1, Set: map[string]string{"num.io.threads": "4", "x": "y"}},
		AlterBrokerConfigs{NodeID: 5, Set: map[string]string{"x": "y"}}, // not registered yet: allowed
		AlterBrokerConfigs{NodeID: 1, Delete: []string{"x"}},
	)
	if got := img.BrokerConfigs(ClusterDefault); got["log.retention.ms"] != "1000" || len(got) != 1 {
		t.Fatalf("cluster default configs %v", got)
	}
	if got := img.BrokerConfigs(1); got["num.io.threads"] != "4" || len(got) != 1 {
		t.Fatalf("broker 1 configs %v", got)
	}
	img = mustApply(t, img, AlterBrokerConfigs{NodeID: 5, Delete: []string{"x"}})
	if got := img.BrokerConfigs(5); got != nil {
		t.Fatalf("broker 5 configs after deleting all: %v", got)
	}
	if got := img.BrokerConfigs(2); got != nil {
		t.Fatalf("broker 2 configs %v", got)
	}
}

func TestApplyProducerIDs(t *testing.T) {
	img := emptyImage
	if img.NextProducerID() != 0 {
		t.Fatalf("NextProducerID of a new cluster = %d, want 0", img.NextProducerID())
	}
	img = mustApply(t, img,
		AllocateProducerIDs{NodeID: 1, Start: 0, Count: 1000},
		AllocateProducerIDs{NodeID: 2, Start: 1000, Count: 1}, // any node, any positive size
		AllocateProducerIDs{NodeID: 1, Start: 1001, Count: 1000},
	)
	if img.NextProducerID() != 2001 || img.Index() != 3 {
		t.Fatalf("NextProducerID %d at index %d, want 2001 at 3", img.NextProducerID(), img.Index())
	}
	// A racing proposer read NextProducerID before the last block: refused, Image kept.
	if next, err := img.apply(AllocateProducerIDs{NodeID: 2, Start: 1001, Count: 1000}, 4); !errors.Is(err, ErrInvalidRecord) || next != nil {
		t.Fatalf("stale block: apply = %v, %v", next, err)
	}
	// The whole int64 range can be handed out, up to MaxInt64 itself, which stays free.
	img = mustApply(t, img, AllocateProducerIDs{NodeID: 1, Start: 2001, Count: math.MaxInt64 - 2001})
	if img.NextProducerID() != math.MaxInt64 {
		t.Fatalf("NextProducerID %d, want MaxInt64", img.NextProducerID())
	}
	if _, err := img.apply(AllocateProducerIDs{NodeID: 1, Start: math.MaxInt64, Count: 1}, 9); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("block past MaxInt64: %v", err)
	}
}

func TestApplyClusterID(t *testing.T) {
	if id := emptyImage.ClusterID(); id != "" {
		t.Fatalf("ClusterID of a new cluster = %q", id)
	}
	if _, err := emptyImage.apply(SetClusterID{}, 1); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("empty cluster ID: %v", err)
	}
	img := mustApply(t, emptyImage, SetClusterID{ID: "MkU3OEVBNTcwNTJENDM2Qk"})
	if img.ClusterID() != "MkU3OEVBNTcwNTJENDM2Qk" {
		t.Fatalf("ClusterID = %q", img.ClusterID())
	}
	if _, err := img.apply(SetClusterID{ID: "other"}, 2); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("second cluster ID: %v", err)
	}
}

func TestApplyRegisterBrokerReplaces(t *testing.T) {
	img := mustApply(t, emptyImage, brokers(3, 1, 2)...)
	img = mustApply(t, img, RegisterBroker{NodeID: 2, Host: "moved", Port: 19092, Rack: "r1"})
	got := img.Brokers()
	if len(got) != 3 || got[0].NodeID != 1 || got[2].NodeID != 3 {
		t.Fatalf("brokers %+v, want 1, 2, 3 in order", got)
	}
	if b, _ := img.Broker(2); b.Host != "moved" || b.Port != 19092 || b.Rack != "r1" {
		t.Fatalf("broker 2 = %+v", b)
	}
	got[0].Host = "changed by caller"
	if b, _ := img.Broker(1); b.Host != "b1" {
		t.Fatal("Brokers() shares its slice with the Image")
	}
}

// TestImageCopyOnWrite checks that building later Images leaves earlier ones as they were:
// readers hold Images without locks while the FSM builds the next.
func TestImageCopyOnWrite(t *testing.T) {
	id := NewTopicID()
	img := mustApply(t, emptyImage, append(brokers(1, 2),
		CreateTopic{Name: "a", TopicID: id, Partitions: []PartitionAssignment{assignment(0, 1)}, Configs: map[string]string{"k": "v"}},
		CreateTopic{Name: "b", TopicID: NewTopicID(), Partitions: []PartitionAssignment{assignment(0, 2)}},
		AlterBrokerConfigs{NodeID: 1, Set: map[string]string{"k": "v"}},
	)...)
	beforeID := img
	img = mustApply(t, img, AllocateProducerIDs{NodeID: 1, Start: 0, Count: 10})
	held := img
	before := dumpImage(t, held)
	img = mustApply(t, img,
		CreatePartitions{TopicID: id, New: []PartitionAssignment{assignment(1, 2)}},
		AlterTopicConfigs{TopicID: id, Set: map[string]string{"k": "w", "k2": "v2"}},
		AlterBrokerConfigs{NodeID: 1, Set: map[string]string{"k": "w"}},
		AlterBrokerConfigs{NodeID: ClusterDefault, Set: map[string]string{"k": "v"}},
		RegisterBroker{NodeID: 1, Host: "elsewhere", Port: 1},
		RegisterBroker{NodeID: 0, Host: "new", Port: 1},
		CreateTopic{Name: "c", TopicID: NewTopicID(), Partitions: []PartitionAssignment{assignment(0, 1)}},
		DeleteTopic{TopicID: id},
		AllocateProducerIDs{NodeID: 2, Start: 10, Count: 10},
		SetClusterID{ID: "c"},
	)
	if beforeID.NextProducerID() != 0 || beforeID.ClusterID() != "" {
		t.Fatal("an earlier Image took a later producer ID block or cluster ID")
	}
	if after := dumpImage(t, held); after != before {
		t.Fatalf("an earlier Image changed:\nbefore %s\nafter %s", before, after)
	}
	if dumpImage(t, img) == before {
		t.Fatal("the later Image did not change")
	}
}

func rawLog(index uint64, data []byte) *raft.Log {
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: data}
}

func encode(tb testing.TB, rec Record) []byte {
	tb.Helper()
	b, err := EncodeRecord(rec)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestFSMApply(t *testing.T) {
	changes := 0
	f := NewFSM(nil, func() { changes++ })
	if resp := f.Apply(rawLog(3, encode(t, brokers(1)[0]))); resp != nil {
		t.Fatalf("Apply = %v", resp)
	}
	rec := CreateTopic{Name: "t", TopicID: NewTopicID(), Partitions: []PartitionAssignment{assignment(0, 1)}}
	if resp := f.Apply(rawLog(4, encode(t, rec))); resp != nil {
		t.Fatalf("Apply = %v", resp)
	}
	img := f.Image()
	resp := f.Apply(rawLog(5, encode(t, rec)))
	if err, _ := resp.(error); !errors.Is(err, ErrTopicExists) {
		t.Fatalf("duplicate CreateTopic: Apply = %v", resp)
	}
	if f.Image() != img || img.Index() != 4 || changes != 2 {
		t.Fatalf("after a rejected record: image changed %v, index %d, %d changes", f.Image() != img, img.Index(), changes)
	}
	if f.Err() != nil {
		t.Fatalf("a rejected record halted the FSM: %v", f.Err())
	}
}

// TestFSMHaltsOnUnknownRecord checks that a record from a newer version stops the FSM
// loudly, and keeps it stopped, rather than being skipped.
func TestFSMHaltsOnUnknownRecord(t *testing.T) {
	changes := 0
	f := NewFSM(nil, func() { changes++ })
	f.Apply(rawLog(1, encode(t, brokers(1)[0])))
	img := f.Image()

	resp := f.Apply(rawLog(2, []byte{99, 0, '{', '}'}))
	if err, _ := resp.(error); !errors.Is(err, ErrUnknownRecord) {
		t.Fatalf("unknown record: Apply = %v", resp)
	}
	if !errors.Is(f.Err(), ErrUnknownRecord) || !strings.Contains(f.Err().Error(), "index 2") {
		t.Fatalf("Err = %v", f.Err())
	}
	resp = f.Apply(rawLog(3, encode(t, brokers(2)[0])))
	if err, _ := resp.(error); !errors.Is(err, ErrUnknownRecord) {
		t.Fatalf("record after the unknown one: Apply = %v", resp)
	}
	if f.Image() != img || changes != 2 {
		t.Fatalf("halted FSM changed its Image (changes %d)", changes)
	}
	if _, err := f.Snapshot(); err == nil {
		t.Fatal("a halted FSM took a snapshot, which would let raft drop the unread records")
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	id := NewTopicID()
	img := mustApply(t, emptyImage, append(brokers(2, 1),
		CreateTopic{Name: "z", TopicID: NewTopicID(), Partitions: []PartitionAssignment{assignment(0, 1)}},
		CreateTopic{Name: "a", TopicID: id, Partitions: []PartitionAssignment{assignment(0, 1, 2), assignment(1, 2, 1)},
			Configs: map[string]string{"cleanup.policy": "compact"}},
		CreatePartitions{TopicID: id, New: []PartitionAssignment{{Partition: 2, Replicas: []int32{1, 2}, Leader: NoLeader, LeaderEpoch: 7}}},
		AlterBrokerConfigs{NodeID: ClusterDefault, Set: map[string]string{"x": "1"}},
		AlterBrokerConfigs{NodeID: 2, Set: map[string]string{"y": "2"}},
		AllocateProducerIDs{NodeID: 1, Start: 0, Count: 1000},
		AllocateProducerIDs{NodeID: 2, Start: 1000, Count: 1000},
		SetClusterID{ID: "MkU3OEVBNTcwNTJENDM2Qk"},
		ClientQuota{Entity: []QuotaEntityPart{{Type: QuotaEntityClientID}}, Key: "request_percentage", Value: 50},
		ClientQuota{Entity: []QuotaEntityPart{{Type: QuotaEntityUser, Name: ptr("bob")}}, Key: "producer_byte_rate", Value: 1000},
		ClientQuota{Entity: []QuotaEntityPart{{Type: QuotaEntityUser, Name: ptr("bob")}}, Key: "consumer_byte_rate", Value: 2000},
		ClientQuota{Entity: []QuotaEntityPart{{Type: QuotaEntityUser, Name: ptr("bob")}}, Key: "consumer_byte_rate", Remove: true},
	)...)
	if n := len(img.ClientQuotas()); n != 2 {
		t.Fatalf("%d quota entities, want 2", n)
	}

	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	if err := writeSnapshot(w, img); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	data := buf.Bytes()
	got, err := readSnapshot(bufio.NewReader(bytes.NewReader(data)))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := dumpImage(t, img), dumpImage(t, got); a != b {
		t.Fatalf("snapshot changed the Image:\nwrote %s\nread %s", a, b)
	}

	// Through the FSM, as raft drives it.
	f := NewFSM(nil, nil)
	f.image.Store(img)
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memorySink{}
	if err := snap.Persist(sink); err != nil || !sink.closed {
		t.Fatalf("Persist = %v, closed %v", err, sink.closed)
	}
	g := NewFSM(nil, nil)
	if err := g.Restore(io.NopCloser(&sink.Buffer)); err != nil {
		t.Fatal(err)
	}
	if a, b := dumpImage(t, img), dumpImage(t, g.Image()); a != b {
		t.Fatalf("FSM snapshot changed the Image:\nwrote %s\nread %s", a, b)
	}

	// Damage is found, not restored.
	for name, bad := range map[string][]byte{
		"truncated":     data[:len(data)-3],
		"header only":   data[:10],
		"trailing data": append(bytes.Clone(data), 0),
		"bad magic":     append([]byte("XXXX"), data[4:]...),
	} {
		if _, err := readSnapshot(bufio.NewReader(bytes.NewReader(bad))); !errors.Is(err, ErrCorruptSnapshot) {
			t.Errorf("%s: readSnapshot = %v, want ErrCorruptSnapshot", name, err)
		}
	}
	future := bytes.Clone(data)
	future[4] = snapshotVersion + 1
	if _, err := readSnapshot(bufio.NewReader(bytes.NewReader(future))); !errors.Is(err, ErrUnknownRecord) {
		t.Errorf("newer snapshot version: readSnapshot = %v, want ErrUnknownRecord", err)
	}
}

// TestSnapshotProducerIDsAndClusterID checks the two values a snapshot keeps as single
// records, at their edges, and that an Image without them writes neither (so a snapshot
// of such an Image is what the code before them wrote, and reads as before).
func TestSnapshotProducerIDsAndClusterID(t *testing.T) {
	roundTrip := func(img *Image) (*Image, uint32) {
		t.Helper()
		var buf bytes.Buffer
		w := bufio.NewWriter(&buf)
		if err := writeSnapshot(w, img); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		count := binary.BigEndian.Uint32(buf.Bytes()[13:])
		got, err := readSnapshot(bufio.NewReader(&buf))
		if err != nil {
			t.Fatal(err)
		}
		return got, count
	}
	if got, count := roundTrip(mustApply(t, emptyImage, brokers(1)...)); count != 1 || got.NextProducerID() != 0 || got.ClusterID() != "" {
		t.Fatalf("Image without either: %d records, NextProducerID %d, ClusterID %q", count, got.NextProducerID(), got.ClusterID())
	}
	img := mustApply(t, emptyImage,
		AllocateProducerIDs{NodeID: 1, Start: 0, Count: 1},
		AllocateProducerIDs{NodeID: 1, Start: 1, Count: math.MaxInt64 - 1},
		SetClusterID{ID: "x"})
	got, count := roundTrip(img)
	if count != 2 || got.NextProducerID() != math.MaxInt64 || got.ClusterID() != "x" || got.Index() != img.Index() {
		t.Fatalf("%d records, NextProducerID %d, ClusterID %q, index %d", count, got.NextProducerID(), got.ClusterID(), got.Index())
	}
	// Applying goes on from the restored state.
	if _, err := got.apply(SetClusterID{ID: "y"}, got.Index()+1); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("restored Image took a second cluster ID: %v", err)
	}
}

func TestSnapshotEmptyImage(t *testing.T) {
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	if err := writeSnapshot(w, emptyImage.next(9)); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	got, err := readSnapshot(bufio.NewReader(&buf))
	if err != nil || got.Index() != 9 || got.TopicCount() != 0 {
		t.Fatalf("readSnapshot = %v, %v", got, err)
	}
}

// memorySink is a raft.SnapshotSink in memory.
type memorySink struct {
	bytes.Buffer
	closed, cancelled bool
}

func (s *memorySink) ID() string    { return "memory" }
func (s *memorySink) Close() error  { s.closed = true; return nil }
func (s *memorySink) Cancel() error { s.cancelled = true; return nil }

// benchImage has n topics of 3 partitions on 3 brokers.
func benchImage(b *testing.B, n int) (*Image, []string) {
	img := mustApply(b, emptyImage, brokers(1, 2, 3)...)
	names := make([]string, n)
	for i := range n {
		names[i] = fmt.Sprintf("team-%03d.service-events-%d", i%100, i)
		img = mustApply(b, img, CreateTopic{Name: names[i], TopicID: NewTopicID(),
			Partitions: []PartitionAssignment{assignment(0, 1, 2, 3), assignment(1, 2, 3, 1), assignment(2, 3, 1, 2)}})
	}
	return img, names
}

// BenchmarkApplyCreateTopic measures one CreateTopic on an Image that already holds 10,000
// topics: the cost must not grow with the topic count.
func BenchmarkApplyCreateTopic(b *testing.B) {
	img, _ := benchImage(b, 10_000)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		rec := CreateTopic{Name: fmt.Sprintf("new-%d", i), TopicID: NewTopicID(), Partitions: []PartitionAssignment{assignment(0, 1, 2, 3)}}
		if _, err := img.apply(rec, img.Index()+1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTopicByName(b *testing.B) {
	img, names := benchImage(b, 10_000)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, ok := img.TopicByName(names[i%len(names)]); !ok {
			b.Fatal("missing")
		}
	}
}

func BenchmarkTopicByID(b *testing.B) {
	img, _ := benchImage(b, 10_000)
	topics := img.Topics()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, ok := img.TopicByID(topics[i%len(topics)].ID); !ok {
			b.Fatal("missing")
		}
	}
}

func TestApplyClientQuotaRejects(t *testing.T) {
	bad := []ClientQuota{
		{Key: "producer_byte_rate", Value: 1},
		{Entity: []QuotaEntityPart{{Type: "cluster"}}, Key: "producer_byte_rate", Value: 1},
		{Entity: []QuotaEntityPart{{Type: QuotaEntityIP}, {Type: QuotaEntityUser}}, Key: "connection_creation_rate", Value: 1},
		{Entity: []QuotaEntityPart{{Type: QuotaEntityIP, Name: ptr("not-an-ip")}}, Key: "connection_creation_rate", Value: 1},
		{Entity: []QuotaEntityPart{{Type: QuotaEntityUser}, {Type: QuotaEntityUser}}, Key: "producer_byte_rate", Value: 1},
		{Entity: []QuotaEntityPart{{Type: QuotaEntityUser}}, Value: 1},
		{Entity: []QuotaEntityPart{{Type: QuotaEntityUser}}, Key: "producer_byte_rate", Value: math.Inf(1)},
	}
	for _, r := range bad {
		if _, err := emptyImage.apply(r, 1); !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("%+v: err %v, want ErrInvalidRecord", r, err)
		}
	}
}

// TestNoOpMovesOnlyTheIndex: a NoOp advances the Image's index and leaves its content
// index, so content watchers can skip it; any other record moves both.
func TestNoOpMovesOnlyTheIndex(t *testing.T) {
	img, err := emptyImage.apply(SetClusterID{ID: "c"}, 3)
	if err != nil || img.Index() != 3 || img.ContentIndex() != 3 {
		t.Fatalf("after SetClusterID: %v, index %d, content %d", err, img.Index(), img.ContentIndex())
	}
	img, err = img.apply(NoOp{}, 4)
	if err != nil || img.Index() != 4 || img.ContentIndex() != 3 || img.ClusterID() != "c" {
		t.Fatalf("after NoOp: %v, index %d, content %d", err, img.Index(), img.ContentIndex())
	}
}
