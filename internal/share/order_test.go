package share_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestShareCloseWaitsForLongPoll: a ShareFetch long-polling (nothing to acquire yet)
// followed on the same connection by a ShareFetch closing the member's share session
// (epoch -1): the close is served only once the long poll has answered, as Kafka, which
// reads nothing more from a connection before answering, serves it. Records produced
// while the first polls are either acquired by it and then released by the close, or
// not acquired at all; none is left locked (for group.share.record.lock.duration.ms) by
// a member whose session is closed, so another member acquires all of them at once.
func TestShareCloseWaitsForLongPoll(t *testing.T) {
	b := shareBroker(t, nil) // the default 30 s lock: far longer than the test
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const topic, group, n = "polled", "closers", 10
	const m1, m2 = "closing-member-00000000000000000000", "second-member-00000000000000000000"
	if _, err := b.Admin().CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	meta, err := b.Admin().ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	id := meta[topic].ID
	raw := b.Client()
	defer raw.Close()
	joinRaw(t, ctx, raw, group, topic, m1)
	if acq := openSession(t, ctx, raw, group, m1, id, 100); len(acq) != 0 {
		t.Fatalf("the empty topic's open acquired %+v", acq)
	}

	conn, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("pipeliner"))
	poll := shareFetchRequest(group, m1, 1, 2000)
	closing := shareFetchRequest(group, m1, -1, 0)
	// Two frames in one write; AppendRequest sizes its whole dst, so each on its own.
	frames := append(f.AppendRequest(nil, poll, 1), f.AppendRequest(nil, closing, 2)...)
	if _, err := conn.Write(frames); err != nil {
		t.Fatal(err)
	}
	bodies := make(chan []byte, 2)
	go readResponses(conn, 2, bodies)

	// The session step runs as the close is read: the broker has read both requests
	// once the session is gone. (Before the fix the close's release ran then too; give
	// it a moment, so that the produce below comes after it on the old behaviour.)
	waitSessionClosed(t, ctx, raw, group, m1)
	time.Sleep(100 * time.Millisecond)
	cl := b.Client(kgo.DefaultProduceTopic(topic))
	defer cl.Close()
	rs := make([]*kgo.Record, n)
	for i := range rs {
		rs[i] = &kgo.Record{Value: fmt.Appendf(nil, "%d", i)}
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}

	first := readShareFetch(t, ctx, bodies, 1)
	if first.ErrorCode != 0 || len(first.Topics) != 1 || first.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("the long poll failed: %+v", first)
	}
	closed := readShareFetch(t, ctx, bodies, 2)
	if closed.ErrorCode != 0 {
		t.Fatalf("the close failed: error code %d", closed.ErrorCode)
	}
	polled := int64(0)
	for _, a := range first.Topics[0].Partitions[0].AcquiredRecords {
		if a.DeliveryCount != 1 {
			t.Errorf("the long poll acquired %d-%d with delivery count %d, want 1", a.FirstOffset, a.LastOffset, a.DeliveryCount)
		}
		polled += a.LastOffset - a.FirstOffset + 1
	}
	t.Logf("the long poll acquired %d of the %d records produced while it waited", polled, n)

	// Everything is available again: the close released what the long poll acquired.
	joinRaw(t, ctx, raw, group, topic, m2)
	acquired := openSession(t, ctx, raw, group, m2, id, 100)
	got := map[int64]int16{}
	for _, a := range acquired {
		for o := a.FirstOffset; o <= a.LastOffset; o++ {
			got[o] = a.DeliveryCount
		}
	}
	if len(got) != n {
		t.Fatalf("another member acquired %d of %d records at once (%+v): the rest stay locked by the closed session", len(got), n, acquired)
	}
	for o := range int64(n) {
		want := int16(1) // never delivered before
		if polled > 0 {
			want = 2 // delivered once to the long poll, released by the close
		}
		if dc, ok := got[o]; !ok || dc != want {
			t.Errorf("offset %d: acquired %v with delivery count %d, want %d", o, ok, dc, want)
		}
	}
}

