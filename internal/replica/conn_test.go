package replica

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// fakeLeader answers ApiVersions and then each Fetch with one partition holding
// records, in the framing a Kafka broker uses (response header v1 for flexible Fetch).
func fakeLeader(t *testing.T, records func(i int) []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		for i := -1; ; i++ { // the first request is ApiVersions
			var size [4]byte
			if _, err := io.ReadFull(c, size[:]); err != nil {
				return
			}
			body := make([]byte, binary.BigEndian.Uint32(size[:]))
			if _, err := io.ReadFull(c, body); err != nil {
				return
			}
			key, version := int16(binary.BigEndian.Uint16(body)), int16(binary.BigEndian.Uint16(body[2:]))
			corr := body[4:8]
			var out []byte
			switch key {
			case 18:
				resp := kmsg.NewPtrApiVersionsResponse()
				resp.Version = version
				resp.ApiKeys = append(resp.ApiKeys, kmsg.ApiVersionsResponseApiKey{ApiKey: 1, MinVersion: 4, MaxVersion: 17})
				out = append(append(out, corr...), resp.AppendTo(nil)...)
			case 1:
				resp := kmsg.NewPtrFetchResponse()
				resp.Version = version
				tp := kmsg.NewFetchResponseTopic()
				tp.Topic = "t"
				p := kmsg.NewFetchResponseTopicPartition()
				p.HighWatermark = int64(i)
				p.RecordBatches = records(i)
				tp.Partitions = append(tp.Partitions, p)
				resp.Topics = append(resp.Topics, tp)
				out = append(append(append(out, corr...), 0), resp.AppendTo(nil)...) // empty header tags
			default:
				return
			}
			var hdr [4]byte
			binary.BigEndian.PutUint32(hdr[:], uint32(len(out)))
			if _, err := c.Write(append(hdr[:], out...)); err != nil {
				return
			}
		}
	}()
	return ln.Addr().String()
}

func TestLeaderConnFetch(t *testing.T) {
	payload := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 1000*(i+1)) }
	addr := fakeLeader(t, payload)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := dialLeader(ctx, nil, addr, "test", 2500)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	for i := range 4 {
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaState.ID, req.ReplicaID = 2, 2
		req.MaxWaitMillis = 100
		resp := kmsg.NewPtrFetchResponse()
		if err := c.fetch(req, resp); err != nil {
			t.Fatalf("fetch %d: %v", i, err)
		}
		if req.Version != 17 {
			t.Fatalf("fetch went at v%d, want the leader's max v17", req.Version)
		}
		p := resp.Topics[0].Partitions[0]
		if p.HighWatermark != int64(i) || !bytes.Equal(p.RecordBatches, payload(i)) {
			t.Fatalf("fetch %d: hw %d, %d record bytes", i, p.HighWatermark, len(p.RecordBatches))
		}
	}
	// Canceling closes the connection: a request after it fails instead of hanging.
	cancel()
	done := make(chan error, 1)
	go func() { done <- c.fetch(kmsg.NewPtrFetchRequest(), kmsg.NewPtrFetchResponse()) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("fetch on a canceled connection succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("fetch on a canceled connection hung")
	}
}

func TestSkipTags(t *testing.T) {
	b := []byte{2, 1, 2, 0xaa, 0xbb, 5, 0, 0x7f}
	if n, err := skipTags(b); err != nil || n != 7 {
		t.Fatalf("skipTags = %d, %v; want 7", n, err)
	}
	if _, err := skipTags([]byte{1, 1, 9}); err == nil {
		t.Fatal("truncated tag accepted")
	}
}
