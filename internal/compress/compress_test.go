package compress

import (
	"bytes"
	stdgzip "compress/gzip"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

var codecs = []Codec{None, Gzip, Snappy, LZ4, Zstd}

// samples are inputs of the shapes record batches have: empty, tiny, repetitive, random,
// and larger than one snappy or lz4 block.
func samples() map[string][]byte {
	rng := rand.New(rand.NewPCG(7, 9))
	random := make([]byte, 100<<10)
	for i := range random {
		random[i] = byte(rng.UintN(256))
	}
	text := bytes.Repeat([]byte("key-42=value of a record that repeats; "), 5000)
	return map[string][]byte{
		"empty":  {},
		"byte":   {7},
		"short":  []byte("hello, kafka"),
		"text":   text,
		"random": random,
		"mixed":  append(append([]byte{}, text[:70000]...), random[:70000]...),
	}
}

func TestRoundTrip(t *testing.T) {
	for _, c := range codecs {
		for name, in := range samples() {
			t.Run(c.String()+"/"+name, func(t *testing.T) {
				prefix := []byte("prefix")
				comp, err := AppendCompressed(append([]byte{}, prefix...), c, in)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.HasPrefix(comp, prefix) {
					t.Fatal("compress clobbered dst")
				}
				out, err := AppendDecompressed([]byte("x"), c, comp[len(prefix):], len(in)+1)
				if err != nil {
					t.Fatal(err)
				}
				if out[0] != 'x' || !bytes.Equal(out[1:], in) {
					t.Fatalf("round trip differs: %d bytes in, %d out", len(in), len(out)-1)
				}
				if len(in) > 1 {
					if _, err := AppendDecompressed(nil, c, comp[len(prefix):], len(in)-1); !errors.Is(err, ErrTooLarge) {
						t.Fatalf("limit below the size: %v, want ErrTooLarge", err)
					}
				}
			})
		}
	}
}

func TestSnappyWritesXerialFraming(t *testing.T) {
	in := bytes.Repeat([]byte("abcdefgh"), 10000) // 80,000 bytes: three 32 KiB chunks
	out, _ := AppendCompressed(nil, Snappy, in)
	if !bytes.HasPrefix(out, xerialMagic) || binary.BigEndian.Uint32(out[8:]) != 1 || binary.BigEndian.Uint32(out[12:]) != 1 {
		t.Fatalf("header % x", out[:16])
	}
	chunks := 0
	for body := out[16:]; len(body) > 0; chunks++ {
		n := binary.BigEndian.Uint32(body)
		if _, err := s2.Decode(nil, body[4:4+n]); err != nil {
			t.Fatalf("chunk %d: %v", chunks, err)
		}
		body = body[4+n:]
	}
	if chunks != 3 {
		t.Fatalf("%d chunks, want 3", chunks)
	}
}

// TestSnappyXerialHandBuilt decodes a frame built by hand the way snappy-java writes it,
// including a chunk holding literal bytes only (as the Java encoder emits for tiny input).
func TestSnappyXerialHandBuilt(t *testing.T) {
	frame := []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1}
	// A raw snappy block by hand: varint length 5, literal tag (len-1)<<2, "hello".
	frame = append(frame, 0, 0, 0, 7, 5, 4<<2, 'h', 'e', 'l', 'l', 'o')
	// A second chunk from the encoder.
	second := s2.EncodeSnappy(nil, []byte(", world"))
	frame = binary.BigEndian.AppendUint32(frame, uint32(len(second)))
	frame = append(frame, second...)
	out, err := AppendDecompressed(nil, Snappy, frame, 0)
	if err != nil || string(out) != "hello, world" {
		t.Fatalf("got %q, %v", out, err)
	}
	// A raw block (librdkafka, franz-go) decodes too.
	out, err = AppendDecompressed(nil, Snappy, []byte{5, 4 << 2, 'h', 'e', 'l', 'l', 'o'}, 0)
	if err != nil || string(out) != "hello" {
		t.Fatalf("raw block: %q, %v", out, err)
	}
	// A chunk length running past the end is corrupt.
	bad := append(append([]byte{}, frame[:16]...), 0, 0, 1, 0, 1, 2)
	if _, err := AppendDecompressed(nil, Snappy, bad, 0); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("torn chunk: %v", err)
	}
	// The limit counts across chunks.
	if _, err := AppendDecompressed(nil, Snappy, frame, 8); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("limit across chunks: %v", err)
	}
}

