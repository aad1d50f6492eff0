package api

import (
	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/log"
)

// shareFetchResponse is a ShareFetchResponse whose records are file ranges, encoded
// like fetchResponse: kmsg's field layout (kmsg.ShareFetchResponse.AppendTo is the
// reference; the tests decode our output with kmsg), each partition's records a
// sendfile part. resp holds every other field; records[i][j] is the range of
// resp.Topics[i].Partitions[j] (empty: null records).
type shareFetchResponse struct {
	resp    *kmsg.ShareFetchResponse
	records [][]log.FileRange
}

// release unpins every range.
func (f *shareFetchResponse) release() {
	for i := range f.records {
		for j := range f.records[i] {
			f.records[i][j].Release()
		}
	}
}

// encode lays out header and body as parts. ShareFetch is flexible in every version.
func (f *shareFetchResponse) encode(correlationID int32, version int16) []Part {
	v := f.resp
	e := partsEncoder{flexible: true}
	e.buf = kbin.AppendInt32(make([]byte, 0, 256), correlationID)
	e.buf = append(e.buf, 0) // response header tags
	e.buf = kbin.AppendInt32(e.buf, v.ThrottleMillis)
	e.buf = kbin.AppendInt16(e.buf, v.ErrorCode)
	e.buf = kbin.AppendCompactNullableString(e.buf, v.ErrorMessage)
	if version >= 1 {
		e.buf = kbin.AppendInt32(e.buf, v.AcquisitionLockTimeoutMillis)
	}
	e.arrayLen(len(v.Topics))
	for i := range v.Topics {
		t := &v.Topics[i]
		e.buf = kbin.AppendUuid(e.buf, t.TopicID)
		e.arrayLen(len(t.Partitions))
		for j := range t.Partitions {
			var rng log.FileRange
			if i < len(f.records) && j < len(f.records[i]) {
				rng = f.records[i][j]
			}
			encodeSharePartition(&e, &t.Partitions[j], rng)
		}
		e.tags()
	}
	e.arrayLen(len(v.NodeEndpoints))
	for _, n := range v.NodeEndpoints {
		e.buf = kbin.AppendInt32(e.buf, n.NodeID)
		e.buf = kbin.AppendCompactString(e.buf, n.Host)
		e.buf = kbin.AppendInt32(e.buf, n.Port)
		e.buf = kbin.AppendCompactNullableString(e.buf, n.Rack)
		e.tags()
	}
	e.tags()
	return e.finish()
}

func encodeSharePartition(e *partsEncoder, p *kmsg.ShareFetchResponseTopicPartition, rng log.FileRange) {
	e.buf = kbin.AppendInt32(e.buf, p.Partition)
	e.buf = kbin.AppendInt16(e.buf, p.ErrorCode)
	e.buf = kbin.AppendCompactNullableString(e.buf, p.ErrorMessage)
	e.buf = kbin.AppendInt16(e.buf, p.AcknowledgeErrorCode)
	e.buf = kbin.AppendCompactNullableString(e.buf, p.AcknowledgeErrorMessage)
	e.buf = kbin.AppendInt32(e.buf, p.CurrentLeader.LeaderID)
	e.buf = kbin.AppendInt32(e.buf, p.CurrentLeader.LeaderEpoch)
	e.tags()
	if rng.Length == 0 {
		e.buf = kbin.AppendUvarint(e.buf, 0) // null records
	} else {
		e.fileBytes(rng)
	}
	e.arrayLen(len(p.AcquiredRecords))
	for _, a := range p.AcquiredRecords {
		e.buf = kbin.AppendInt64(e.buf, a.FirstOffset)
		e.buf = kbin.AppendInt64(e.buf, a.LastOffset)
		e.buf = kbin.AppendInt16(e.buf, a.DeliveryCount)
		e.tags()
	}
	e.tags()
}
