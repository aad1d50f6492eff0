package api

import (
	"bytes"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// headerFrame builds a request frame (without its size prefix) by hand: header fields,
// then optional raw tag bytes for a flexible header, then body.
func headerFrame(key, version int16, correlationID int32, clientID *string, tags []byte, body []byte) []byte {
	b := kbin.AppendInt16(nil, key)
	b = kbin.AppendInt16(b, version)
	b = kbin.AppendInt32(b, correlationID)
	b = kbin.AppendNullableString(b, clientID)
	b = append(b, tags...)
	return append(b, body...)
}

func TestParseHeader(t *testing.T) {
	id := func(s string) *string { return &s }
	body := []byte{0xde, 0xad, 0xbe, 0xef}
	noTags := []byte{0}
	// One tag (id 5) holding "abc", then one (id 300, a two-byte varint) holding nothing.
	twoTags := []byte{2, 5, 3, 'a', 'b', 'c', 0xac, 0x02, 0}
	cases := []struct {
		name     string
		frame    []byte
		want     Header
		wantBody []byte
		wantErr  bool
	}{
		{
			name:     "v1: Produce v3 is not flexible",
			frame:    headerFrame(0, 3, 7, id("cli"), nil, body),
			want:     Header{Key: 0, Version: 3, CorrelationID: 7, ClientID: "cli"},
			wantBody: body,
		},
		{
			name:     "v1: Metadata v8, the last before flexible",
			frame:    headerFrame(3, 8, -5, id("x"), nil, body),
			want:     Header{Key: 3, Version: 8, CorrelationID: -5, ClientID: "x"},
			wantBody: body,
		},
		{
			name:     "v2: Metadata v9 with no tags",
			frame:    headerFrame(3, 9, 1, id("cli"), noTags, body),
			want:     Header{Key: 3, Version: 9, CorrelationID: 1, ClientID: "cli"},
			wantBody: body,
		},
		{
			name:     "v2: tagged fields are skipped",
			frame:    headerFrame(1, 12, 2, id("cli"), twoTags, body),
			want:     Header{Key: 1, Version: 12, CorrelationID: 2, ClientID: "cli"},
			wantBody: body,
		},
		{
			name:     "v2: ApiVersions v3 request header is flexible (only its response header is not)",
			frame:    headerFrame(18, 3, 9, id("cli"), noTags, body),
			want:     Header{Key: 18, Version: 3, CorrelationID: 9, ClientID: "cli"},
			wantBody: body,
		},
		{
			name:     "null client id",
			frame:    headerFrame(3, 1, 3, nil, nil, body),
			want:     Header{Key: 3, Version: 1, CorrelationID: 3},
			wantBody: body,
		},
		{
			name:     "empty client id",
			frame:    headerFrame(3, 12, 3, id(""), noTags, body),
			want:     Header{Key: 3, Version: 12, CorrelationID: 3},
			wantBody: body,
		},
		{
			name:     "no body",
			frame:    headerFrame(18, 0, 4, id("cli"), nil, nil),
			want:     Header{Key: 18, Version: 0, CorrelationID: 4, ClientID: "cli"},
			wantBody: []byte{},
		},
		{
			// Unknown keys are left to the dispatcher; their header is read as v1.
			name:     "unknown key",
			frame:    headerFrame(999, 0, 5, id("cli"), nil, body),
			want:     Header{Key: 999, Version: 0, CorrelationID: 5, ClientID: "cli"},
			wantBody: body,
		},
		{name: "empty frame", frame: nil, wantErr: true},
		{name: "truncated key", frame: []byte{0}, wantErr: true},
		{name: "truncated correlation id", frame: []byte{0, 3, 0, 9, 0, 0}, wantErr: true},
		{name: "missing client id", frame: []byte{0, 3, 0, 9, 0, 0, 0, 1}, wantErr: true},
		{name: "client id longer than the frame", frame: append([]byte{0, 3, 0, 9, 0, 0, 0, 1, 0, 10}, "abc"...), wantErr: true},
		{name: "truncated client id length", frame: []byte{0, 3, 0, 9, 0, 0, 0, 1, 0}, wantErr: true},
		{name: "flexible without its tag section", frame: headerFrame(3, 9, 1, id("cli"), nil, nil), wantErr: true},
		{name: "tag count with no tags", frame: headerFrame(3, 9, 1, id("cli"), []byte{1}, nil), wantErr: true},
		{name: "tag longer than the frame", frame: headerFrame(3, 9, 1, id("cli"), []byte{1, 5, 10, 'a'}, nil), wantErr: true},
		{name: "unterminated tag varint", frame: headerFrame(3, 9, 1, id("cli"), []byte{1, 0xff}, nil), wantErr: true},
		{name: "huge tag count", frame: headerFrame(3, 9, 1, id("cli"), []byte{0xff, 0xff, 0xff, 0xff, 0x0f, 1, 0}, nil), wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, rest, err := parseHeader(c.frame)
			if c.wantErr {
				if !errors.Is(err, errShortHeader) {
					t.Fatalf("err %v, want errShortHeader", err)
				}
				if rest != nil {
					t.Errorf("body %x returned with an error", rest)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if h != c.want {
				t.Errorf("header %+v, want %+v", h, c.want)
			}
			if !bytes.Equal(rest, c.wantBody) {
				t.Errorf("body %x, want %x", rest, c.wantBody)
			}
		})
	}
}

// TestParseHeaderOfRealRequests parses what franz-go's request formatter writes, at
// every version Nagare serves: the body left over must be exactly the request's own
// encoding.
func TestParseHeaderOfRealRequests(t *testing.T) {
	for _, seed := range realRequestFrames() {
		h, body, err := parseHeader(seed.frame)
		if err != nil {
			t.Fatalf("%s v%d: %v", kmsg.NameForKey(seed.req.Key()), seed.req.GetVersion(), err)
		}
		want := Header{Key: seed.req.Key(), Version: seed.req.GetVersion(), CorrelationID: seed.correlationID, ClientID: "nagare-test"}
		if h != want {
			t.Errorf("%s v%d: header %+v, want %+v", kmsg.NameForKey(h.Key), h.Version, h, want)
		}
		if enc := seed.req.AppendTo(nil); !bytes.Equal(body, enc) {
			t.Errorf("%s v%d: body %x, want the request's encoding %x", kmsg.NameForKey(h.Key), h.Version, body, enc)
		}
	}
}

// realRequest is a request as a client frames it, for tests and fuzz seeds.
type realRequest struct {
	req           kmsg.Request
	correlationID int32
	frame         []byte // without the size prefix
}

// realRequestFrames encodes every registry API at every version it serves: a default
// request, and for the APIs that carry topics, one with a topic in it.
func realRequestFrames() []realRequest {
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("nagare-test"))
	var out []realRequest
	corr := int32(0)
	add := func(req kmsg.Request) {
		corr++
		out = append(out, realRequest{req: req, correlationID: corr, frame: f.AppendRequest(nil, req, corr)[4:]})
	}
	for _, e := range registry {
		for v := e.min; v <= e.max; v++ {
			req := kmsg.RequestForKey(e.key)
			if req == nil {
				continue
			}
			req.SetVersion(v)
			add(req)
			if full := withTopic(e.key, v); full != nil {
				add(full)
			}
		}
	}
	return out
}

// withTopic returns a request of key at version v that names a topic, for the APIs
// whose bodies are mostly about topics; nil for the others.
func withTopic(key, v int16) kmsg.Request {
	topic := "orders"
	switch key {
	case 0:
		r := kmsg.NewPtrProduceRequest()
		r.Acks = -1
		r.TimeoutMillis = 5000
		p := kmsg.NewProduceRequestTopicPartition()
		p.Partition = 1
		p.Records = []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 2, 1, 2, 3, 4}
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = topic
		rt.Partitions = append(rt.Partitions, p)
		r.Topics = append(r.Topics, rt)
		r.SetVersion(v)
		return r
	case 1:
		r := kmsg.NewPtrFetchRequest()
		r.MaxWaitMillis, r.MinBytes, r.MaxBytes = 500, 1, 1<<20
		p := kmsg.NewFetchRequestTopicPartition()
		p.Partition, p.FetchOffset, p.PartitionMaxBytes = 2, 42, 1<<20
		ft := kmsg.NewFetchRequestTopic()
		ft.Topic = topic
		ft.Partitions = append(ft.Partitions, p)
		r.Topics = append(r.Topics, ft)
		r.SetVersion(v)
		return r
	case 2:
		r := kmsg.NewPtrListOffsetsRequest()
		p := kmsg.NewListOffsetsRequestTopicPartition()
		p.Timestamp = -2
		lt := kmsg.NewListOffsetsRequestTopic()
		lt.Topic = topic
		lt.Partitions = append(lt.Partitions, p)
		r.Topics = append(r.Topics, lt)
		r.SetVersion(v)
		return r
	case 3:
		r := kmsg.NewPtrMetadataRequest()
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = &topic
		r.Topics = append(r.Topics, mt)
		r.AllowAutoTopicCreation = true
		r.SetVersion(v)
		return r
	case 19:
		r := kmsg.NewPtrCreateTopicsRequest()
		ct := kmsg.NewCreateTopicsRequestTopic()
		ct.Topic, ct.NumPartitions, ct.ReplicationFactor = topic, 3, 1
		value := "1000"
		cfg := kmsg.NewCreateTopicsRequestTopicConfig()
		cfg.Name, cfg.Value = "retention.ms", &value
		ct.Configs = append(ct.Configs, cfg)
		r.Topics = append(r.Topics, ct)
		r.SetVersion(v)
		return r
	}
	return nil
}

