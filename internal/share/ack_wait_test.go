package share_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/brokertest"
	"github.com/nagare-dev/nagare/internal/coordinator"
	"github.com/nagare-dev/nagare/internal/share"
)

// stallWindow is how long a killed follower stays in the ISR (replica lag and broker
// session timeout), so how long a state write waits for the high watermark.
const stallWindow = 8 * time.Second

// TestShareAckWaitKeepsConnectionRead: a ShareAcknowledge whose state write waits for
// a dead follower (still in the state partition's ISR) neither stops its connection's
// next request from being served nor holds up another group's state read on the
// same state partition; the acknowledgement is answered once the ISR shrinks.
func TestShareAckWaitKeepsConnectionRead(t *testing.T) {
	ms := fmt.Sprint(stallWindow.Milliseconds())
	brokers := shareCluster(t, map[string]string{"replica.lag.time.max.ms": ms, "broker.session.timeout.ms": ms})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	produceReplicated(t, ctx, brokers[0], "q", 20)
	group, other, p := groupsStatedOnDataLeader(t, ctx, brokers[0], "q")
	leader, _ := brokerByID(brokers, p.dataLeader)
	createTopicOn(t, ctx, leader, "side", p.dataLeader)
	acquired := acquireRaw(t, ctx, leader, group, "q", "m1", p.topicID, 5)
	victim := brokers[p.dataLeader%3] // another node, a follower of every state partition
	victim.Kill()

	conn, err := net.Dial("tcp", leader.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("pipeliner"))
	sent := time.Now()
	// Two frames in one write; AppendRequest sizes its whole dst, so each on its own.
	frames := append(f.AppendRequest(nil, ackRequest(group, "m1", p.topicID, acquired), 1),
		f.AppendRequest(nil, sideProduce(), 2)...)
	if _, err := conn.Write(frames); err != nil {
		t.Fatal(err)
	}
	answered := make(chan time.Time, 1)
	bodies := make(chan []byte, 2)
	go readTwo(conn, answered, bodies)

	produced := waitSideRecord(t, ctx, leader)
	readSeen := readOtherState(t, ctx, leader, other, p.topicID)
	var ackAt time.Time
	select {
	case ackAt = <-answered:
	case <-ctx.Done():
		t.Fatal("the acknowledgement was never answered")
	}
	t.Logf("produce served after %v, other group's state read after %v, acknowledgement answered after %v",
		produced.Sub(sent), readSeen.Sub(sent), ackAt.Sub(sent))
	if d := ackAt.Sub(sent); d < stallWindow/2 {
		t.Fatalf("the acknowledgement was answered after %v: it did not wait for the dead follower, the test shows nothing", d)
	}
	if d := produced.Sub(sent); d > stallWindow/2 {
		t.Errorf("the request after a waiting acknowledgement was served only after %v", d)
	}
	if d := readSeen.Sub(produced); d > stallWindow/2 {
		t.Errorf("another group's state read on the same state partition waited %v", d)
	}
	checkAckResponse(t, <-bodies)
}

// groupsStatedOnDataLeader returns two groups whose state for topic-0 lives on the
// same state partition, led by the data partition's leader.
func groupsStatedOnDataLeader(t *testing.T, ctx context.Context, b *brokertest.Broker, topic string) (string, string, placement) {
	t.Helper()
	_, p := groupStatedElsewhere(t, ctx, b, topic) // creates and waits for the state topic
	md, err := kadm.NewClient(b.Client()).Metadata(ctx, share.StateTopic)
	if err != nil {
		t.Fatal(err)
	}
	st := md.Topics[share.StateTopic]
	var groups []string
	var want int32 = -1
	for i := range 1000 {
		g := fmt.Sprintf("w%d", i)
		n := share.StatePartitionFor(share.Key{Group: g, TopicID: p.topicID}, 3)
		if st.Partitions[n].Leader != p.dataLeader || (want >= 0 && n != want) {
			continue
		}
		want, groups = n, append(groups, g)
		if len(groups) == 2 {
			p.stateLeader = p.dataLeader
			return groups[0], groups[1], p
		}
	}
	t.Fatalf("no two groups share a state partition led by %d", p.dataLeader)
	return "", "", p
}