// TestDecodesOtherWriters: data written by other encoders with their own defaults
// (bigger lz4 blocks with checksums, zstd with checksums, the standard library's gzip,
// concatenated gzip members) decodes.
func TestDecodesOtherWriters(t *testing.T) {
	in := bytes.Repeat([]byte("the quick brown fox "), 20000)
	var gz bytes.Buffer
	for i := 0; i < 2; i++ { // two members
		w := stdgzip.NewWriter(&gz)
		w.Write(in[:len(in)/2])
		w.Close()
	}
	var l4 bytes.Buffer
	w := lz4.NewWriter(&l4) // 4 MiB blocks, content checksum
	w.Write(in)
	w.Close()
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderCRC(true), zstd.WithEncoderLevel(zstd.SpeedBestCompression))
	zs := enc.EncodeAll(in, nil)
	enc.Close()
	for _, tc := range []struct {
		codec Codec
		data  []byte
	}{{Gzip, gz.Bytes()}, {LZ4, l4.Bytes()}, {Zstd, zs}} {
		out, err := AppendDecompressed(nil, tc.codec, tc.data, 0)
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("%s: %d bytes, %v", tc.codec, len(out), err)
		}
	}
}

func TestCorruptAndUnknown(t *testing.T) {
	junk := []byte("this is not compressed data at all, not even close")
	for _, c := range []Codec{Gzip, Snappy, LZ4, Zstd} {
		if _, err := AppendDecompressed(nil, c, junk, 0); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s of junk: %v, want ErrCorrupt", c, err)
		}
		good, _ := AppendCompressed(nil, c, bytes.Repeat([]byte("abc"), 1000))
		if _, err := AppendDecompressed(nil, c, good[:len(good)/2], 0); err == nil {
			t.Errorf("%s of a truncated stream: no error", c)
		}
	}
	if _, err := AppendDecompressed(nil, 5, junk, 0); !errors.Is(err, ErrUnknownCodec) {
		t.Errorf("codec 5: %v", err)
	}
	if _, err := AppendCompressed(nil, 7, junk); !errors.Is(err, ErrUnknownCodec) {
		t.Errorf("codec 7: %v", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	in := bytes.Repeat([]byte("concurrent "), 3000)
	done := make(chan error)
	for g := 0; g < 4; g++ {
		go func() {
			var err error
			for i := 0; i < 20 && err == nil; i++ {
				c := codecs[(g+i)%len(codecs)]
				var comp, out []byte
				if comp, err = AppendCompressed(nil, c, in); err == nil {
					out, err = AppendDecompressed(nil, c, comp, 0)
					if err == nil && !bytes.Equal(out, in) {
						err = errors.New(c.String() + ": mismatch")
					}
				}
			}
			done <- err
		}()
	}
	for g := 0; g < 4; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func FuzzDecompress(f *testing.F) {
	for _, c := range codecs {
		comp, _ := AppendCompressed(nil, c, []byte("seed data for the fuzzer, seed data"))
		f.Add(uint8(c), comp)
	}
	f.Fuzz(func(t *testing.T, codec uint8, data []byte) {
		out, err := AppendDecompressed(nil, Codec(codec%5), data, 1<<20)
		if err == nil && len(out) > 1<<20 {
			t.Fatalf("%d bytes past the limit", len(out))
		}
	})
}
