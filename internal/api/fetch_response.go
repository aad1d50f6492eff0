package api

import (
	"encoding/binary"

	"github.com/twmb/franz-go/pkg/kbin"

	"github.com/nagare-dev/nagare/internal/log"
	"github.com/nagare-dev/nagare/internal/partition"
)

// fetchResponse is a FetchResponse whose records are file ranges of log segments. It is
// the one response not encoded by kmsg: it is written field by field in kmsg's layout
// (kmsg.FetchResponse.AppendTo is the reference, and the tests decode our output with
// kmsg for every version), so each partition's records become a sendfile part between
// the encoded bytes around them.
type fetchResponse struct {
	version    int16
	throttleMs int32
	errorCode  int16
	sessionID  int32
	topics     []fetchTopic
	// nodeEndpoints are the leaders named by partitions' currentLeader (v16+, KIP-951).
	nodeEndpoints []leaderAddress
}

type fetchTopic struct {
	name       string
	id         [16]byte
	partitions []fetchPartition
}

type fetchPartition struct {
	partition        int32
	errorCode        int16
	highWatermark    int64
	lastStableOffset int64
	logStartOffset   int64
	readCommitted    bool             // send the aborted-transactions list (maybe empty) rather than null
	aborted          []log.AbortedTxn // read_committed: aborted transactions in the range
	namesLeader      bool             // v12+: send currentLeader (after NOT_LEADER_OR_FOLLOWER, KIP-951)
	leaderID         int32
	leaderEpoch      int32
	// diverging (v12+, to followers): the follower's log is not a prefix of ours; it
	// truncates to divergingEndOffset (KIP-320 DivergingEpoch, tagged field 0).
	diverging          bool
	divergingEpoch     int32
	divergingEndOffset int64
	records            log.FileRange
	part               *partition.Partition // counts the bytes sent (nil on error)
	// redirected (v11+, to consumers, KIP-392): no records; the consumer should fetch
	// from readReplica, a follower in its rack.
	redirected  bool
	readReplica int32
}

// release unpins every range in the response.
func (f *fetchResponse) release() {
	for i := range f.topics {
		for j := range f.topics[i].partitions {
			f.topics[i].partitions[j].records.Release()
		}
	}
}

// bytes is how many record bytes the response carries.
func (f *fetchResponse) bytes() int64 {
	var n int64
	for _, t := range f.topics {
		for _, p := range t.partitions {
			n += p.records.Length
		}
	}
	return n
}

// encode lays out the response header and body as parts: encoded bytes with each
// non-empty records field as a file part in its place.
func (f *fetchResponse) encode(correlationID int32) []Part {
	flexible := f.version >= 12
	e := partsEncoder{flexible: flexible}
	e.buf = kbin.AppendInt32(make([]byte, 0, 512), correlationID)
	if flexible {
		e.buf = append(e.buf, 0) // response header tags
	}
	e.buf = kbin.AppendInt32(e.buf, f.throttleMs)
	if f.version >= 7 {
		e.buf = kbin.AppendInt16(e.buf, f.errorCode)
		e.buf = kbin.AppendInt32(e.buf, f.sessionID)
	}
	e.arrayLen(len(f.topics))
	for i := range f.topics {
		t := &f.topics[i]
		if f.version >= 13 {
			e.buf = kbin.AppendUuid(e.buf, t.id)
		} else {
			e.string(t.name)
		}
		e.arrayLen(len(t.partitions))
		for j := range t.partitions {
			f.encodePartition(&e, &t.partitions[j])
		}
		e.tags()
	}
	if f.version >= 16 && len(f.nodeEndpoints) > 0 {
		e.buf = f.appendNodeEndpoints(e.buf)
	} else {
		e.tags() // top-level tags (v16 NodeEndpoints: sent only with leader changes)
	}
	return e.finish()
}

// setThrottle writes throttle_time_ms into encoded parts: it follows the correlation id
// and, in flexible versions, the empty header tags, all in the first part.
func (f *fetchResponse) setThrottle(parts []Part, ms int32) {
	at := 4
	if f.version >= 12 {
		at++
	}
	f.throttleMs = ms
	binary.BigEndian.PutUint32(parts[0].Bytes[at:at+4], uint32(ms))
}

