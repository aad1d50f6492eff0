package replica

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/config"
	"github.com/nagare-dev/nagare/internal/log"
	"github.com/nagare-dev/nagare/internal/metadata"
	"github.com/nagare-dev/nagare/internal/partition"
)

// benchPartitions is how many partitions of one leader the benchmark's fetcher follows;
// only the first receives records, as when a few partitions of a topic are busy.
const benchPartitions = 4

// followerFixture opens a metadata store and a partition registry in which this broker
// (node 1) follows benchPartitions partitions led by node 2.
func followerFixture(tb testing.TB) []followed {
	tb.Helper()
	dir := tb.TempDir()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	conf, err := config.NewBroker(nil)
	if err != nil {
		tb.Fatal(err)
	}
	logs, err := log.OpenManager(log.ManagerConfig{Dir: dir, Logger: logger})
	if err != nil {
		tb.Fatal(err)
	}
	meta, err := metadata.Open(metadata.Config{DataDir: dir, NodeID: 1, BindAddr: "127.0.0.1:0", Logger: logger})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		meta.Close()
		logs.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := meta.WaitReady(ctx); err != nil {
		tb.Fatal(err)
	}
	id := metadata.NewTopicID()
	assignments := make([]metadata.PartitionAssignment, benchPartitions)
	for i := range assignments {
		assignments[i] = metadata.PartitionAssignment{Partition: int32(i), Replicas: []int32{2, 1}, Leader: 2, ISR: []int32{2, 1}}
	}
	for _, rec := range []metadata.Record{
		metadata.RegisterBroker{NodeID: 1, Host: "127.0.0.1", Port: 9092},
		metadata.RegisterBroker{NodeID: 2, Host: "127.0.0.1", Port: 9093},
		metadata.CreateTopic{Name: "bench", TopicID: id, Partitions: assignments},
	} {
		if _, err := meta.Propose(ctx, rec); err != nil {
			tb.Fatalf("propose %T: %v", rec, err)
		}
	}
	reg := partition.NewRegistry(1, logs, conf, logger)
	if err := reg.Sync(meta.Image()); err != nil {
		tb.Fatal(err)
	}
	parts := make([]followed, benchPartitions)
	for i := range parts {
		p, ok := reg.Get("bench", int32(i))
		if !ok || p.IsLeader() {
			tb.Fatalf("partition %d: not a follower here", i)
		}
		parts[i] = followed{part: p, topicID: id, leaderEpoch: p.LeaderEpoch()}
	}
	return parts
}

// benchBatch is one v2 batch of n records of size bytes each, at base offset 0, without a
// producer id.
func benchBatch(n, size int) []byte {
	var body []byte
	value := bytes.Repeat([]byte{'v'}, size)
	for i := range n {
		var rec []byte
		rec = append(rec, 0)                        // attributes
		rec = binary.AppendVarint(rec, 0)           // timestamp delta
		rec = binary.AppendVarint(rec, int64(i))    // offset delta
		rec = binary.AppendVarint(rec, -1)          // null key
		rec = binary.AppendVarint(rec, int64(size)) // value length
		rec = append(rec, value...)                 // value
		rec = binary.AppendVarint(rec, 0)           // no headers
		body = binary.AppendVarint(body, int64(len(rec)))
		body = append(body, rec...)
	}
	ts := time.Now().UnixMilli()
	b := make([]byte, 61, 61+len(body))
	binary.BigEndian.PutUint32(b[8:], uint32(49+len(body)))
	b[16] = 2
	binary.BigEndian.PutUint32(b[23:], uint32(n-1)) // last offset delta
	binary.BigEndian.PutUint64(b[27:], uint64(ts))
	binary.BigEndian.PutUint64(b[35:], uint64(ts))
	binary.BigEndian.PutUint64(b[43:], ^uint64(0)) // no producer
	binary.BigEndian.PutUint16(b[51:], 0xffff)
	binary.BigEndian.PutUint32(b[53:], 0xffffffff)
	binary.BigEndian.PutUint32(b[57:], uint32(n))
	b = append(b, body...)
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// replayLeader answers ApiVersions, then every Fetch with the same pre-encoded response
// (its batch moved to the next offsets each time), so that it allocates nothing per
// round and the benchmark's allocations are the follower's.
func replayLeader(tb testing.TB, topicID [16]byte, batch []byte, records int64) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = 17
	t := kmsg.NewFetchResponseTopic()
	t.TopicID = topicID
	for i := range benchPartitions {
		p := kmsg.NewFetchResponseTopicPartition()
		p.Partition = int32(i)
		p.HighWatermark, p.LastStableOffset, p.LogStartOffset = 1<<40, 1<<40, 0
		if i == 0 {
			p.RecordBatches = batch
		}
		t.Partitions = append(t.Partitions, p)
	}
	resp.Topics = append(resp.Topics, t)
	// size, correlation id, empty header tags, body
	frame := append(make([]byte, 8, 9), 0)
	frame = resp.AppendTo(frame)
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
	at := bytes.Index(frame, batch)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		body := make([]byte, 64<<10)
		next := int64(0)
		var size [4]byte
		for {
			if _, err := io.ReadFull(c, size[:]); err != nil {
				return
			}
			n := int(binary.BigEndian.Uint32(size[:]))
			if n > len(body) {
				return
			}
			if _, err := io.ReadFull(c, body[:n]); err != nil {
				return
			}
			var out []byte
			switch key := int16(binary.BigEndian.Uint16(body)); key {
			case 18:
				av := kmsg.NewPtrApiVersionsResponse()
				av.Version = int16(binary.BigEndian.Uint16(body[2:]))
				av.ApiKeys = append(av.ApiKeys, kmsg.ApiVersionsResponseApiKey{ApiKey: 1, MinVersion: 4, MaxVersion: 17})
				out = av.AppendTo(append(make([]byte, 4), body[4:8]...))
				binary.BigEndian.PutUint32(out, uint32(len(out)-4))
			case 1:
				copy(frame[4:8], body[4:8])
				binary.BigEndian.PutUint64(frame[at:], uint64(next))
				next += records
				out = frame
			default:
				return
			}
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	}()
	return ln.Addr().String()
}

