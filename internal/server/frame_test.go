package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/nagare-dev/nagare/internal/api"
)

func TestCheckFrameSize(t *testing.T) {
	for _, tc := range []struct {
		size int32
		ok   bool
	}{{-1 << 31, false}, {-1, false}, {0, false}, {7, false}, {8, true}, {1000, true}, {1024, true}, {1025, false}} {
		if err := checkFrameSize(tc.size, 1024); (err == nil) != tc.ok {
			t.Errorf("checkFrameSize(%d, 1024) = %v", tc.size, err)
		}
	}
}

func TestFramePool(t *testing.T) {
	var p framePool
	for _, size := range []int{8, 511, 512, 513, 4096, 1 << 20, 3 << 20, 1 << maxPooledShift, 1<<maxPooledShift + 1} {
		b := p.get(size)
		if len(*b) != size {
			t.Fatalf("get(%d): len %d", size, len(*b))
		}
		if size <= 1<<maxPooledShift && cap(*b)&(cap(*b)-1) != 0 {
			t.Fatalf("get(%d): cap %d is not a size class", size, cap(*b))
		}
		p.put(b)
	}
	for _, size := range []int{0, -1, 1<<maxPooledShift + 1} {
		if _, ok := sizeClass(size); ok {
			t.Errorf("sizeClass(%d) is pooled", size)
		}
	}
}

// fuzzHandler is testHandler's protocol without anything slow or external: echo (with a
// delay of up to 3 ms from the byte after the op), none, close, panic.
type fuzzHandler struct{}

func (fuzzHandler) Handle(ctx context.Context, _ *api.Session, frame []byte) *api.Reply {
	reply := api.NewReply()
	switch fuzzOp(frame) {
	case opNone:
		reply.NoResponse()
	case opClose:
		reply.CloseConnection()
	case opPanic:
		panic("fuzz handler panic")
	default:
		if len(frame) < 10 || frame[9]%4 == 0 {
			reply.SendBytes(frame[4:])
			break
		}
		go func() {
			select {
			case <-time.After(time.Duration(frame[9]%4) * time.Millisecond):
			case <-ctx.Done():
			}
			reply.SendBytes(frame[4:])
		}()
	}
	return reply
}

func fuzzOp(frame []byte) byte {
	if len(frame) > 8 {
		return frame[8]
	}
	return opEcho
}

const fuzzMaxRequestBytes = 4096

// fuzzModel predicts what the server sends for input: the responses in order and whether
// it closes the connection. When it closes, replies still pending may be dropped, so only
// a prefix of the responses is certain.
func fuzzModel(input []byte) (want []byte, closes bool) {
	for len(input) >= sizePrefixBytes {
		size := int32(binary.BigEndian.Uint32(input))
		if checkFrameSize(size, fuzzMaxRequestBytes) != nil {
			return want, true
		}
		if len(input)-sizePrefixBytes < int(size) {
			return want, false // truncated: the server waits for the rest
		}
		frame := input[sizePrefixBytes : sizePrefixBytes+int(size)]
		input = input[sizePrefixBytes+int(size):]
		switch fuzzOp(frame) {
		case opNone:
		case opClose, opPanic:
			return want, true
		default:
			want = binary.BigEndian.AppendUint32(want, uint32(size-4))
			want = append(want, frame[4:]...)
		}
	}
	return want, false
}

// FuzzFrames writes arbitrary bytes to a connection and checks that the server answers as
// fuzzFrameModel predicts, in order, and neither crashes nor hangs.
func FuzzFrames(f *testing.F) {
	frame := func(corr int32, op byte, args ...byte) []byte { return request(corr, op, args...) }
	f.Add([]byte{})
	f.Add([]byte{0, 0})
	f.Add(frame(1, opEcho))
	f.Add(bytes.Join([][]byte{frame(1, opEcho, 3), frame(2, opEcho, 1), frame(3, opEcho, 0)}, nil))
	f.Add(bytes.Join([][]byte{frame(1, opNone), frame(2, opEcho, 2), frame(3, opNone)}, nil))
	f.Add(bytes.Join([][]byte{frame(1, opEcho, 3), frame(2, opClose), frame(3, opEcho)}, nil))
	f.Add(bytes.Join([][]byte{frame(1, opEcho), frame(2, opPanic)}, nil))
	f.Add(append(frame(1, opEcho), 0xff, 0xff, 0xff, 0xff)) // negative size
	f.Add(append(frame(1, opEcho), 0, 0, 0x10, 1))          // one past the maximum
	f.Add([]byte{0, 0, 0, 0})                               // empty frame
	f.Add([]byte{0, 0, 0, 100, 1, 2, 3})                    // truncated

	s := New(Config{
		Listeners:       []ListenerConfig{{Addr: "127.0.0.1:0"}},
		MaxRequestBytes: fuzzMaxRequestBytes,
		MaxInFlight:     4,
	}, fuzzHandler{}, nil)
	if err := s.Start(); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Shutdown(context.Background()) })
	addr := s.Addr().String()

	f.Fuzz(func(t *testing.T, input []byte) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		go c.Write(input) // concurrently, so full socket buffers cannot deadlock the test
		want, closes := fuzzModel(input)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if !closes {
			got := make([]byte, len(want))
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatalf("read %d response bytes: %v", len(want), err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("responses = %x, want %x", got, want)
			}
			return
		}
		got, err := io.ReadAll(c)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatal("server did not close the connection")
		}
		if !bytes.HasPrefix(want, got) {
			t.Fatalf("responses = %x, want a prefix of %x", got, want)
		}
	})
}
