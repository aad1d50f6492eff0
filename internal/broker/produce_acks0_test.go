package broker_test

import (
	"errors"
	"io"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// TestAcksZeroProduce: an acks=0 produce gets no response; one that fails (here to a topic
// that does not exist) closes its connection, as Kafka closes it, rather than send a
// response the client would read as the answer to its next request.
func TestAcksZeroProduce(t *testing.T) {
	b := brokertest.Start(t)
	createFuzzTopic(t, b)
	for _, tc := range []struct {
		topic  string
		closes bool
	}{{fuzzTopic, false}, {"no-such-topic", true}} {
		req := produceRequest(0, recordBatch("fire-and-forget"))
		req.SetVersion(12) // by name
		req.Topics[0].Topic = tc.topic
		conn := dialFuzz(t, b.Addr())
		format := kmsg.NewRequestFormatter(kmsg.FormatterClientID("acks0"))
		frames := append(format.AppendRequest(nil, req, 1), format.AppendRequest(nil, apiVersionsProbe(), 2)...)
		if _, err := conn.Write(frames); err != nil {
			t.Fatal(err)
		}
		correlationID, _, err := readResponse(conn)
		switch {
		case tc.closes && !errors.Is(err, io.EOF):
			t.Errorf("%s: after a failed acks=0 produce: correlation id %d, %v; want the connection closed", tc.topic, correlationID, err)
		case !tc.closes && (err != nil || correlationID != 2):
			t.Errorf("%s: after an acks=0 produce: correlation id %d, %v; want only the ApiVersions response (2)", tc.topic, correlationID, err)
		}
		conn.Close()
	}
}