// FuzzParseHeader: no input panics; what parses is a prefix of the frame followed by
// the body, and encoding the parsed header again in front of the body parses the same.
func FuzzParseHeader(f *testing.F) {
	for _, seed := range realRequestFrames() {
		f.Add(seed.frame)
	}
	f.Add(headerFrame(3, 9, 1, nil, []byte{2, 5, 3, 'a', 'b', 'c', 0xac, 0x02, 0}, []byte{1, 2}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, frame []byte) {
		h, body, err := parseHeader(frame)
		if err != nil {
			if body != nil {
				t.Fatalf("error %v with a body", err)
			}
			return
		}
		if len(body) > len(frame)-10 || !bytes.HasSuffix(frame, body) {
			t.Fatalf("body %x is not the tail of frame %x after a header of at least 10 bytes", body, frame)
		}
		var tags []byte
		if req := kmsg.RequestForKey(h.Key); req != nil {
			req.SetVersion(h.Version)
			if req.IsFlexible() {
				tags = []byte{0}
			}
		}
		again := headerFrame(h.Key, h.Version, h.CorrelationID, &h.ClientID, tags, body)
		h2, body2, err := parseHeader(again)
		if err != nil || h2 != h || !bytes.Equal(body2, body) {
			t.Fatalf("re-encoded header parses as %+v %x %v, want %+v %x", h2, body2, err, h, body)
		}
	})
}