func (f *fetchResponse) encodePartition(e *partsEncoder, p *fetchPartition) {
	e.buf = kbin.AppendInt32(e.buf, p.partition)
	e.buf = kbin.AppendInt16(e.buf, p.errorCode)
	e.buf = kbin.AppendInt64(e.buf, p.highWatermark)
	e.buf = kbin.AppendInt64(e.buf, p.lastStableOffset)
	if f.version >= 5 {
		e.buf = kbin.AppendInt64(e.buf, p.logStartOffset)
	}
	if p.readCommitted {
		e.arrayLen(len(p.aborted))
		for _, a := range p.aborted {
			e.buf = kbin.AppendInt64(e.buf, a.ProducerID)
			e.buf = kbin.AppendInt64(e.buf, a.FirstOffset)
			e.tags()
		}
	} else {
		e.nullArray()
	}
	if f.version >= 11 {
		readReplica := int32(-1) // preferred read replica: none
		if p.redirected {
			readReplica = p.readReplica
		}
		e.buf = kbin.AppendInt32(e.buf, readReplica)
	}
	e.fileBytes(p.records)
	if !e.flexible {
		return
	}
	tags := byte(0)
	if p.diverging {
		tags++
	}
	if p.namesLeader {
		tags++
	}
	e.buf = append(e.buf, tags)
	if p.diverging {
		// Tagged field 0, DivergingEpoch: {epoch int32, end_offset int64, no tags}.
		e.buf = append(e.buf, 0, 13)
		e.buf = kbin.AppendInt32(e.buf, p.divergingEpoch)
		e.buf = kbin.AppendInt64(e.buf, p.divergingEndOffset)
		e.buf = append(e.buf, 0)
	}
	if p.namesLeader {
		// Tagged field 1, CurrentLeader: {leader_id int32, leader_epoch int32, no tags}.
		e.buf = append(e.buf, 1, 9)
		e.buf = kbin.AppendInt32(e.buf, p.leaderID)
		e.buf = kbin.AppendInt32(e.buf, p.leaderEpoch)
		e.buf = append(e.buf, 0)
	}
}

// appendNodeEndpoints appends the top-level tagged fields with tag 0, NodeEndpoints: the
// leaders' addresses, so a client moves to a new leader without asking for Metadata.
func (f *fetchResponse) appendNodeEndpoints(dst []byte) []byte {
	field := kbin.AppendUvarint(nil, uint32(len(f.nodeEndpoints)+1))
	for _, n := range f.nodeEndpoints {
		field = kbin.AppendInt32(field, n.nodeID)
		field = kbin.AppendCompactString(field, n.host)
		field = kbin.AppendInt32(field, n.port)
		field = kbin.AppendCompactNullableString(field, n.rack)
		field = append(field, 0)
	}
	dst = append(dst, 1, 0) // one tagged field: tag 0
	dst = kbin.AppendUvarint(dst, uint32(len(field)))
	return append(dst, field...)
}

// partsEncoder appends Kafka primitives and cuts the buffer into parts around file
// ranges.
type partsEncoder struct {
	flexible bool
	buf      []byte
	start    int // first byte of buf not yet in a part
	parts    []Part
}

func (e *partsEncoder) arrayLen(n int) {
	if e.flexible {
		e.buf = kbin.AppendUvarint(e.buf, uint32(n+1))
	} else {
		e.buf = kbin.AppendInt32(e.buf, int32(n))
	}
}

func (e *partsEncoder) nullArray() {
	if e.flexible {
		e.buf = kbin.AppendUvarint(e.buf, 0)
	} else {
		e.buf = kbin.AppendInt32(e.buf, -1)
	}
}

func (e *partsEncoder) string(s string) {
	if e.flexible {
		e.buf = kbin.AppendCompactString(e.buf, s)
	} else {
		e.buf = kbin.AppendString(e.buf, s)
	}
}

func (e *partsEncoder) tags() {
	if e.flexible {
		e.buf = append(e.buf, 0)
	}
}

// fileBytes writes a bytes field whose content is a file range.
func (e *partsEncoder) fileBytes(r log.FileRange) {
	if e.flexible {
		e.buf = kbin.AppendUvarint(e.buf, uint32(r.Length+1))
	} else {
		e.buf = kbin.AppendInt32(e.buf, int32(r.Length))
	}
	if r.Length == 0 {
		return
	}
	e.parts = append(e.parts, Part{Bytes: e.buf[e.start:len(e.buf):len(e.buf)]}, Part{File: r.File, Offset: r.Position, Length: r.Length})
	e.start = len(e.buf)
}

func (e *partsEncoder) finish() []Part {
	if e.start < len(e.buf) {
		e.parts = append(e.parts, Part{Bytes: e.buf[e.start:]})
	}
	return e.parts
}
