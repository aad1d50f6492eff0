package interop

// kafka-python's KafkaConsumer with a group_id: its own JoinGroup/SyncGroup/Heartbeat
// code (and its own idea of which versions to use) against Nagare's coordinator.

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// pythonGroupResult is what testdata/kafka_python_group.py prints.
type pythonGroupResult struct {
	Consumed []struct {
		Member    string `json:"member"`
		Partition int32  `json:"partition"`
		Offset    int64  `json:"offset"`
		Value     string `json:"value"`
	} `json:"consumed"`
	Assignments map[string][]int32 `json:"assignments"`
	Committed   map[string]*int64  `json:"committed"`
	Late        []string           `json:"late"`
}

func TestKafkaPythonGroup(t *testing.T) {
	requireKafkaPython(t)
	// Kafka's defaults throughout, group.initial.rebalance.delay.ms (3s) included.
	b := brokertest.Start(t)
	const topic, groupID, partitions, first, second = "pygroup", "py-readers", 4, 25, 10
	createTopic(t, b, topic, partitions)
	want := produceLines(t, b, topic, "py", partitions, first)
	out := runClient(t, "", systemPython, "testdata/kafka_python_group.py", b.Addr(), topic, groupID,
		fmt.Sprint(len(want)), fmt.Sprint(second))
	for p := range partitions { // what the script produces once both members hold partitions
		for i := range second {
			want = append(want, fmt.Sprintf("py2-%d-%d", p, i))
		}
	}
	var res pythonGroupResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("script output is not the expected JSON: %v\n%s", err, out)
	}

	// Every record once, across the two members; the second half is read by both.
	count := map[string]int{}
	byMember := map[string]int{}
	for _, r := range res.Consumed {
		count[r.Value]++
		byMember[r.Member]++
	}
	for _, v := range want {
		if count[v] != 1 {
			t.Errorf("record %s consumed %d times, want once", v, count[v])
		}
	}
	if len(count) != len(want) {
		t.Errorf("consumed %d distinct records, want %d", len(count), len(want))
	}
	t.Logf("records read per member: %v", byMember)
	if byMember["second"] == 0 {
		t.Errorf("the second member read nothing: %v", byMember)
	}

	// After the second member joined, the two split the partitions.
	var all []int32
	for name, ps := range res.Assignments {
		if len(ps) == 0 {
			t.Errorf("member %s holds no partitions after the rebalance: %v", name, res.Assignments)
		}
		all = append(all, ps...)
	}
	slices.Sort(all)
	if !slices.Equal(all, []int32{0, 1, 2, 3}) {
		t.Errorf("assignments %v do not split partitions 0-3 between the members", res.Assignments)
	}

	// Commits reached every partition's end, and a later member finds nothing to read.
	for p := range partitions {
		if c := res.Committed[fmt.Sprint(p)]; c == nil || *c != first+second {
			t.Errorf("partition %d committed %v, want %d", p, deref(c), first+second)
		}
	}
	if len(res.Late) != 0 {
		t.Errorf("a member joining after the commits read %d records, want none: %v", len(res.Late), res.Late)
	}
	described, err := b.Admin().DescribeGroups(testContext(t), groupID)
	if err != nil {
		t.Fatal(err)
	}
	if g := described[groupID]; g.State != "Empty" {
		t.Errorf("after every member closed the group is %s, want Empty", g.State)
	}
}
