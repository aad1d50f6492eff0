package api

// ShareFetch (key 78), v0-v1.
//
// Behaviour: KIP-932. A member fetches from share-partitions within its share session
// (session epoch 0 opens one, naming its partitions; later epochs must be the next
// one, else INVALID_SHARE_SESSION_EPOCH, and a missing session is
// SHARE_SESSION_NOT_FOUND; they add partitions and forget forgotten_topics_data; -1
// closes it, acknowledging what it carries, releasing the member's other acquired
// records, fetching nothing). Acknowledgements may ride along (not with epoch 0, which
// is INVALID_REQUEST); each partition's are applied all or none and persisted to
// __share_group_state before the response (acknowledge_error_code, e.g.
// INVALID_RECORD_STATE for an offset the member does not hold). What may wait for share
// state (acknowledgements, a close's release, revalidating or loading share-partitions)
// runs off the connection's reader, after the connection's earlier share requests
// (share.go's shareOrder), so the next request is read at once. Then each partition
// led here acquires up to max_records (v1; 500 for v0) available records: the read
// starts at the first available offset and returns whole batches as file ranges sent
// with sendfile, cut after the last batch holding an acquired offset. Acquiring reads
// the batch headers of the range, so a range not in the page cache is first loaded by
// the warm-up pool and acquired from when loaded, within max_wait_ms as a Fetch waits
// for warm-up (share_fetch_warm.go); no request goroutine reads the disk;
// acquired_records tell the client which offsets it holds and their delivery counts (records outside
// them are in the batches but not the client's). With nothing acquired the request
// waits up to max_wait_ms for an append or a release (an acknowledgement's, a session
// close's, an expired lock's). Needs READ on the group (GROUP_AUTHORIZATION_FAILED) and
// READ on each topic (TOPIC_AUTHORIZATION_FAILED per partition). Only the leader
// serves a partition: elsewhere NOT_LEADER_OR_FOLLOWER with current_leader and
// node_endpoints.
//
// Differs from Kafka: batch_size and max_records strictness (KIP-1206, v1), renewals
// (v2, KIP-1222) and share.isolation.level=read_committed are not done (records are
// read up to the high watermark). Sessions are per member, not per connection, and
// their count is not bounded (Kafka's group.share.max.share.sessions).

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/log"
	"github.com/nagare-dev/nagare/internal/partition"
	"github.com/nagare-dev/nagare/internal/share"
)

// defaultShareMaxRecords is what v0 requests (which have no max_records) acquire.
const defaultShareMaxRecords = 500

func (d *Dispatcher) handleShareFetch(ctx context.Context, r *request) {
	req := r.body.(*kmsg.ShareFetchRequest)
	resp := req.ResponseKind().(*kmsg.ShareFetchResponse)
	resp.AcquisitionLockTimeoutMillis = int32(d.shareLockDuration() / time.Millisecond)
	groupID, member := deref(req.GroupID), deref(req.MemberID)
	if code := d.shareRequestCheck(ctx, r, groupID, member); code != 0 {
		resp.ErrorCode = code
		r.respond(resp)
		return
	}
	sf := &shareFetch{d: d, r: r, req: req, resp: &shareFetchResponse{resp: resp}, group: groupID, member: member}
	parts, err := sf.session() // on the reader: the next request checks the next epoch
	if err != nil {
		resp.ErrorCode, resp.ErrorMessage = shareErrorCode(err), errorMessage(err)
		r.respond(resp)
		return
	}
	order := &r.session.shares
	if !order.idle() || sf.mayWait(parts) {
		order.run(ctx, d, r, func() { sf.serve(ctx, parts) })
		return
	}
	order.hold(r)
	sf.serve(ctx, parts)
}

