package api

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/stats"
)

type benchSession struct{}

func (benchSession) Principal() string                      { return AnonymousUser }
func (benchSession) ClientSoftware() (name, version string) { return "", "" }

func TestErrorCounting(t *testing.T) {
	st := stats.New(stats.Config{APIName: APIName, ErrorName: ErrorName})
	c := &errorCounter{api: st.API(19)}
	resp := kmsg.NewPtrCreateTopicsResponse()
	for _, code := range []int16{0, 36, 36, 3} {
		topic := kmsg.NewCreateTopicsResponseTopic()
		topic.ErrorCode = code
		resp.Topics = append(resp.Topics, topic)
	}
	c.count(resp)
	c.count(resp) // the second time through the cached plan
	got := map[string]float64{}
	reg := prometheusGather(t, st)
	for k, v := range reg {
		got[k] = v
	}
	if got[`api=CreateTopics,error=TOPIC_ALREADY_EXISTS`] != 4 || got[`api=CreateTopics,error=UNKNOWN_TOPIC_OR_PARTITION`] != 2 {
		t.Errorf("error counts = %v", got)
	}
}

// BenchmarkRequestAccounting is what request metrics add to one request, end to end
// but for the socket, in the order the server and dispatcher take them: the reader's
// stamp, Handle's entry, a produce response built by respond (its encoding stamped,
// its error codes counted), the handler's return, then the writer's two stamps (one
// batch per request here, the worst case), Reply.Stats and Conn.Record. "off" is the
// same request and response without them.
func BenchmarkRequestAccounting(b *testing.B) {
	st := stats.New(stats.Config{})
	conn := st.NewConn("", benchSession{})
	errs := &errorCounter{api: st.API(produceKey)}
	resp := kmsg.NewPtrProduceResponse()
	topic := kmsg.NewProduceResponseTopic()
	topic.Partitions = make([]kmsg.ProduceResponseTopicPartition, 3)
	resp.Topics = append(resp.Topics, topic)
	h := Header{Key: produceKey, Version: 9, ClientID: "bench"}
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			var req stats.Request
			b.ReportAllocs()
			for b.Loop() {
				var received time.Time
				if on {
					received = time.Now()
				}
				reply := NewReply()
				r := request{header: h, reply: reply}
				if on {
					r.errors = errs
					reply.StartTiming(h, 200, time.Now())
				}
				r.respond(resp)
				r.handlerReturned()
				reply.SetReceived(received)
				if on {
					dequeued := time.Now()
					if reply.Stats(dequeued, time.Now(), &req) {
						conn.Record(&req)
					}
				}
				reply.Release()
			}
		})
	}
}