// shareFetchRequest is a v1 ShareFetch of member's session at epoch, fetching topic
// partition 0 of the session (opening with epoch 0 names it).
func shareFetchRequest(group, member string, epoch, maxWait int32) *kmsg.ShareFetchRequest {
	req := kmsg.NewPtrShareFetchRequest()
	req.Version = 1
	req.GroupID, req.MemberID, req.ShareSessionEpoch = kmsg.StringPtr(group), kmsg.StringPtr(member), epoch
	req.MaxWaitMillis, req.MaxBytes, req.MaxRecords, req.BatchSize = maxWait, 1<<20, 100, 100
	return req
}

// fetchPartition0 adds partition 0 of topicID to req, with up to 1 MiB from it.
func fetchPartition0(req *kmsg.ShareFetchRequest, topicID [16]byte) *kmsg.ShareFetchRequest {
	ft := kmsg.NewShareFetchRequestTopic()
	ft.TopicID = topicID
	fp := kmsg.NewShareFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	req.Topics = append(req.Topics, ft)
	return req
}

// openSession opens member's share session on topic-0 (epoch 0) and returns what the
// open acquired, retrying while the share-partition cannot be loaded yet.
func openSession(t *testing.T, ctx context.Context, cl *kgo.Client, group, member string, topicID [16]byte, maxWait int32) []kmsg.ShareFetchResponseTopicPartitionAcquiredRecord {
	t.Helper()
	for ctx.Err() == nil {
		req := fetchPartition0(shareFetchRequest(group, member, 0, maxWait), topicID)
		resp, err := req.RequestWith(ctx, cl)
		if err == nil && resp.ErrorCode == 0 && len(resp.Topics) == 1 && resp.Topics[0].Partitions[0].ErrorCode == 0 {
			return resp.Topics[0].Partitions[0].AcquiredRecords
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("could not open a share session")
	return nil
}

// waitSessionClosed returns once member has no share session: a fetch at an epoch
// its session never reaches answers SHARE_SESSION_NOT_FOUND rather than
// INVALID_SHARE_SESSION_EPOCH, and changes nothing.
func waitSessionClosed(t *testing.T, ctx context.Context, cl *kgo.Client, group, member string) {
	t.Helper()
	for ctx.Err() == nil {
		resp, err := shareFetchRequest(group, member, 1000, 0).RequestWith(ctx, cl)
		if err != nil {
			t.Fatalf("probing the session: %v", err)
		}
		switch resp.ErrorCode {
		case kerr.ShareSessionNotFound.Code:
			return
		case kerr.InvalidShareSessionEpoch.Code:
			time.Sleep(10 * time.Millisecond)
		default:
			t.Fatalf("probing the session: error code %d", resp.ErrorCode)
		}
	}
	t.Fatal("the close was never read")
}

// readResponses reads n responses from conn, in order.
func readResponses(conn net.Conn, n int, bodies chan<- []byte) {
	for range n {
		var size [4]byte
		if _, err := io.ReadFull(conn, size[:]); err != nil {
			return
		}
		body := make([]byte, binary.BigEndian.Uint32(size[:]))
		if _, err := io.ReadFull(conn, body); err != nil {
			return
		}
		bodies <- body
	}
}

// readShareFetch decodes the next pipelined v1 ShareFetch response, checking its
// correlation id.
func readShareFetch(t *testing.T, ctx context.Context, bodies <-chan []byte, correlation int32) *kmsg.ShareFetchResponse {
	t.Helper()
	var body []byte
	select {
	case body = <-bodies:
	case <-ctx.Done():
		t.Fatalf("request %d was never answered", correlation)
	}
	if len(body) < 5 || int32(binary.BigEndian.Uint32(body)) != correlation {
		t.Fatalf("response %x is not request %d's", body[:min(len(body), 8)], correlation)
	}
	resp := kmsg.NewPtrShareFetchResponse()
	resp.Version = 1
	if err := resp.ReadFrom(body[5:]); err != nil { // correlation id, header tags
		t.Fatal(err)
	}
	return resp
}
