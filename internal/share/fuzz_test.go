package share_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/brokertest"
	"github.com/nagare-dev/nagare/internal/share"
)

const fuzzDeliveryLimit = 3

// fuzzTarget is one in-process broker with a topic of 50 records and a joined member,
// shared by every fuzz input: starting a broker per input would leave no time to fuzz.
type fuzzTarget struct {
	b       *brokertest.Broker
	cl      *kgo.Client
	topicID [16]byte
	member  string
}

// FuzzShareRequests runs random ShareGroupHeartbeat, ShareFetch and ShareAcknowledge
// requests (random epochs, member ids, session epochs, acknowledgement batches with
// overlapping, reversed and out-of-window ranges and unknown types) through the real
// handlers. The broker must answer every one with a response kmsg decodes, acquired
// records within the delivery limit, and every share-partition's offsets each in
// exactly one state (/v1/share-groups: the counts sum to the in-flight window).
func FuzzShareRequests(f *testing.F) {
	ft := startFuzzTarget(f)
	f.Add([]byte{1, 0, 0, 1, 0, 0, 0})                  // open a session, fetch
	f.Add([]byte{1, 0, 0, 1, 1, 1, 1, 0, 9, 1, 2, 0})   // fetch, then acknowledge with the next epoch
	f.Add([]byte{1, 0, 0, 2, 1, 5, 0, 3, 20, 3, 0, 40}) // acknowledge, overlapping batches
	f.Add([]byte{0, 7, 0, 2, 0, 200, 5, 100, 99, 2, 1})
	f.Fuzz(func(t *testing.T, prog []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for op := 0; len(prog) > 0 && op < 8; op++ {
			var req kmsg.Request
			req, prog = ft.nextRequest(prog)
			resp, err := ft.cl.Request(ctx, req)
			if err != nil {
				t.Fatalf("request %T: %v", req, err)
			}
			checkDeliveries(t, resp)
		}
		ft.checkState(t)
	})
}

func startFuzzTarget(f *testing.F) *fuzzTarget {
	b := brokertest.Start(f, brokertest.WithHTTP(), brokertest.WithProperties(map[string]string{
		"share.auto.offset.reset":                          "earliest",
		"group.share.delivery.count.limit":                 fmt.Sprint(fuzzDeliveryLimit),
		"group.share.record.lock.duration.ms":              "1000",
		"offsets.topic.num.partitions":                     "1",
		"share.coordinator.state.topic.num.partitions":     "1",
		"share.coordinator.state.topic.replication.factor": "1",
		"share.coordinator.state.topic.min.isr":            "1",
	}))
	ctx := context.Background()
	if _, err := b.Admin().CreateTopic(ctx, 1, 1, nil, "fz"); err != nil {
		f.Fatalf("create topic: %v", err)
	}
	cl := b.Client(kgo.DefaultProduceTopic("fz"))
	f.Cleanup(cl.Close)
	for i := range 5 {
		var rs []*kgo.Record
		for j := range 10 {
			rs = append(rs, &kgo.Record{Value: fmt.Appendf(nil, "%d", i*10+j)})
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			f.Fatalf("produce: %v", err)
		}
	}
	topics, err := b.Admin().ListTopics(ctx, "fz")
	if err != nil {
		f.Fatalf("list topics: %v", err)
	}
	ft := &fuzzTarget{b: b, cl: cl, topicID: topics["fz"].ID, member: "fuzz-member-0000000001"}
	hb := kmsg.NewPtrShareGroupHeartbeatRequest()
	hb.GroupID, hb.MemberID, hb.MemberEpoch, hb.SubscribedTopicNames = "fz-group", ft.member, 0, []string{"fz"}
	if _, err := hb.RequestWith(ctx, cl); err != nil {
		f.Fatalf("join: %v", err)
	}
	return ft
}

// take returns the next byte of prog (0 once it is used up) and the rest.
func take(prog []byte) (byte, []byte) {
	if len(prog) == 0 {
		return 0, nil
	}
	return prog[0], prog[1:]
}

