package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sync"
)

const (
	// sizePrefixBytes is the length of the big-endian int32 that precedes every frame.
	sizePrefixBytes = 4
	// minFrameBytes is the smallest frame that can hold a request header: api key (2),
	// api version (2) and correlation id (4).
	minFrameBytes = 8
)

// frameSizeError reports a size prefix out of range. It closes the connection: after a
// bad size the stream cannot be resynchronised.
type frameSizeError struct {
	size int32 // as read from the wire
	max  int32 // MaxRequestBytes
}

func (e *frameSizeError) Error() string {
	return fmt.Sprintf("server: frame size %d outside [%d, %d]", e.size, minFrameBytes, e.max)
}

// checkFrameSize accepts sizes from minFrameBytes to max inclusive.
func checkFrameSize(size, max int32) error {
	if size < minFrameBytes || size > max {
		return &frameSizeError{size: size, max: max}
	}
	return nil
}

// checkFrameSize applies the limits of the connection's state: before SASL
// authentication completes, frames are held to MaxAuthBytes (so an unauthenticated client
// cannot make the broker buffer a large frame), and a bare SASL token (after a v0
// SaslHandshake) has no request header, so it may be shorter than one.
func (c *conn) checkFrameSize(size int32) error {
	if !c.session.Authenticating() {
		return checkFrameSize(size, c.server.cfg.MaxRequestBytes)
	}
	limit := min(c.server.cfg.MaxAuthBytes, c.server.cfg.MaxRequestBytes)
	if c.session.AwaitingRawSASLToken() && size >= 0 && size <= limit {
		return nil
	}
	return checkFrameSize(size, limit)
}

// readFrame reads one size-prefixed frame into a pooled buffer whose length is the frame
// size. The caller owns the buffer and returns it to the pool when done. A clean end of
// stream before a frame starts is io.EOF; one inside a frame is io.ErrUnexpectedEOF.
func (c *conn) readFrame() (*[]byte, error) {
	if err := c.readFull(c.sizePrefix[:]); err != nil {
		return nil, err
	}
	size := int32(binary.BigEndian.Uint32(c.sizePrefix[:]))
	if err := c.checkFrameSize(size); err != nil {
		return nil, err
	}
	frame := c.server.frames.get(int(size))
	if err := c.readFull(*frame); err != nil {
		c.server.frames.put(frame)
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("server: read frame of %d bytes: %w", size, err)
	}
	c.touch()
	c.metrics.received.Add(float64(sizePrefixBytes + int(size)))
	return frame, nil
}

// readFull fills buf from the connection. A read deadline that expires is not an error
// unless the connection is idle or draining (see onReadTimeout); the read then resumes
// where it stopped. io.EOF after part of buf was read becomes io.ErrUnexpectedEOF.
func (c *conn) readFull(buf []byte) error {
	for n := 0; n < len(buf); {
		m, err := c.in.Read(buf[n:])
		n += m
		switch {
		case err == nil:
		case isTimeout(err):
			if err := c.onReadTimeout(); err != nil {
				return err
			}
		case errors.Is(err, io.EOF) && n > 0:
			return io.ErrUnexpectedEOF
		default:
			return err
		}
	}
	return nil
}

// Frame buffers are pooled by power-of-two size class from 512 bytes to 16 MiB. A
// producer writing to several partitions sends one ~1 MiB batch per partition in one
// request, so multi-MiB frames are the steady state of a busy producer: with a 1 MiB cap
// every such frame was a fresh allocation, and zeroing and collecting them cost about a
// third of the broker's CPU under produce load (measured; docs/BENCHMARKS.md). Larger
// frames are left to the garbage collector so a rare huge request does not pin its
// buffer; sync.Pool drops idle buffers at GC anyway.
const (
	minPooledShift = 9
	maxPooledShift = 24
)

// framePool recycles frame buffers. Pointers to slices avoid an allocation per Put.
type framePool struct {
	classes [maxPooledShift - minPooledShift + 1]sync.Pool
}

// get returns a buffer of length size.
func (p *framePool) get(size int) *[]byte {
	class, ok := sizeClass(size)
	if !ok {
		b := make([]byte, size)
		return &b
	}
	if v := p.classes[class].Get(); v != nil {
		b := v.(*[]byte)
		*b = (*b)[:size]
		return b
	}
	b := make([]byte, size, 1<<(class+minPooledShift))
	return &b
}

// put recycles a buffer from get; buffers outside the size classes are dropped.
func (p *framePool) put(b *[]byte) {
	class, ok := sizeClass(cap(*b))
	if !ok || cap(*b) != 1<<(class+minPooledShift) {
		return
	}
	p.classes[class].Put(b)
}

// sizeClass maps a size to the smallest class that holds it.
func sizeClass(size int) (int, bool) {
	if size < 1 || size > 1<<maxPooledShift {
		return 0, false
	}
	shift := bits.Len(uint(size - 1)) // ceil(log2(size))
	return max(shift, minPooledShift) - minPooledShift, true
}