// mayWait reports whether serving the request may wait for share state (a
// revalidation, an acknowledgement, loading a share-partition, each a read or an
// acks=all write of __share_group_state), or releases records (a session close, whose
// order with the member's acknowledgements matters): such work leaves the reader.
func (sf *shareFetch) mayWait(parts []share.TopicPartition) bool {
	if sf.req.ShareSessionEpoch == share.OpenEpoch || sf.req.ShareSessionEpoch == share.FinalEpoch {
		return true
	}
	for _, t := range sf.req.Topics {
		for _, p := range t.Partitions {
			if len(p.AcknowledgementBatches) > 0 {
				return true
			}
		}
	}
	for _, tp := range parts {
		if tp.Topic != "" && !sf.d.cfg.Shares.Ready(share.Key{Group: sf.group, TopicID: tp.TopicID, Partition: tp.Partition}, tp.Topic) {
			return true
		}
	}
	return false
}

// serve is the request after its session step: acknowledgements first, so what they
// release can be acquired by this same request (Kafka's order), then the release of a
// closed session, or the acquisition, long polling when nothing was acquired.
func (sf *shareFetch) serve(ctx context.Context, parts []share.TopicPartition) {
	req := sf.req
	if req.ShareSessionEpoch == share.OpenEpoch {
		sf.revalidate(ctx, parts)
	}
	sf.acknowledge(ctx)
	if req.ShareSessionEpoch == share.FinalEpoch {
		sf.d.releaseSession(ctx, sf.group, sf.member, parts)
		sf.send(ctx)
		return
	}
	sf.parts = parts
	sf.deadline = sf.r.received.Add(time.Duration(max(req.MaxWaitMillis, 0)) * time.Millisecond)
	var waits []reflect.SelectCase
	if req.MaxWaitMillis > 0 {
		waits = sf.waits(ctx) // before the read: an append between them still wakes us
	}
	acquired, cold := sf.acquire(ctx)
	if sf.failed && cold != nil {
		cold.release() // a partition failed: answer at once, as without cold reads
		cold = nil
	}
	if cold == nil && (acquired > 0 || req.MaxWaitMillis <= 0 || sf.failed) {
		sf.send(ctx)
		return
	}
	sf.d.spawn(sf.r, func() { sf.longPoll(ctx, waits, acquired, cold) })
}

// shareFetch is one ShareFetch being served.
type shareFetch struct {
	d             *Dispatcher
	r             *request
	req           *kmsg.ShareFetchRequest
	resp          *shareFetchResponse
	group, member string
	parts         []share.TopicPartition
	deadline      time.Time // max_wait_ms from arrival: the end of a long poll or a warm-up wait
	failed        bool      // a partition answered an error: answer at once
	scan          share.Scan
}

// session applies the request's session epoch and returns the session's partitions.
func (sf *shareFetch) session() ([]share.TopicPartition, error) {
	m := sf.d.cfg.Shares
	img := sf.d.cfg.Metadata.Image()
	var add []share.TopicPartition
	hasAcks := false
	for _, t := range sf.req.Topics {
		name := ""
		if topic, ok := img.TopicByID(t.TopicID); ok {
			name = topic.Name
		}
		for _, p := range t.Partitions {
			add = append(add, share.TopicPartition{TopicID: t.TopicID, Topic: name, Partition: p.Partition})
			hasAcks = hasAcks || len(p.AcknowledgementBatches) > 0
		}
	}
	switch sf.req.ShareSessionEpoch {
	case share.OpenEpoch:
		if hasAcks {
			return nil, newError(kerr.InvalidRequest, "acknowledgements are not allowed when opening a share session")
		}
		return m.OpenSession(sf.group, sf.member, add), nil
	case share.FinalEpoch:
		return m.CloseSession(sf.group, sf.member)
	}
	var forget []share.TopicPartition
	for _, t := range sf.req.ForgottenTopicsData {
		for _, p := range t.Partitions {
			forget = append(forget, share.TopicPartition{TopicID: t.TopicID, Partition: p})
		}
	}
	for i := range forget {
		if topic, ok := img.TopicByID(forget[i].TopicID); ok {
			forget[i].Topic = topic.Name
		}
	}
	return m.UpdateSession(sf.group, sf.member, sf.req.ShareSessionEpoch, add, forget)
}

