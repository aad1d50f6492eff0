package broker_test

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// groupKeys are the group coordinator's APIs: the fuzzer aims its requests at them.
var groupKeys = []int16{8, 9, 10, 11, 12, 13, 14, 15, 16, 42, 47, 68, 69}

// FuzzGroupRequests sends arbitrary (but decodable) group requests to a real broker and
// checks that the coordinator neither crashes nor wedges the broker: each request gets a
// response or a closed connection within a deadline, and the broker answers a fresh
// connection afterwards.
func FuzzGroupRequests(f *testing.F) {
	seeds := []kmsg.Request{
		&kmsg.JoinGroupRequest{Group: "g", ProtocolType: "consumer", SessionTimeoutMillis: 6000, RebalanceTimeoutMillis: 6000,
			Protocols: []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{0, 1}}}},
		&kmsg.SyncGroupRequest{Group: "g", Generation: 1, MemberID: "m"},
		&kmsg.HeartbeatRequest{Group: "g", Generation: 1, MemberID: "m"},
		&kmsg.OffsetCommitRequest{Group: "g", Generation: -1, Topics: []kmsg.OffsetCommitRequestTopic{
			{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 5}}}}},
		&kmsg.ConsumerGroupHeartbeatRequest{Group: "g", MemberEpoch: 0, SubscribedTopicNames: []string{"t"}, RebalanceTimeoutMillis: 1000},
		&kmsg.LeaveGroupRequest{Group: "g", Members: []kmsg.LeaveGroupRequestMember{{MemberID: "m"}}},
	}
	for _, s := range seeds {
		s.SetVersion(s.MaxVersion())
		f.Add(s.Key(), s.GetVersion(), s.AppendTo(nil))
	}
	b := brokertest.Start(f)
	f.Fuzz(func(t *testing.T, key, version int16, body []byte) {
		key = groupKeys[int(uint16(key))%len(groupKeys)]
		req := kmsg.RequestForKey(key)
		version = int16(uint16(version) % uint16(req.MaxVersion()+1))
		req.SetVersion(version)
		if req.ReadFrom(body) != nil {
			return // not a request: decoding is fuzzed elsewhere (internal/api)
		}
		exchange(t, b.Addr(), req, true)
		// The broker still serves a new connection.
		exchange(t, b.Addr(), &kmsg.ApiVersionsRequest{Version: 3, ClientSoftwareName: "fuzz", ClientSoftwareVersion: "1"}, false)
	})
}

// exchange sends one request on a fresh connection and waits for its response or a
// close; mayClose allows the broker to close instead of answering.
func exchange(t *testing.T, addr string, req kmsg.Request, mayClose bool) {
	t.Helper()
	conn := dialFuzz(t, addr)
	defer conn.Close()
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("fuzz")).AppendRequest(nil, req, 1)
	if _, err := conn.Write(frame); err != nil {
		t.Fatalf("write: %v", err)
	}
	if _, _, err := readResponse(conn); err != nil {
		if mayClose && !isTimeout(err) {
			return
		}
		t.Fatalf("%s v%d: no response: %v", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
}

// dialFuzz opens a connection for one exchange, with a deadline for all of it.
func dialFuzz(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	conn.SetDeadline(time.Now().Add(15 * time.Second))
	return conn
}

// readResponse reads one response frame: its correlation id, and what follows it.
func readResponse(conn net.Conn) (int32, []byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n < 4 || n > 64<<20 {
		return 0, nil, fmt.Errorf("response of %d bytes", n)
	}
	frame := make([]byte, n)
	if _, err := io.ReadFull(conn, frame); err != nil {
		return 0, nil, err
	}
	return int32(binary.BigEndian.Uint32(frame)), frame[4:], nil
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
