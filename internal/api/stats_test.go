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
// but for the socket: the stage stamps on the Reply, its conversion and the record into
// the client's and the API's counters, and counting a produce response's error codes.
// "off" is the same reply without them.
func BenchmarkRequestAccounting(b *testing.B) {
	st := stats.New(stats.Config{})
	conn := st.NewConn("", benchSession{})
	errs := &errorCounter{api: st.API(produceKey)}
	resp := kmsg.NewPtrProduceResponse()
	topic := kmsg.NewProduceResponseTopic()
	topic.Partitions = make([]kmsg.ProduceResponseTopicPartition, 3)
	resp.Topics = append(resp.Topics, topic)
	h := Header{Key: produceKey, Version: 9, ClientID: "bench"}
	body := []byte("response")
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
				if on {
					reply.startTiming(h, 200, time.Now())
				}
				reply.stampLocal()
				if on {
					errs.count(resp)
				}
				reply.SendBytes(body)
				reply.SetReceived(received)
				if on {
					now := time.Now()
					if reply.Stats(now, time.Now(), &req) {
						conn.Record(&req)
					}
				}
			}
		})
	}
}
