package share_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// acceptAll consumes with a new share consumer of group until it accepted at least
// want records, flushes the acknowledgements and returns the first offset it got and
// the client, still a member.
func acceptAll(t *testing.T, ctx context.Context, b *brokertest.Broker, group, topic string, want int) (first int64, cl *kgo.Client) {
	t.Helper()
	cl = b.Client(kgo.ShareGroup(group), kgo.ConsumeTopics(topic))
	first, got := -1, 0
	for got < want && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			if first < 0 || r.Offset < first {
				first = r.Offset
			}
			r.Ack(kgo.AckAccept)
			got++
		})
	}
	if err := cl.FlushAcks(ctx); err != nil {
		t.Fatalf("flush acks: %v", err)
	}
	return first, cl
}

// leave closes a share consumer and waits until its group has no members.
func leave(t *testing.T, ctx context.Context, b *brokertest.Broker, cl *kgo.Client, group string) {
	t.Helper()
	cl.Close()
	waitForShareMembers(t, ctx, b, group, 0)
}

func describeShare(t *testing.T, ctx context.Context, adm *kadm.Client, group string) kadm.DescribedShareGroupOffsets {
	t.Helper()
	all, err := adm.DescribeShareGroupOffsets(ctx, group)
	if err != nil {
		t.Fatalf("describe share group offsets: %v", err)
	}
	return all[group]
}

// TestShareGroupOffsetsAPIs: DescribeShareGroupOffsets shows the start offset and lag
// of a share group; AlterShareGroupOffsets and DeleteShareGroupOffsets refuse a group
// with members (NON_EMPTY_GROUP), then move and drop its state, and the next member
// starts where they left it.
func TestShareGroupOffsetsAPIs(t *testing.T) {
	b := shareBroker(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	produce(t, b, "o", 30)
	adm := b.Admin()
	_, cl := acceptAll(t, ctx, b, "g", "o", 10)
	d := describeShare(t, ctx, adm, "g")
	o, ok := d.Offsets.Lookup("o", 0)
	if d.Err != nil || !ok || o.Err != nil || o.StartOffset < 10 || o.Lag != 30-o.StartOffset {
		t.Fatalf("described %+v (group err %v), want start >= 10 and lag 30-start", o, d.Err)
	}
	offsets := kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: "o", Partition: 0, At: 25})
	if _, err := adm.AlterShareGroupOffsets(ctx, "g", offsets); !errors.Is(err, kerr.NonEmptyGroup) {
		t.Fatalf("alter with a member: %v, want NON_EMPTY_GROUP", err)
	}
	if _, err := adm.DeleteShareGroupOffsets(ctx, "g", "o"); !errors.Is(err, kerr.NonEmptyGroup) {
		t.Fatalf("delete with a member: %v, want NON_EMPTY_GROUP", err)
	}
	leave(t, ctx, b, cl, "g")

	offsets.Add(kadm.Offset{Topic: "o", Partition: 7, At: 1})
	offsets.Add(kadm.Offset{Topic: "nosuch", Partition: 0, At: 1})
	res, err := adm.AlterShareGroupOffsets(ctx, "g", offsets)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		topic string
		p     int32
		want  error
	}{{"o", 0, nil}, {"o", 7, kerr.UnknownTopicOrPartition}, {"nosuch", 0, kerr.UnknownTopicOrPartition}} {
		got, ok := res.Lookup(c.topic, c.p)
		if !ok {
			t.Errorf("alter %s-%d: not in the answer", c.topic, c.p)
		} else if !errors.Is(got, c.want) && got != c.want {
			t.Errorf("alter %s-%d: %v, want %v", c.topic, c.p, got, c.want)
		}
	}
	if o, _ := describeShare(t, ctx, adm, "g").Offsets.Lookup("o", 0); o.StartOffset != 25 || o.Lag != 5 {
		t.Fatalf("after alter: %+v, want start 25 lag 5", o)
	}
	first, cl := acceptAll(t, ctx, b, "g", "o", 5)
	if first != 25 {
		t.Fatalf("after alter the next member began at %d, want 25", first)
	}
	leave(t, ctx, b, cl, "g")

	del, err := adm.DeleteShareGroupOffsets(ctx, "g", "o", "nosuch")
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := del.Lookup("o"); !ok || e != nil {
		t.Fatalf("delete o: %v (in the answer: %v)", e, ok)
	}
	if e, ok := del.Lookup("nosuch"); !ok || !errors.Is(e, kerr.UnknownTopicOrPartition) {
		t.Fatalf("delete nosuch: %v, want UNKNOWN_TOPIC_OR_PARTITION", e)
	}
	if d := describeShare(t, ctx, adm, "g"); d.Err != nil || len(d.Offsets) != 0 {
		t.Fatalf("after delete: %+v, want no offsets", d)
	}
	if del, err := adm.DeleteShareGroupOffsets(ctx, "g", "o"); err != nil || !errors.Is(del["o"], kerr.UnknownTopicOrPartition) {
		t.Fatalf("deleting again: %v %v, want UNKNOWN_TOPIC_OR_PARTITION", del, err)
	}
	first, cl = acceptAll(t, ctx, b, "g", "o", 1)
	cl.Close()
	if first != 0 {
		t.Fatalf("after delete the next member began at %d, want 0 (share.auto.offset.reset=earliest)", first)
	}
	if d := describeShare(t, ctx, adm, "missing"); !errors.Is(d.Err, kerr.GroupIDNotFound) {
		t.Fatalf("describe missing group: %v, want GROUP_ID_NOT_FOUND", d.Err)
	}
	if _, err := adm.AlterShareGroupOffsets(ctx, "missing", offsets); !errors.Is(err, kerr.GroupIDNotFound) {
		t.Fatalf("alter missing group: %v, want GROUP_ID_NOT_FOUND", err)
	}
}

// TestDeleteGroupsDropsShareState: DeleteGroups of a share group with members is
// NON_EMPTY_GROUP; once empty it deletes the group and its share state, so a new
// member starts at share.auto.offset.reset again.
func TestDeleteGroupsDropsShareState(t *testing.T) {
	b := shareBroker(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	produce(t, b, "dg", 20)
	adm := b.Admin()
	_, cl := acceptAll(t, ctx, b, "d", "dg", 20)
	if res, _ := adm.DeleteGroups(ctx, "d"); !errors.Is(res["d"].Err, kerr.NonEmptyGroup) {
		t.Fatalf("delete with a member: %v, want NON_EMPTY_GROUP", res["d"].Err)
	}
	leave(t, ctx, b, cl, "d")
	if res, err := adm.DeleteGroups(ctx, "d"); err != nil || res["d"].Err != nil {
		t.Fatalf("delete group: %v %v", err, res["d"].Err)
	}
	if d := describeShare(t, ctx, adm, "d"); !errors.Is(d.Err, kerr.GroupIDNotFound) {
		t.Fatalf("describe deleted group: %+v, want GROUP_ID_NOT_FOUND", d)
	}
	first, cl := acceptAll(t, ctx, b, "d", "dg", 1)
	cl.Close()
	if first != 0 {
		t.Fatalf("after DeleteGroups the next member began at %d, want 0", first)
	}
}
