package api

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/log"
)

// TestFetchResponseMatchesKmsg encodes a fetch response with file-range records by hand
// and decodes it with kmsg for every served version: field layout, flexible encoding
// and the records bytes must all agree.
func TestFetchResponseMatchesKmsg(t *testing.T) {
	records := testRecordBatch()
	path := filepath.Join(t.TempDir(), "seg.log")
	if err := os.WriteFile(path, append([]byte("junk-before"), records...), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for v := int16(4); v <= 17; v++ {
		resp := &fetchResponse{version: v, throttleMs: 7, sessionID: 0, topics: []fetchTopic{
			{name: "orders", id: [16]byte{1, 2, 3}, partitions: []fetchPartition{
				{partition: 0, highWatermark: 10, lastStableOffset: 9, logStartOffset: 1,
					records: log.FileRange{File: f, Position: int64(len("junk-before")), Length: int64(len(records))}},
				{partition: 1, errorCode: 1, highWatermark: -1, lastStableOffset: -1, logStartOffset: -1, readCommitted: true},
			}},
			{name: "empty", id: [16]byte{9}, partitions: []fetchPartition{{partition: 3, highWatermark: 0}}},
		}}
		wire := assemble(t, resp.encode(42))
		r := kbin.Reader{Src: wire}
		if corr := r.Int32(); corr != 42 {
			t.Fatalf("v%d: correlation id %d", v, corr)
		}
		if v >= 12 {
			skipTags(&r)
		}
		got := kmsg.NewPtrFetchResponse()
		got.Version = v
		if err := got.ReadFrom(r.Src); err != nil {
			t.Fatalf("v%d: kmsg cannot decode our response: %v", v, err)
		}
		if got.ThrottleMillis != 7 || len(got.Topics) != 2 || len(got.Topics[0].Partitions) != 2 {
			t.Fatalf("v%d: decoded %+v", v, got)
		}
		if v >= 13 && got.Topics[0].TopicID != [16]byte{1, 2, 3} || v < 13 && got.Topics[0].Topic != "orders" {
			t.Fatalf("v%d: topic naming wrong: %+v", v, got.Topics[0])
		}
		p0, p1 := got.Topics[0].Partitions[0], got.Topics[0].Partitions[1]
		if !bytes.Equal(p0.RecordBatches, records) || p0.HighWatermark != 10 || p0.LastStableOffset != 9 {
			t.Fatalf("v%d: partition 0 decoded as %+v", v, p0)
		}
		if v >= 5 && p0.LogStartOffset != 1 {
			t.Fatalf("v%d: log start offset %d", v, p0.LogStartOffset)
		}
		if p0.AbortedTransactions != nil || p1.AbortedTransactions == nil || p1.ErrorCode != 1 {
			t.Fatalf("v%d: aborted transactions or error wrong: %+v %+v", v, p0, p1)
		}
		if len(got.Topics[1].Partitions[0].RecordBatches) != 0 {
			t.Fatalf("v%d: empty partition carried records", v)
		}
	}
}

// TestFetchResponseLeaderHints checks the KIP-951 fields against kmsg: a partition's
// CurrentLeader (tagged, v12+) and the top-level NodeEndpoints (tagged, v16+).
func TestFetchResponseLeaderHints(t *testing.T) {
	rack := "r1"
	for v := int16(12); v <= 17; v++ {
		resp := &fetchResponse{version: v, topics: []fetchTopic{{name: "orders", id: [16]byte{1}, partitions: []fetchPartition{
			{partition: 0, errorCode: 6, highWatermark: -1, lastStableOffset: -1, logStartOffset: -1},
			{partition: 1, highWatermark: 3, lastStableOffset: 3, diverging: true, divergingEpoch: 4, divergingEndOffset: 17},
		}}}}
		resp.topics[0].partitions[0].diverging, resp.topics[0].partitions[0].divergingEpoch = true, 1 // with a leader hint: both tags
		resp.nameLeader(&resp.topics[0].partitions[0], leaderHint{id: 2, epoch: 5,
			endpoint: &leaderAddress{nodeID: 2, host: "broker-2.example", port: 9093, rack: &rack}})
		r := kbin.Reader{Src: assemble(t, resp.encode(1))}
		r.Int32()
		skipTags(&r)
		got := kmsg.NewPtrFetchResponse()
		got.Version = v
		if err := got.ReadFrom(r.Src); err != nil {
			t.Fatalf("v%d: kmsg cannot decode our response: %v", v, err)
		}
		p0, p1 := got.Topics[0].Partitions[0], got.Topics[0].Partitions[1]
		if p0.CurrentLeader.LeaderID != 2 || p0.CurrentLeader.LeaderEpoch != 5 || p1.CurrentLeader.LeaderID != -1 || p1.HighWatermark != 3 {
			t.Fatalf("v%d: current leaders %+v %+v", v, p0.CurrentLeader, p1.CurrentLeader)
		}
		if p0.DivergingEpoch.Epoch != 1 || p1.DivergingEpoch.Epoch != 4 || p1.DivergingEpoch.EndOffset != 17 {
			t.Fatalf("v%d: diverging epochs %+v %+v", v, p0.DivergingEpoch, p1.DivergingEpoch)
		}
		want := 0
		if v >= 16 {
			want = 1
		}
		if len(got.Brokers) != want {
			t.Fatalf("v%d: %d node endpoints, want %d", v, len(got.Brokers), want)
		}
		if want == 1 {
			if b := got.Brokers[0]; b.NodeID != 2 || b.Host != "broker-2.example" || b.Port != 9093 || b.Rack == nil || *b.Rack != "r1" {
				t.Fatalf("v%d: node endpoint %+v", v, b)
			}
		}
	}
}

// assemble concatenates parts as the writer would send them.
func assemble(t *testing.T, parts []Part) []byte {
	var out []byte
	for _, p := range parts {
		if p.File == nil {
			out = append(out, p.Bytes...)
			continue
		}
		buf := make([]byte, p.Length)
		if _, err := p.File.ReadAt(buf, p.Offset); err != nil {
			t.Fatal(err)
		}
		out = append(out, buf...)
	}
	return out
}

// testRecordBatch is one valid, uncompressed v2 batch with a single empty record.
func testRecordBatch() []byte {
	rec := []byte{0, 0, 0, 1, 0, 0} // attrs, ts delta, offset delta, null key (-1), value len 0, headers 0
	body := append(binary.AppendVarint(nil, int64(len(rec))), rec...)
	b := make([]byte, 61, 61+len(body))
	binary.BigEndian.PutUint32(b[8:], uint32(49+len(body)))
	b[16] = 2
	binary.BigEndian.PutUint32(b[57:], 1)
	b = append(b, body...)
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}
