package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"testing"

	"github.com/nagare-dev/nagare/internal/api"
)

// immediateHandler answers every frame at once with its own bytes, so the benchmark
// measures the server, not the handler.
type immediateHandler struct{}

func (immediateHandler) Handle(_ context.Context, _ *api.Session, frame []byte) *api.Reply {
	reply := api.NewReply()
	reply.SendBytes(frame[4:])
	return reply
}

// BenchmarkPipelinedEcho sends batches of small requests on one connection and reads the
// responses: the per-request cost of framing, queueing and coalesced writes.
func BenchmarkPipelinedEcho(b *testing.B) {
	const batch = 32
	s, _ := startServer(b, immediateHandler{}, Config{})
	c := dial(b, s)
	req := echo(1, 0, make([]byte, 100)...)
	reqs := bytes.Repeat(req, batch)
	resp := make([]byte, batch*(len(req)-4))
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	b.ResetTimer()
	for i := 0; i < b.N; i += batch {
		if _, err := c.Write(reqs); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, resp); err != nil {
			b.Fatal(err)
		}
	}
	if got := binary.BigEndian.Uint32(resp); int(got) != len(req)-8 {
		b.Fatalf("response size %d", got)
	}
}

// BenchmarkEchoRoundTrip sends one small request at a time and waits for its response,
// as a producer with acks=1 and no linger does: the latency of one request through the
// server.
func BenchmarkEchoRoundTrip(b *testing.B) {
	s, _ := startServer(b, immediateHandler{}, Config{})
	c := dial(b, s)
	req := echo(1, 0, make([]byte, 100)...)
	resp := make([]byte, len(req)-4)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, resp); err != nil {
			b.Fatal(err)
		}
	}
}
