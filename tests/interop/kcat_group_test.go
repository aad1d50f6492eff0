package interop

// kcat's balanced consumer (-G): librdkafka's consumer group client, the one most
// non-JVM clients wrap, against Nagare's group coordinator.

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// produceLines produces "label-p-i" to every partition of topic and returns the lines.
func produceLines(t *testing.T, b *brokertest.Broker, topic, label string, partitions int32, n int) []string {
	t.Helper()
	// Uncompressed: the python client here has no snappy (franz-go's default codec).
	cl := b.Client(kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	var recs []*kgo.Record
	var lines []string
	for p := range partitions {
		for i := range n {
			v := fmt.Sprintf("%s-%d-%d", label, p, i)
			lines = append(lines, v)
			recs = append(recs, &kgo.Record{Partition: p, Value: []byte(v)})
		}
	}
	if err := cl.ProduceSync(testContext(t), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	return lines
}

func TestKcatBalancedConsumer(t *testing.T) {
	kcatPath(t)
	b := brokertest.Start(t, brokertest.WithProperties(map[string]string{"group.initial.rebalance.delay.ms": "0"}))
	const topic, groupID = "balanced", "kcat-readers"
	createTopic(t, b, topic, 3)
	consume := func() []string {
		t.Helper()
		// -e exits once every assigned partition is at its end; closing the consumer
		// commits what it read and leaves the group.
		out := kcat(t, b, "", "-G", groupID, "-e", "-q", "-f", `%s\n`,
			"-X", "auto.offset.reset=earliest", "-X", "session.timeout.ms=6000", topic)
		lines := strings.Fields(out)
		slices.Sort(lines)
		return lines
	}

	want := produceLines(t, b, topic, "first", 3, 20)
	slices.Sort(want)
	if got := consume(); !slices.Equal(got, want) {
		t.Fatalf("kcat -G read %d records:\n%v\nwant %d:\n%v", len(got), got, len(want), want)
	}

	// It committed every partition's end offset and left: the group is empty.
	adm := b.Admin()
	ctx := testContext(t)
	offsets, err := adm.FetchOffsets(ctx, groupID)
	if err != nil {
		t.Fatal(err)
	}
	for p := int32(0); p < 3; p++ {
		if o, ok := offsets.Lookup(topic, p); !ok || o.At != 20 {
			t.Errorf("partition %d: committed %+v (found %v), want 20", p, o.Offset, ok)
		}
	}
	described, err := adm.DescribeGroups(ctx, groupID)
	if err != nil {
		t.Fatal(err)
	}
	if g := described[groupID]; g.State != "Empty" || g.ProtocolType != "consumer" {
		t.Errorf("after kcat left the group is %s (%s), want Empty (consumer)", g.State, g.ProtocolType)
	}

	// The next run resumes from the commits: only the new records.
	want = produceLines(t, b, topic, "second", 3, 5)
	slices.Sort(want)
	if got := consume(); !slices.Equal(got, want) {
		t.Fatalf("second kcat -G run read:\n%v\nwant:\n%v", got, want)
	}

	// A franz-go member of the same group sees nothing left to read.
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := listed[groupID]; !ok {
		t.Errorf("ListGroups lacks %s: %v", groupID, listed.Groups())
	}
	lag, err := adm.Lag(ctx, groupID)
	if err != nil {
		t.Fatal(err)
	}
	lag.Each(func(l kadm.DescribedGroupLag) {
		if total := l.Lag.Total(); total != 0 {
			t.Errorf("group %s lags by %d records after kcat read everything", l.Group, total)
		}
	})
}