// revalidate drops the opened session's loaded share-partitions whose state an
// operator reset or deleted (AlterShareGroupOffsets, DeleteShareGroupOffsets,
// DeleteGroups) since they were loaded; a failed check is left to the next open.
func (sf *shareFetch) revalidate(ctx context.Context, parts []share.TopicPartition) {
	for _, tp := range parts {
		key := share.Key{Group: sf.group, TopicID: tp.TopicID, Partition: tp.Partition}
		if err := sf.d.cfg.Shares.Revalidate(ctx, key); err != nil {
			sf.d.cfg.Logger.Debug("revalidating share-partition", "err", err)
		}
	}
}

// acknowledge applies the piggybacked acknowledgements, partition by partition.
func (sf *shareFetch) acknowledge(ctx context.Context) {
	img := sf.d.cfg.Metadata.Image()
	for _, t := range sf.req.Topics {
		for _, p := range t.Partitions {
			if len(p.AcknowledgementBatches) == 0 {
				continue
			}
			batches := make([]share.AckBatch, 0, len(p.AcknowledgementBatches))
			for _, b := range p.AcknowledgementBatches {
				batches = append(batches, share.AckBatch{FirstOffset: b.FirstOffset, LastOffset: b.LastOffset, Types: ackTypes(b.AcknowledgeTypes)})
			}
			err := sf.d.shareAcknowledge(ctx, sf.r, img, sf.group, sf.member, t.TopicID, p.Partition, batches)
			rp := sf.partition(t.TopicID, p.Partition)
			rp.AcknowledgeErrorCode, rp.AcknowledgeErrorMessage = shareErrorCode(err), errorMessage(err)
		}
	}
}

// partition returns the response entry of a partition, adding it when missing.
func (sf *shareFetch) partition(id [16]byte, index int32) *kmsg.ShareFetchResponseTopicPartition {
	resp := sf.resp.resp
	ti := -1
	for i := range resp.Topics {
		if resp.Topics[i].TopicID == id {
			ti = i
			break
		}
	}
	if ti < 0 {
		t := kmsg.NewShareFetchResponseTopic()
		t.TopicID = id
		resp.Topics = append(resp.Topics, t)
		sf.resp.records = append(sf.resp.records, nil)
		ti = len(resp.Topics) - 1
	}
	t := &resp.Topics[ti]
	for j := range t.Partitions {
		if t.Partitions[j].Partition == index {
			return &t.Partitions[j]
		}
	}
	p := kmsg.NewShareFetchResponseTopicPartition()
	p.Partition = index
	p.CurrentLeader.LeaderID, p.CurrentLeader.LeaderEpoch = -1, -1
	t.Partitions = append(t.Partitions, p)
	sf.resp.records[ti] = append(sf.resp.records[ti], log.FileRange{})
	return &t.Partitions[len(t.Partitions)-1]
}

// setRecords attaches a range to a partition's entry (which partition() made).
func (sf *shareFetch) setRecords(id [16]byte, index int32, rng log.FileRange) {
	resp := sf.resp.resp
	for i := range resp.Topics {
		if resp.Topics[i].TopicID != id {
			continue
		}
		for j := range resp.Topics[i].Partitions {
			if resp.Topics[i].Partitions[j].Partition == index {
				sf.resp.records[i][j] = rng
				return
			}
		}
	}
	rng.Release()
}

