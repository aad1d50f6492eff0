package compress

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/klauspost/compress/s2"
)

// xerialMagic opens a snappy-java (xerial) stream; the header goes on with a version and
// a minimum compatible version, int32 big-endian each.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const (
	xerialHeaderSize = 16
	xerialChunkSize  = 32 << 10 // snappy-java's default block size
	maxSnappyRatio   = 22       // 64 bytes from a 3-byte copy, rounded up
)

// appendSnappyDecoded decodes a xerial-framed stream or, without the magic, one raw
// snappy block (what librdkafka and some other clients send).
func appendSnappyDecoded(dst, src []byte, limit int) ([]byte, error) {
	if !bytes.HasPrefix(src, xerialMagic) || len(src) < xerialHeaderSize {
		return appendSnappyBlock(dst, src, limit, len(dst))
	}
	start := len(dst)
	for body := src[xerialHeaderSize:]; len(body) > 0; {
		if len(body) < 4 {
			return dst[:start], fmt.Errorf("%w: snappy: torn xerial chunk length", ErrCorrupt)
		}
		n := binary.BigEndian.Uint32(body)
		if uint64(n) > uint64(len(body)-4) {
			return dst[:start], fmt.Errorf("%w: snappy: xerial chunk of %d bytes runs past the input", ErrCorrupt, n)
		}
		var err error
		if dst, err = appendSnappyBlock(dst, body[4:4+n], limit, start); err != nil {
			return dst[:start], err
		}
		body = body[4+n:]
	}
	return dst, nil
}

// appendSnappyBlock decodes one raw snappy block onto dst; limit counts from start.
func appendSnappyBlock(dst, block []byte, limit, start int) ([]byte, error) {
	n, err := s2.DecodedLen(block)
	if err != nil {
		return dst, fmt.Errorf("%w: snappy: %v", ErrCorrupt, err)
	}
	if n > len(block)*maxSnappyRatio+64 {
		// A snappy copy element of at most 64 bytes costs at least 3 bytes: the block
		// cannot decode to its claimed length, so do not allocate for it.
		return dst, fmt.Errorf("%w: snappy: block of %d bytes claims %d", ErrCorrupt, len(block), n)
	}
	if limit > 0 && len(dst)-start+n > limit {
		return dst, ErrTooLarge
	}
	dst = slices.Grow(dst, n)
	if _, err := s2.Decode(dst[len(dst):len(dst)+n], block); err != nil {
		return dst, fmt.Errorf("%w: snappy: %v", ErrCorrupt, err)
	}
	return dst[:len(dst)+n], nil
}

// appendXerialSnappy writes src in snappy-java's framing, one raw block per 32 KiB.
func appendXerialSnappy(dst, src []byte) []byte {
	dst = append(dst, xerialMagic...)
	dst = binary.BigEndian.AppendUint32(dst, 1) // version
	dst = binary.BigEndian.AppendUint32(dst, 1) // minimum compatible version
	for len(src) > 0 {
		chunk := src[:min(len(src), xerialChunkSize)]
		src = src[len(chunk):]
		lenAt := len(dst)
		dst = append(dst, 0, 0, 0, 0)
		dst = slices.Grow(dst, s2.MaxEncodedLen(len(chunk)))
		enc := s2.EncodeSnappy(dst[len(dst):cap(dst)], chunk)
		binary.BigEndian.PutUint32(dst[lenAt:], uint32(len(enc)))
		dst = dst[:len(dst)+len(enc)]
	}
	return dst
}