// FuzzDecodeRequest runs a frame through the decoding the dispatcher does before a
// handler sees it (header, registry lookup, kmsg decode at the requested version): no
// input may panic, and a request that decodes encodes to bytes that decode again to
// the same encoding.
func FuzzDecodeRequest(f *testing.F) {
	for _, seed := range realRequestFrames() {
		f.Add(seed.frame)
	}
	served := map[int16]apiEntry{}
	for _, e := range registry {
		served[e.key] = e
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		h, body, err := parseHeader(frame)
		if err != nil {
			return
		}
		e, ok := served[h.Key]
		if !ok || h.Version < e.min || h.Version > e.max {
			return
		}
		req := kmsg.RequestForKey(h.Key)
		req.SetVersion(h.Version)
		if err := req.ReadFrom(body); err != nil {
			return
		}
		enc := req.AppendTo(nil)
		again := kmsg.RequestForKey(h.Key)
		again.SetVersion(h.Version)
		if err := again.ReadFrom(enc); err != nil {
			t.Fatalf("%s v%d: re-encoded request does not decode: %v", kmsg.NameForKey(h.Key), h.Version, err)
		}
		if enc2 := again.AppendTo(nil); !bytes.Equal(enc, enc2) {
			t.Fatalf("%s v%d: encoding is not stable:\n%x\n%x", kmsg.NameForKey(h.Key), h.Version, enc, enc2)
		}
	})
}

// TestFlexibleTableMatchesKmsg pins the precomputed table to kmsg for every key and
// version kmsg knows.
func TestFlexibleTableMatchesKmsg(t *testing.T) {
	for key := int16(0); key <= maxAPIKey; key++ {
		req := kmsg.RequestForKey(key)
		if req == nil {
			continue
		}
		for v := int16(0); v <= req.MaxVersion()+1; v++ {
			req.SetVersion(v)
			if got, want := isFlexible(key, v), req.IsFlexible(); got != want {
				t.Fatalf("key %d v%d: isFlexible %v, kmsg says %v", key, v, got, want)
			}
		}
	}
}