// acquire reads and acquires records from every session partition within max_bytes
// and max_records; it returns how many records were acquired, and the reads not in the
// page cache, still to warm up and acquire from (nil when none).
func (sf *shareFetch) acquire(ctx context.Context) (int, *coldScan) {
	maxRecords := defaultShareMaxRecords
	if sf.r.header.Version >= 1 && sf.req.MaxRecords > 0 {
		maxRecords = int(sf.req.MaxRecords)
	}
	budget := int64(sf.req.MaxBytes)
	if budget <= 0 {
		budget = 1<<31 - 1
	}
	img := sf.d.cfg.Metadata.Image()
	acquired := 0
	cold := &coldScan{}
	for _, tp := range sf.parts {
		if acquired >= maxRecords || budget <= 0 {
			break
		}
		rp := sf.partition(tp.TopicID, tp.Partition)
		if rp.ErrorCode != 0 {
			continue
		}
		switch {
		case tp.Topic == "":
			rp.ErrorCode = kerr.UnknownTopicID.Code
		case !sf.d.authorizedTopic(sf.r, acl.OpRead, tp.Topic):
			rp.ErrorCode = kerr.TopicAuthorizationFailed.Code
		}
		if rp.ErrorCode != 0 {
			sf.failed = true
			continue
		}
		n, used, err := sf.acquirePartition(ctx, tp, maxRecords-acquired, budget, cold)
		if err != nil {
			rp.ErrorCode, rp.ErrorMessage = shareErrorCode(err), errorMessage(err)
			if rp.ErrorCode == kerr.NotLeaderForPartition.Code {
				sf.nameLeader(rp, sf.d.currentLeader(img, sf.r.session, tp.Topic, tp.Partition))
			}
			sf.failed = true
			continue
		}
		acquired += n
		budget -= used
	}
	return acquired, cold.pending(maxRecords - acquired)
}

func (sf *shareFetch) nameLeader(rp *kmsg.ShareFetchResponseTopicPartition, hint leaderHint) {
	rp.CurrentLeader.LeaderID, rp.CurrentLeader.LeaderEpoch = hint.id, hint.epoch
	if hint.endpoint == nil {
		return
	}
	for _, n := range sf.resp.resp.NodeEndpoints {
		if n.NodeID == hint.endpoint.nodeID {
			return
		}
	}
	ne := kmsg.NewShareFetchResponseNodeEndpoint()
	ne.NodeID, ne.Host, ne.Port, ne.Rack = hint.endpoint.nodeID, hint.endpoint.host, hint.endpoint.port, hint.endpoint.rack
	sf.resp.resp.NodeEndpoints = append(sf.resp.resp.NodeEndpoints, ne)
}

// acquirePartition reads from one share-partition's first available offset and
// acquires what the read holds. A read not in the page cache is not scanned here but
// added to cold, to be acquired from once the warm-up pool has loaded it; its length
// counts against the budget meanwhile.
func (sf *shareFetch) acquirePartition(ctx context.Context, tp share.TopicPartition, maxRecords int, budget int64, cold *coldScan) (int, int64, error) {
	sp, part, err := sf.d.cfg.Shares.Partition(ctx, share.Key{Group: sf.group, TopicID: tp.TopicID, Partition: tp.Partition}, tp.Topic)
	if err != nil {
		return 0, 0, err
	}
	l := part.Log()
	offset := sp.FetchOffset(l.LogStartOffset())
	maxBytes := budget
	if p := sf.partitionMaxBytes(tp); p > 0 {
		maxBytes = min(maxBytes, p)
	}
	if win, isCold := sf.coldWindow(l, offset, maxBytes); isCold {
		cold.add(coldRead{tp: tp, sp: sp, part: part, rng: win, window: true, readAt: offset, maxBytes: maxBytes})
		return 0, min(maxBytes, win.Length), nil
	}
	res, err := l.Read(offset, log.ReadOptions{MaxBytes: int(maxBytes), MinOneBatch: true})
	if err != nil {
		if errors.Is(err, log.ErrOffsetOutOfRange) {
			return 0, 0, nil // the start moves to the log start on the next fetch
		}
		return 0, 0, err
	}
	if res.Range.Length == 0 {
		return 0, 0, nil
	}
	if !sf.resident(res.Range) {
		cold.add(coldRead{tp: tp, sp: sp, part: part, rng: res.Range})
		return 0, res.Range.Length, nil
	}
	return sf.acquireRange(tp, sp, part, res.Range, maxRecords)
}

