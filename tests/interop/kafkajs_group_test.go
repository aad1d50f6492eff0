package interop

// Two KafkaJS consumers in one group: KafkaJS's own JoinGroup/SyncGroup/Heartbeat code
// and its round-robin assignor, computed by the leader member, against Nagare's
// coordinator.

import (
	"fmt"
	"slices"
	"testing"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// kafkajsGroup is what testdata/kafkajs/group.js prints.
type kafkajsGroup struct {
	Consumed    []kafkajsRecord    `json:"consumed"`
	Assignments map[string][]int32 `json:"assignments"`
	StillSplit  bool               `json:"stillSplit"`
}

func TestKafkaJSGroup(t *testing.T) {
	requireKafkaJS(t)
	b := brokertest.Start(t, brokertest.WithProperties(map[string]string{"group.initial.rebalance.delay.ms": "0"}))
	const topic, group, n, partitions = "kjs-group", "kjs-group-readers", 15, 4
	createTopic(t, b, topic, partitions)
	var res kafkajsGroup
	runKafkaJS(t, &res, "group.js", b.Addr(), topic, group, fmt.Sprint(n), fmt.Sprint(partitions))

	// Both members held partitions, together all four, until the end.
	var all []int32
	for _, member := range []string{"a", "b"} {
		if len(res.Assignments[member]) == 0 {
			t.Errorf("member %s holds no partitions: %v", member, res.Assignments)
		}
		all = append(all, res.Assignments[member]...)
	}
	slices.Sort(all)
	if !slices.Equal(all, []int32{0, 1, 2, 3}) || !res.StillSplit {
		t.Errorf("assignments %v (still split at the end: %v) do not split partitions 0-3 between the members",
			res.Assignments, res.StillSplit)
	}

	// Every record franz-go reads was consumed once, by the member holding its partition.
	stored := readAll(t, b, topic)
	if len(stored) != n*partitions {
		t.Fatalf("franz-go read %d records, want %d", len(stored), n*partitions)
	}
	count := map[string]int{}
	byMember := map[string]int{}
	for _, r := range res.Consumed {
		count[*r.Value]++
		byMember[r.Member]++
		if !slices.Contains(res.Assignments[r.Member], r.Partition) {
			t.Errorf("member %s read %s from partition %d, which it does not hold (%v)", r.Member, *r.Value, r.Partition, res.Assignments)
		}
	}
	t.Logf("records read per member: %v", byMember)
	next := map[int32]int64{}
	for _, r := range stored {
		next[r.Partition] = r.Offset + 1
		if want := fmt.Sprintf("group-%d-%d", r.Partition, r.Offset); string(r.Value) != want {
			t.Errorf("franz-go read %s at %d/%d, want %s", r.Value, r.Partition, r.Offset, want)
		}
		if c := count[string(r.Value)]; c != 1 {
			t.Errorf("record %s consumed %d times, want once", r.Value, c)
		}
	}
	if len(res.Consumed) != len(stored) {
		t.Errorf("KafkaJS consumed %d records, want the %d stored once each", len(res.Consumed), len(stored))
	}

	// Auto commit reached every partition's end.
	wantCommitted(t, b, group, topic, next)
}
