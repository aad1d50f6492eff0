package compress

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Codec is a Kafka compression codec id, as stored in bits 0-2 of a batch's attributes.
type Codec int8

// Kafka's codec ids.
const (
	None   Codec = 0
	Gzip   Codec = 1
	Snappy Codec = 2
	LZ4    Codec = 3
	Zstd   Codec = 4
)

// Errors returned by this package.
var (
	// ErrUnknownCodec: the codec id is not one Kafka defines.
	ErrUnknownCodec = errors.New("compress: unknown codec")
	// ErrCorrupt: the input is not valid data for its codec.
	ErrCorrupt = errors.New("compress: corrupt input")
	// ErrTooLarge: the decompressed data would exceed the caller's limit.
	ErrTooLarge = errors.New("compress: decompressed size exceeds limit")
)

// String is the codec's name in Kafka's compression.type.
func (c Codec) String() string {
	switch c {
	case None:
		return "none"
	case Gzip:
		return "gzip"
	case Snappy:
		return "snappy"
	case LZ4:
		return "lz4"
	case Zstd:
		return "zstd"
	}
	return "codec(" + strconv.Itoa(int(c)) + ")"
}

// zstdMaxWindow is the largest zstd window accepted, Kafka's (zstd-jni's) default limit
// (window log 27), so memory per decoder stays bounded whatever a producer declares.
const zstdMaxWindow = 128 << 20

var (
	gzipReaders sync.Pool // *gzip.Reader
	gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}
	lz4Readers  = sync.Pool{New: func() any { return lz4.NewReader(nil) }}
	lz4Writers  = sync.Pool{New: func() any {
		w := lz4.NewWriter(nil)
		// Kafka's KafkaLZ4BlockOutputStream: 64 KiB blocks, no checksums.
		_ = w.Apply(lz4.BlockSizeOption(lz4.Block64Kb), lz4.ChecksumOption(false), lz4.BlockChecksumOption(false))
		return w
	}}
	zstdReaders = sync.Pool{New: func() any {
		// Concurrency 1 decodes synchronously, so a pooled decoder owns no goroutines
		// and may be dropped by the pool without Close.
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(zstdMaxWindow))
		if err != nil {
			panic(err) // the options are constant
		}
		return d
	}}
	zstdEncoder = sync.OnceValue(func() *zstd.Encoder {
		e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithLowerEncoderMem(true))
		if err != nil {
			panic(err) // the options are constant
		}
		return e
	})
)

// AppendDecompressed appends the decompressed form of src, compressed with codec, to dst
// and returns the extended slice. limit bounds the decompressed bytes (<= 0: no bound);
// exceeding it fails with ErrTooLarge. Invalid input fails with an error wrapping
// ErrCorrupt.
func AppendDecompressed(dst []byte, codec Codec, src []byte, limit int) ([]byte, error) {
	switch codec {
	case None:
		if limit > 0 && len(src) > limit {
			return dst, ErrTooLarge
		}
		return append(dst, src...), nil
	case Gzip:
		var zr *gzip.Reader
		if v := gzipReaders.Get(); v != nil {
			zr = v.(*gzip.Reader)
			if err := zr.Reset(bytes.NewReader(src)); err != nil {
				gzipReaders.Put(zr)
				return dst, corrupt(codec, err)
			}
		} else {
			var err error
			if zr, err = gzip.NewReader(bytes.NewReader(src)); err != nil {
				return dst, corrupt(codec, err)
			}
		}
		defer gzipReaders.Put(zr)
		return readAll(dst, zr, codec, limit)
	case Snappy:
		return appendSnappyDecoded(dst, src, limit)
	case LZ4:
		zr := lz4Readers.Get().(*lz4.Reader)
		defer lz4Readers.Put(zr)
		zr.Reset(bytes.NewReader(src))
		return readAll(dst, zr, codec, limit)
	case Zstd:
		zr := zstdReaders.Get().(*zstd.Decoder)
		defer zstdReaders.Put(zr)
		if err := zr.Reset(bytes.NewReader(src)); err != nil {
			return dst, corrupt(codec, err)
		}
		out, err := readAll(dst, zr, codec, limit)
		_ = zr.Reset(nil) // drop the reference to src before pooling
		return out, err
	}
	return dst, fmt.Errorf("%w: %d", ErrUnknownCodec, codec)
}

// AppendCompressed appends src compressed with codec to dst, in the framing Kafka's Java
// producer writes, and returns the extended slice.
func AppendCompressed(dst []byte, codec Codec, src []byte) ([]byte, error) {
	switch codec {
	case None:
		return append(dst, src...), nil
	case Gzip:
		buf := bytes.NewBuffer(dst)
		zw := gzipWriters.Get().(*gzip.Writer)
		defer gzipWriters.Put(zw)
		zw.Reset(buf)
		if _, err := zw.Write(src); err != nil {
			return dst, err
		}
		if err := zw.Close(); err != nil {
			return dst, err
		}
		return buf.Bytes(), nil
	case Snappy:
		return appendXerialSnappy(dst, src), nil
	case LZ4:
		buf := bytes.NewBuffer(dst)
		zw := lz4Writers.Get().(*lz4.Writer)
		defer lz4Writers.Put(zw)
		zw.Reset(buf)
		if _, err := zw.Write(src); err != nil {
			return dst, err
		}
		if err := zw.Close(); err != nil {
			return dst, err
		}
		return buf.Bytes(), nil
	case Zstd:
		return zstdEncoder().EncodeAll(src, dst), nil
	}
	return dst, fmt.Errorf("%w: %d", ErrUnknownCodec, codec)
}

// readAll reads r to its end onto dst, failing once more than limit bytes came out.
func readAll(dst []byte, r io.Reader, codec Codec, limit int) ([]byte, error) {
	start := len(dst)
	for idle := 0; ; {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		room := dst[len(dst):cap(dst)]
		if limit > 0 {
			// Read at most one byte past the limit: enough to know it was passed.
			if left := limit + 1 - (len(dst) - start); len(room) > left {
				room = room[:left]
			}
		}
		n, err := r.Read(room)
		dst = dst[:len(dst)+n]
		if idle = idle + 1; n > 0 {
			idle = 0
		} else if idle > 100 && err == nil {
			err = io.ErrNoProgress // a decoder stuck on crafted input
		}
		if limit > 0 && len(dst)-start > limit {
			return dst[:start], ErrTooLarge
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst[:start], corrupt(codec, err)
		}
	}
}

func corrupt(codec Codec, err error) error {
	return fmt.Errorf("%w: %s: %v", ErrCorrupt, codec, err)
}