// createTopicOn creates a one-partition topic with its only replica on node.
func createTopicOn(t *testing.T, ctx context.Context, b *brokertest.Broker, topic string, node int32) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, -1, -1
	ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
	ra.Replicas = []int32{node}
	rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 10000
	resp, err := req.RequestWith(ctx, b.Client())
	if err != nil || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("create %s: %v %+v", topic, err, resp)
	}
	cl := b.Client(kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("first")}).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}

func ackRequest(group, member string, topicID [16]byte, acquired []kmsg.ShareFetchResponseTopicPartitionAcquiredRecord) *kmsg.ShareAcknowledgeRequest {
	req := kmsg.NewPtrShareAcknowledgeRequest()
	req.Version = 1
	req.GroupID, req.MemberID, req.ShareSessionEpoch = kmsg.StringPtr(group), kmsg.StringPtr(member), 1
	rt := kmsg.NewShareAcknowledgeRequestTopic()
	rt.TopicID = topicID
	rp := kmsg.NewShareAcknowledgeRequestTopicPartition()
	for _, a := range acquired {
		b := kmsg.NewShareAcknowledgeRequestTopicPartitionAcknowledgementBatch()
		b.FirstOffset, b.LastOffset, b.AcknowledgeTypes = a.FirstOffset, a.LastOffset, []int8{1}
		rp.AcknowledgementBatches = append(rp.AcknowledgementBatches, b)
	}
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// sideProduce appends one record to side-0 with acks=1: its effect shows that the
// connection's reader went on past the acknowledgement.
func sideProduce() *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 9, 1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "side"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = coordinator.AppendBatch(nil, coordinator.AppendRecord(nil, nil, []byte("second"), 0), 1, time.Now(), coordinator.Producer{})
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// readTwo reads the two pipelined responses, stamping the first (the acknowledgement's).
func readTwo(conn net.Conn, answered chan<- time.Time, bodies chan<- []byte) {
	for i := range 2 {
		var size [4]byte
		if _, err := io.ReadFull(conn, size[:]); err != nil {
			return
		}
		body := make([]byte, binary.BigEndian.Uint32(size[:]))
		if _, err := io.ReadFull(conn, body); err != nil {
			return
		}
		if i == 0 {
			answered <- time.Now()
		}
		bodies <- body
	}
}

// waitSideRecord returns when side-0 holds the pipelined produce's record.
func waitSideRecord(t *testing.T, ctx context.Context, b *brokertest.Broker) time.Time {
	t.Helper()
	adm := kadm.NewClient(b.Client())
	for ctx.Err() == nil {
		ends, err := adm.ListEndOffsets(ctx, "side")
		if o, ok := ends.Lookup("side", 0); err == nil && ok && o.Err == nil && o.Offset >= 2 {
			return time.Now()
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the produce after the acknowledgement was never served")
	return time.Time{}
}

// readOtherState reads group's state on b (ReadShareGroupState, unfenced) and returns
// when it was answered.
func readOtherState(t *testing.T, ctx context.Context, b *brokertest.Broker, group string, topicID [16]byte) time.Time {
	t.Helper()
	req := kmsg.NewPtrReadShareGroupStateRequest()
	req.GroupID = group
	rt := kmsg.NewReadShareGroupStateRequestTopic()
	rt.TopicID = topicID
	rp := kmsg.NewReadShareGroupStateRequestTopicPartition()
	rp.LeaderEpoch = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	cl := b.Client()
	defer cl.Close()
	resp, err := cl.SeedBrokers()[0].Request(ctx, req)
	if err != nil {
		t.Fatalf("read share state: %v", err)
	}
	if code := resp.(*kmsg.ReadShareGroupStateResponse).Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("read share state: error code %d", code)
	}
	return time.Now()
}

func checkAckResponse(t *testing.T, body []byte) {
	t.Helper()
	resp := kmsg.NewPtrShareAcknowledgeResponse()
	resp.Version = 1
	if err := resp.ReadFrom(body[5:]); err != nil { // correlation id, header tags
		t.Fatal(err)
	}
	if resp.ErrorCode != 0 || len(resp.Topics) != 1 || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("acknowledgement failed: %+v", resp)
	}
}