// acquireRange scans rng's batch headers (rng is resident: the scan reads no disk),
// acquires up to maxRecords of their records for the member and puts rng, cut after
// the last batch holding one, in the response. It owns rng.
func (sf *shareFetch) acquireRange(tp share.TopicPartition, sp *share.Partition, part *partition.Partition, rng log.FileRange, maxRecords int) (int, int64, error) {
	if err := sf.scan.Read(rng); err != nil {
		rng.Release()
		return 0, 0, fmt.Errorf("share fetch %s-%d: %w", tp.Topic, tp.Partition, err)
	}
	ranges := sp.Acquire(sf.member, sf.scan.Batches, maxRecords, time.Now())
	if len(ranges) == 0 {
		rng.Release()
		return 0, 0, nil
	}
	rng = sf.scan.Cut(rng, ranges[len(ranges)-1].LastOffset)
	rp := sf.partition(tp.TopicID, tp.Partition)
	n := 0
	for _, a := range ranges {
		ar := kmsg.NewShareFetchResponseTopicPartitionAcquiredRecord()
		ar.FirstOffset, ar.LastOffset, ar.DeliveryCount = a.FirstOffset, a.LastOffset, a.DeliveryCount
		rp.AcquiredRecords = append(rp.AcquiredRecords, ar)
		n += int(a.LastOffset - a.FirstOffset + 1)
	}
	sf.setRecords(tp.TopicID, tp.Partition, rng)
	part.CountFetched(rng.Length)
	return n, rng.Length, nil
}

// partitionMaxBytes is the request's partition_max_bytes for tp, or 0.
func (sf *shareFetch) partitionMaxBytes(tp share.TopicPartition) int64 {
	for _, t := range sf.req.Topics {
		if t.TopicID != tp.TopicID {
			continue
		}
		for _, p := range t.Partitions {
			if p.Partition == tp.Partition {
				return int64(p.PartitionMaxBytes)
			}
		}
	}
	return 0
}

// waits are the wake-up channels of the session's partitions: appends and releases.
func (sf *shareFetch) waits(ctx context.Context) []reflect.SelectCase {
	var cases []reflect.SelectCase
	for _, tp := range sf.parts {
		if tp.Topic == "" {
			continue
		}
		sp, part, err := sf.d.cfg.Shares.Partition(ctx, share.Key{Group: sf.group, TopicID: tp.TopicID, Partition: tp.Partition}, tp.Topic)
		if err != nil {
			continue
		}
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(part.Log().WaitForAppend())},
			reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(sp.Changed())})
	}
	return cases
}

// longPoll completes a request that has cold reads to acquire from or nothing
// acquired yet: it waits for the cold reads' warm-up, then for an append or a release
// until the deadline, acquiring again after each wake-up. It runs on its own
// goroutine, which the request owns until it sends; the writer keeps replies in order.
func (sf *shareFetch) longPoll(ctx context.Context, waits []reflect.SelectCase, acquired int, cold *coldScan) {
	timer := time.NewTimer(time.Until(sf.deadline))
	defer timer.Stop()
	for {
		if cold != nil {
			acquired += sf.acquireCold(ctx, cold, acquired > 0)
		}
		if acquired > 0 || sf.failed || ctx.Err() != nil || !time.Now().Before(sf.deadline) {
			sf.send(ctx)
			return
		}
		cases := append(waits[:len(waits):len(waits)], endOfWait(ctx, sf.r.session, timer)...)
		chosen, _, _ := reflect.Select(cases)
		if chosen >= len(waits) { // not an append: max_wait_ms, closing or draining
			sf.send(ctx)
			return
		}
		waits = sf.waits(ctx)
		acquired, cold = sf.acquire(ctx)
	}
}

// reply encodes the response with its file ranges and completes the reply.
func (sf *shareFetch) reply() {
	throttle, decided := sf.r.throttleNow(0)
	sf.resp.resp.ThrottleMillis = throttleMillis(throttle)
	start := sf.r.encodeStart(decided)
	parts := sf.resp.encode(sf.r.header.CorrelationID, sf.r.header.Version)
	sf.r.encoded(start, start)
	sf.r.reply.Send(parts, sf.resp.release)
}

func ackTypes(in []int8) []share.AckType {
	out := make([]share.AckType, len(in))
	for i, t := range in {
		out[i] = share.AckType(t)
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
