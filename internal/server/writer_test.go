package server

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// segmentFile writes size bytes of a position-dependent pattern and opens the file, as a
// log segment would be open: one *os.File shared by every connection.
func segmentFile(t *testing.T, size int) (*os.File, []byte) {
	t.Helper()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*31 + i>>9)
	}
	path := filepath.Join(t.TempDir(), "00000000000000000000.log")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, data
}

func fileRequest(corr int32, offset, length int64) []byte {
	args := binary.BigEndian.AppendUint64(nil, uint64(offset))
	return request(corr, opFile, binary.BigEndian.AppendUint64(args, uint64(length))...)
}

// fileResponse is what the test handler's reply to fileRequest puts on the wire.
func fileResponse(corr int32, data []byte, offset, length int64) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(corr))
	b = append(b, data[offset:offset+length]...)
	return append(b, "end"...)
}

// Connections send different ranges of one *os.File at once, pipelined and interleaved
// with in-memory replies; each must get exactly its bytes, and the file's offset must not
// move.
func TestFilePartsConcurrentRanges(t *testing.T) {
	checkNoLeak(t)
	const conns, requests, fileSize = 6, 12, 4 << 20
	f, data := segmentFile(t, fileSize)
	h := newTestHandler()
	h.file = f
	s, _ := startServer(t, h, Config{})
	var wg sync.WaitGroup
	for ci := range conns {
		c := dial(t, s)
		var reqs, wants [][]byte
		for ri := range requests {
			corr := int32(ci*100 + ri)
			if ri%3 == 2 {
				req := echo(corr, time.Duration(ri%4)*time.Millisecond, byte(ri))
				reqs, wants = append(reqs, req), append(wants, echoed(req))
				continue
			}
			length := int64((ci*7919 + ri*104729) % (fileSize / conns))
			offset := int64(ci*(fileSize/conns)) + int64(ri*13)%(fileSize/conns-length+1)
			reqs = append(reqs, fileRequest(corr, offset, length))
			wants = append(wants, fileResponse(corr, data, offset, length))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			go c.Write(bytes.Join(reqs, nil))
			for i, want := range wants {
				got, err := readResponse(c)
				if err != nil {
					t.Errorf("conn %d response %d: %v", ci, i, err)
					return
				}
				if !bytes.Equal(got, want) {
					t.Errorf("conn %d response %d: %d bytes differ from the %d expected", ci, i, len(got), len(want))
					return
				}
			}
		}()
	}
	wg.Wait()
	if pos, _ := f.Seek(0, io.SeekCurrent); pos != 0 {
		t.Fatalf("file offset moved to %d", pos)
	}
	var calls uint64
	for _, n := range s.SendFileLatency().Snapshot() {
		calls += n
	}
	if calls == 0 {
		t.Fatal("no sendfile durations recorded")
	}
}

// A client that reads late makes the socket buffer fill mid-sendfile; the rest must still
// arrive intact.
func TestFilePartToSlowReader(t *testing.T) {
	checkNoLeak(t)
	f, data := segmentFile(t, 8<<20)
	h := newTestHandler()
	h.file = f
	s, _ := startServer(t, h, Config{})
	c := dial(t, s)
	send(t, c, fileRequest(1, 5, 8<<20-5), echo(2, 0))
	time.Sleep(200 * time.Millisecond)
	expectResponse(t, c, fileResponse(1, data, 5, 8<<20-5))
	expectResponse(t, c, echoed(echo(2, 0)))
}

// A file shorter than the reply claims cannot be framed correctly any more: the
// connection closes (rather than hanging or spinning), and others are unaffected.
func TestFilePartPastEndClosesConnection(t *testing.T) {
	checkNoLeak(t)
	f, _ := segmentFile(t, 1000)
	h := newTestHandler()
	h.file = f
	s, logs := startServer(t, h, Config{})
	good, bad := dial(t, s), dial(t, s)
	send(t, bad, fileRequest(1, 900, 500))
	expectClosed(t, bad)
	roundTrip(t, good, 1)
	waitFor(t, "the write failure to be logged", func() bool {
		return bytes.Contains([]byte(logs.String()), []byte("unexpected EOF"))
	})
}
