package readpath

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (sender, receiver *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	dialed, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	other := <-accepted
	if other == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { dialed.Close(); other.Close() })
	return other.(*net.TCPConn), dialed.(*net.TCPConn)
}

// patternFile writes size bytes of a position-dependent pattern to a temp file.
func patternFile(t *testing.T, size int) (*os.File, []byte) {
	t.Helper()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*7 + i/251)
	}
	path := filepath.Join(t.TempDir(), "segment.log")
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

func readN(t *testing.T, c net.Conn, n int64) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, n)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	return buf
}

func assertOffsetUnmoved(t *testing.T, f *os.File) {
	t.Helper()
	if pos, err := f.Seek(0, io.SeekCurrent); err != nil || pos != 0 {
		t.Fatalf("file offset moved to %d (err %v)", pos, err)
	}
}

func TestSendFileRange(t *testing.T) {
	f, data := patternFile(t, 100_000)
	sender, receiver := tcpPair(t)
	var h Histogram
	n, err := SendFileObserved(sender, f, 1234, 50_000, &h)
	if err != nil || n != 50_000 {
		t.Fatalf("SendFile = %d, %v", n, err)
	}
	if got := readN(t, receiver, 50_000); !bytes.Equal(got, data[1234:51234]) {
		t.Fatal("received bytes differ from the file range")
	}
	assertOffsetUnmoved(t, f)
	var total uint64
	for _, c := range h.Snapshot() {
		total += c
	}
	if total == 0 {
		t.Fatal("no sendfile duration recorded")
	}
}

func TestSendFileEmptyRange(t *testing.T) {
	f, _ := patternFile(t, 10)
	sender, _ := tcpPair(t)
	if n, err := SendFile(sender, f, 5, 0); n != 0 || err != nil {
		t.Fatalf("SendFile = %d, %v", n, err)
	}
	if _, err := SendFile(sender, f, -1, 3); !errors.Is(err, ErrInvalidRange) {
		t.Fatalf("negative offset: err = %v", err)
	}
}

// A receiver that does not read makes the socket buffer fill, so SendFile must wait for
// writability (EAGAIN) and resume with partial writes.
func TestSendFileWaitsForSlowReceiver(t *testing.T) {
	const size = 8 << 20
	f, data := patternFile(t, size)
	sender, receiver := tcpPair(t)
	result := make(chan error, 1)
	go func() {
		n, err := SendFile(sender, f, 0, size)
		if err == nil && n != size {
			err = io.ErrShortWrite
		}
		result <- err
	}()
	time.Sleep(100 * time.Millisecond) // let the socket buffers fill
	if got := readN(t, receiver, size); !bytes.Equal(got, data) {
		t.Fatal("received bytes differ from the file")
	}
	if err := <-result; err != nil {
		t.Fatal(err)
	}
}

func TestSendFileShortFile(t *testing.T) {
	f, data := patternFile(t, 1000)
	sender, receiver := tcpPair(t)
	done := make(chan struct{})
	var n int64
	var err error
	go func() { n, err = SendFile(sender, f, 900, 500); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("SendFile of a short file did not return")
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) || n != 100 {
		t.Fatalf("SendFile = %d, %v; want 100, ErrUnexpectedEOF", n, err)
	}
	if got := readN(t, receiver, 100); !bytes.Equal(got, data[900:]) {
		t.Fatal("received bytes differ from the file tail")
	}
	if _, err := SendFile(sender, f, 5000, 10); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("range past the end: err = %v", err)
	}
}

func TestSendFileClosedSocket(t *testing.T) {
	f, _ := patternFile(t, 1000)
	sender, _ := tcpPair(t)
	sender.Close()
	if _, err := SendFile(sender, f, 0, 10); err == nil {
		t.Fatal("SendFile to a closed socket succeeded")
	}
}

// Many connections send different ranges of one *os.File at once; none may disturb
// another, which a shared file offset would.
func TestSendFileConcurrentRanges(t *testing.T) {
	const conns, rangeSize = 8, 300_000
	f, data := patternFile(t, conns*rangeSize)
	var wg sync.WaitGroup
	for i := range conns {
		sender, receiver := tcpPair(t)
		off := int64(i * rangeSize)
		wg.Add(2)
		go func() {
			defer wg.Done()
			if n, err := SendFile(sender, f, off, rangeSize); err != nil || n != rangeSize {
				t.Errorf("conn %d: SendFile = %d, %v", i, n, err)
			}
		}()
		go func() {
			defer wg.Done()
			receiver.SetReadDeadline(time.Now().Add(10 * time.Second))
			got := make([]byte, rangeSize)
			if _, err := io.ReadFull(receiver, got); err != nil {
				t.Errorf("conn %d: read: %v", i, err)
				return
			}
			if !bytes.Equal(got, data[off:off+rangeSize]) {
				t.Errorf("conn %d: received bytes differ from its range", i)
			}
		}()
	}
	wg.Wait()
	assertOffsetUnmoved(t, f)
}

func TestCopyRange(t *testing.T) {
	f, data := patternFile(t, 200_000)
	var out bytes.Buffer
	var h Histogram
	n, err := CopyRange(&out, f, 10, 150_000, &h)
	if err != nil || n != 150_000 || !bytes.Equal(out.Bytes(), data[10:150_010]) {
		t.Fatalf("CopyRange = %d, %v (bytes equal %v)", n, err, bytes.Equal(out.Bytes(), data[10:150_010]))
	}
	assertOffsetUnmoved(t, f)
	out.Reset()
	n, err = CopyRange(&out, f, 199_990, 20, nil)
	if !errors.Is(err, io.ErrUnexpectedEOF) || n != 10 {
		t.Fatalf("short file: CopyRange = %d, %v", n, err)
	}
}

func TestHistogramBuckets(t *testing.T) {
	cases := []struct {
		d      time.Duration
		bucket int
	}{
		{0, 0},
		{-time.Second, 0},
		{999 * time.Nanosecond, 0},
		{time.Microsecond, 1},
		{3 * time.Microsecond, 2},
		{4 * time.Microsecond, 3},
		{time.Millisecond, 10}, // 1000µs: 2^9 ≤ 1000 < 2^10
		{1<<63 - 1, 54},        // about 2^53.03 µs
	}
	for _, c := range cases {
		var h Histogram
		h.Observe(c.d)
		if got := h.Snapshot()[c.bucket]; got != 1 {
			t.Errorf("Observe(%v): bucket %d = %d, want 1 (snapshot %v)", c.d, c.bucket, got, h.Snapshot())
		}
		if c.d > 0 && c.d >= time.Microsecond && HistogramUpperBound(c.bucket) <= c.d && c.bucket < 54 {
			t.Errorf("upper bound of bucket %d = %v, not above %v", c.bucket, HistogramUpperBound(c.bucket), c.d)
		}
	}
}