// nextRequest decodes one request from prog: a kind byte, a member byte (even: the
// joined member, odd: a made-up one), an epoch byte, then kind-specific fields.
func (ft *fuzzTarget) nextRequest(prog []byte) (kmsg.Request, []byte) {
	kind, prog := take(prog)
	who, prog := take(prog)
	epoch, prog := take(prog)
	member := ft.member
	if who%2 == 1 {
		member = fmt.Sprintf("stranger-%d", who)
	}
	switch kind % 3 {
	case 0:
		hb := kmsg.NewPtrShareGroupHeartbeatRequest()
		hb.GroupID, hb.MemberID, hb.MemberEpoch = "fz-group", member, int32(int8(epoch))
		if who%4 == 0 {
			hb.SubscribedTopicNames = []string{"fz"}
		}
		return hb, prog
	case 1:
		req := kmsg.NewPtrShareFetchRequest()
		req.GroupID, req.MemberID, req.ShareSessionEpoch = kmsg.StringPtr("fz-group"), kmsg.StringPtr(member), int32(int8(epoch))
		req.MaxBytes, req.MaxRecords, req.BatchSize = 1<<20, 20, 10
		p := kmsg.NewShareFetchRequestTopicPartition()
		p.PartitionMaxBytes = 1 << 20
		p.AcknowledgementBatches, prog = fetchAcks(prog)
		t := kmsg.NewShareFetchRequestTopic()
		t.TopicID, t.Partitions = ft.topicID, []kmsg.ShareFetchRequestTopicPartition{p}
		req.Topics = []kmsg.ShareFetchRequestTopic{t}
		return req, prog
	default:
		req := kmsg.NewPtrShareAcknowledgeRequest()
		req.GroupID, req.MemberID, req.ShareSessionEpoch = kmsg.StringPtr("fz-group"), kmsg.StringPtr(member), int32(int8(epoch))
		var batches []kmsg.ShareFetchRequestTopicPartitionAcknowledgementBatch
		batches, prog = fetchAcks(prog)
		p := kmsg.NewShareAcknowledgeRequestTopicPartition()
		for _, b := range batches {
			ab := kmsg.NewShareAcknowledgeRequestTopicPartitionAcknowledgementBatch()
			ab.FirstOffset, ab.LastOffset, ab.AcknowledgeTypes = b.FirstOffset, b.LastOffset, b.AcknowledgeTypes
			p.AcknowledgementBatches = append(p.AcknowledgementBatches, ab)
		}
		t := kmsg.NewShareAcknowledgeRequestTopic()
		t.TopicID, t.Partitions = ft.topicID, []kmsg.ShareAcknowledgeRequestTopicPartition{p}
		req.Topics = []kmsg.ShareAcknowledgeRequestTopic{t}
		return req, prog
	}
}

// fetchAcks decodes up to three acknowledgement batches: first offset (-8..247),
// length (-2..13, so some are reversed), and types (one per batch or one per offset,
// each -1..4, so some are unknown).
func fetchAcks(prog []byte) ([]kmsg.ShareFetchRequestTopicPartitionAcknowledgementBatch, []byte) {
	n, prog := take(prog)
	var out []kmsg.ShareFetchRequestTopicPartitionAcknowledgementBatch
	for range n % 4 {
		var first, length, types byte
		first, prog = take(prog)
		length, prog = take(prog)
		types, prog = take(prog)
		b := kmsg.NewShareFetchRequestTopicPartitionAcknowledgementBatch()
		b.FirstOffset = int64(first) - 8
		b.LastOffset = b.FirstOffset + int64(length%16) - 2
		count := 1
		if types&0x80 != 0 && b.LastOffset >= b.FirstOffset {
			count = int(b.LastOffset - b.FirstOffset + 1)
		}
		for i := range count {
			b.AcknowledgeTypes = append(b.AcknowledgeTypes, int8((int(types)+i)%6)-1)
		}
		out = append(out, b)
	}
	return out, prog
}

// checkDeliveries fails when a ShareFetch hands out a record past the delivery limit.
func checkDeliveries(t *testing.T, resp kmsg.Response) {
	sf, ok := resp.(*kmsg.ShareFetchResponse)
	if !ok {
		return
	}
	for _, tp := range sf.Topics {
		for _, p := range tp.Partitions {
			for _, a := range p.AcquiredRecords {
				if a.DeliveryCount < 1 || a.DeliveryCount > fuzzDeliveryLimit || a.LastOffset < a.FirstOffset {
					t.Fatalf("acquired records %+v: delivery count outside [1, %d] or reversed", a, fuzzDeliveryLimit)
				}
			}
		}
	}
}

// checkState fails unless every share-partition's offsets are each in one state.
func (ft *fuzzTarget) checkState(t *testing.T) {
	resp, err := http.Get("http://" + ft.b.HTTPAddr() + "/v1/share-groups")
	if err != nil {
		t.Fatalf("GET /v1/share-groups: %v", err)
	}
	defer resp.Body.Close()
	var views []share.PartitionView
	if err := json.NewDecoder(resp.Body).Decode(&views); err != nil {
		t.Fatalf("decoding /v1/share-groups: %v", err)
	}
	for _, v := range views {
		if v.Available+v.Acquired+v.Acknowledged+v.Archived != v.InFlight || v.InFlight != int(v.EndOffset-v.StartOffset) || v.InFlight < 0 {
			t.Fatalf("share-partition state inconsistent: %+v", v)
		}
	}
}