// Rounds reuse the request and the decoded answer: each round asks for every partition
// at its log end, and the records the leader sends land in order.
func TestFetcherRoundsReuseRequest(t *testing.T) {
	parts := followerFixture(t)
	const records = 4
	batch := benchBatch(records, 100)
	addr := replayLeader(t, parts[0].topicID, batch, records)
	f, c := benchFetcher(t, parts, addr)
	defer c.close()
	var first *kmsg.FetchRequest
	for round := range 5 {
		if sent, err := f.round(c, time.Now()); err != nil || !sent {
			t.Fatalf("round %d: sent %v, %v", round, sent, err)
		}
		if first == nil {
			first = f.req
		} else if f.req != first {
			t.Fatalf("round %d built a new request instead of refilling the last", round)
		}
		if end := parts[0].part.Log().LogEndOffset(); end != int64(round+1)*records {
			t.Fatalf("round %d: follower log end %d, want %d", round, end, (round+1)*records)
		}
		if got := len(f.req.Topics); got != 1 || len(f.req.Topics[0].Partitions) != benchPartitions {
			t.Fatalf("round %d: request has %d topics, want 1 with %d partitions", round, got, benchPartitions)
		}
		if off := f.req.Topics[0].Partitions[0].FetchOffset; off != int64(round)*records {
			t.Fatalf("round %d: fetch offset %d, want %d", round, off, round*records)
		}
	}
	if hw := parts[0].part.Log().HighWatermark(); hw != 5*records {
		t.Fatalf("follower high watermark %d, want %d", hw, 5*records)
	}
}

// benchFetcher is a fetcher of parts from the leader at addr, and its connection.
func benchFetcher(tb testing.TB, parts []followed, addr string) (*fetcher, *leaderConn) {
	tb.Helper()
	cfg := Config{NodeID: 1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Settings: Settings{MaxWait: 500 * time.Millisecond, MinBytes: 1, MaxBytes: 1 << 20, ResponseMaxBytes: 10 << 20, Backoff: time.Second}}
	f := &fetcher{cfg: cfg, leader: 2, plan: fetchPlan{addr: addr, parts: parts}, paused: make([]time.Time, len(parts))}
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	c, err := dialLeader(ctx, nil, addr, "bench", 1<<20)
	if err != nil {
		tb.Fatal(err)
	}
	return f, c
}

// BenchmarkFetcherRound is one replica fetch round against a leader on loopback: build
// the request for benchPartitions partitions, send it, read and decode the answer (16
// records of 1 KiB for the first partition), append them to the follower's log and move
// its high watermark. Allocations are the follower's per round.
func BenchmarkFetcherRound(b *testing.B) {
	parts := followerFixture(b)
	const records, size = 16, 1024
	batch := benchBatch(records, size)
	addr := replayLeader(b, parts[0].topicID, batch, records)
	f, c := benchFetcher(b, parts, addr)
	defer c.close()
	b.ReportAllocs()
	b.SetBytes(int64(len(batch)))
	b.ResetTimer()
	for range b.N {
		if sent, err := f.round(c, time.Now()); err != nil || !sent {
			b.Fatalf("round: sent %v, %v", sent, err)
		}
	}
	b.StopTimer()
	if end := parts[0].part.Log().LogEndOffset(); end != int64(b.N)*records {
		b.Fatalf("follower log end %d, want %d", end, int64(b.N)*records)
	}
}
