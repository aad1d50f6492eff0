package api

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Header is a decoded request header (v1, or v2 with tagged fields for flexible
// requests; v0 without a client id is no longer sent by any client Kafka serves).
type Header struct {
	Key           int16
	Version       int16
	CorrelationID int32
	ClientID      string // empty when null
}

var errShortHeader = errors.New("api: request header truncated")

// parseHeader decodes the header at the start of frame and returns it with the body
// that follows. Whether tagged fields follow the client id depends on the request's
// version being flexible, which kmsg knows for every key it knows.
func parseHeader(frame []byte) (Header, []byte, error) {
	r := kbin.Reader{Src: frame}
	h := Header{Key: r.Int16(), Version: r.Int16(), CorrelationID: r.Int32()}
	if id := r.NullableString(); id != nil {
		h.ClientID = *id
	}
	if err := r.Complete(); err != nil {
		return h, nil, fmt.Errorf("%w: %v", errShortHeader, err)
	}
	if isFlexible(h.Key, h.Version) {
		skipTags(&r)
	}
	if r.Complete() != nil {
		return h, nil, errShortHeader
	}
	return h, r.Src, nil
}

// skipTags skips a tagged-field section; the header defines no tags we use.
func skipTags(r *kbin.Reader) {
	for n := r.Uvarint(); n > 0 && r.Ok(); n-- {
		r.Uvarint()
		r.Span(int(r.Uvarint()))
	}
}

// firstFlexible holds, per API key, the first version kmsg encodes flexibly (header v2),
// or -1. It is computed once: asking kmsg per request meant building and discarding a
// whole request struct for every frame (a quarter of all allocations on small requests).
var firstFlexible = func() (first [maxAPIKey + 1]int16) {
	for key := range first {
		first[key] = -1
		req := kmsg.RequestForKey(int16(key))
		if req == nil {
			continue
		}
		for v := int16(0); v <= req.MaxVersion(); v++ {
			req.SetVersion(v)
			if req.IsFlexible() {
				first[key] = v
				break
			}
		}
	}
	return first
}()

// isFlexible reports whether a request of this key and version has a v2 header.
func isFlexible(key, version int16) bool {
	if key >= 0 && int(key) < len(firstFlexible) {
		return firstFlexible[key] >= 0 && version >= firstFlexible[key]
	}
	req := kmsg.RequestForKey(key) // a key newer than the table: ask kmsg
	if req == nil {
		return false
	}
	req.SetVersion(version)
	return req.IsFlexible()
}
