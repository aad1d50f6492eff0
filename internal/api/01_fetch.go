package api

// Fetch (key 1), v4-v17.
//
// Behaviour: records leave as file ranges sent with sendfile, once the read path has made
// sure they are in the page cache (fetch_warm.go: a cold range is loaded by the warm-up
// pool while this fetch, and only it, waits up to max_wait_ms, then answers with what is
// loaded). Each partition reads whole batches from its fetch offset within
// partition_max_bytes, the response within max_bytes; the first partition with data may
// exceed both by one batch so a consumer always progresses (KIP-74). With less than
// min_bytes available the request waits up to max_wait_ms and is woken by an append to
// any partition it reads. read_committed (isolation_level 1) reads up to the last
// stable offset (the high watermark, held back by the earliest transaction that is open
// or whose marker is not replicated) and carries the aborted transactions overlapping
// what it returns, from the segments' transaction indexes; every consumer fetch carries
// the real LSO in last_stable_offset. v13+ names
// topics by ID. The leader epoch a client sends (v9+) is checked: older is
// FENCED_LEADER_EPOCH, newer UNKNOWN_LEADER_EPOCH. Only the partition's leader serves
// consumers before v11: elsewhere NOT_LEADER_OR_FOLLOWER, with the current leader (v12+)
// and its endpoint (v16+) named as KIP-951 does. From v11 (KIP-392, read_replica.go) a
// follower serves consumers up to its own high watermark, and with
// replica.selector.class set a leader answers a consumer whose rack_id names another
// in-sync replica's rack with preferred_read_replica and no records.
//
// Replica fetches (replica id >= 0: ReplicaID before v15, ReplicaState from v15, KIP-903)
// come from followers (internal/replica): they need CLUSTER_ACTION on the cluster
// (else CLUSTER_AUTHORIZATION_FAILED) and must name a replica of a partition this broker
// leads (else NOT_LEADER_OR_FOLLOWER). They read up to the log end offset where
// consumers read up to the high watermark, over the same sendfile path. Each records the
// follower's fetch offset as its log end offset (partition.FollowerFetched), which moves
// the high watermark over the ISR. From v12 a follower's LastFetchedEpoch is checked
// against the leader's epoch history (KIP-320): when the follower's log cannot be a
// prefix of the leader's, the answer carries no records but a DivergingEpoch (the
// largest epoch the leader knows not above it and where it ends), and the follower
// truncates there; an epoch the leader cannot place is OFFSET_OUT_OF_RANGE.
//
// Differs from Kafka: no fetch sessions (KIP-227): every response has session id 0, the
// protocol's "sessionless" answer, so clients send full requests.

import (
	"context"
	"errors"
	"reflect"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/log"
	"github.com/nagare-dev/nagare/internal/metadata"
)

const readCommitted = 1

func (d *Dispatcher) handleFetch(ctx context.Context, r *request) {
	req := r.body.(*kmsg.FetchRequest)
	if d.fromBroker(r, fetchReplicaID(req, r.header.Version)) {
		r.exemptFromQuota() // a follower: replication is not a client (quota.go)
	}
	deadline := r.received.Add(time.Duration(max(req.MaxWaitMillis, 0)) * time.Millisecond)
	windows := d.checkWindows(r, req) // fetch_window.go
	if windows != nil && windows.job != nil {
		d.spawn(r, func() {
			windows.wait(ctx, deadline)
			if ctx.Err() != nil {
				r.reply.NoResponse() // the connection is closing; its writer waits for every reply
				return
			}
			d.serveFetch(ctx, r, req, windows, deadline, true)
		})
		return
	}
	d.serveFetch(ctx, r, req, windows, deadline, false)
}

// serveFetch reads the fetch's partitions and answers, or long-polls when min_bytes are
// not there yet. inline says the caller is a goroutine of the request's own, which may
// wait; else (the connection's reader) any wait runs on a goroutine of its own.
func (d *Dispatcher) serveFetch(ctx context.Context, r *request, req *kmsg.FetchRequest, windows *fetchWindows, deadline time.Time, inline bool) {
	var waits []reflect.SelectCase
	if req.MaxWaitMillis > 0 && req.MinBytes > 0 {
		// Taken before the read: an append landing between the read and the wait then
		// closes a channel we hold, instead of waking nobody.
		waits = d.appendWaits(req, r.header.Version)
	}
	resp := d.readFetch(r, req)
	if resp.bytes() >= int64(req.MinBytes) || req.MaxWaitMillis <= 0 || hasFetchError(resp) || resp.errorCode != 0 {
		d.sendWhenWarm(ctx, r, req, resp, windows, deadline, inline)
		return
	}
	resp.release()
	if inline {
		d.longPoll(ctx, r, req, deadline, waits)
		return
	}
	d.spawn(r, func() { d.longPoll(ctx, r, req, deadline, waits) })
}

// longPoll waits for appends to the partitions a fetch reads, until min_bytes are there
// or max_wait_ms passes, then answers. It runs on its own goroutine so the connection
// keeps reading requests; the writer still sends replies in order. waits are the
// partitions' wake-up channels, always taken before the read they guard.
func (d *Dispatcher) longPoll(ctx context.Context, r *request, req *kmsg.FetchRequest, deadline time.Time, waits []reflect.SelectCase) {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		cases := append(waits[:len(waits):len(waits)], endOfWait(ctx, r.session, timer)...)
		chosen, _, _ := reflect.Select(cases)
		expired := chosen >= len(waits) // not an append: max_wait_ms, closing or draining
		if !expired {
			waits = d.appendWaits(req, r.header.Version) // before the re-read, as above
		}
		resp := d.readFetch(r, req)
		if expired || resp.bytes() >= int64(req.MinBytes) || hasFetchError(resp) {
			d.sendWhenWarm(ctx, r, req, resp, nil, deadline, true)
			return
		}
		resp.release()
	}
}

// endOfWait is what ends a long poll besides an append, as select cases to follow the
// append waits: max_wait_ms, the connection closing, the broker draining the connection
// for shutdown.
func endOfWait(ctx context.Context, s *Session, timer *time.Timer) []reflect.SelectCase {
	return []reflect.SelectCase{
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(timer.C)},
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())},
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(s.Draining())},
	}
}

// appendWaits collects the wake-up channels of every partition the fetch reads.
func (d *Dispatcher) appendWaits(req *kmsg.FetchRequest, version int16) []reflect.SelectCase {
	img := d.cfg.Metadata.Image()
	var cases []reflect.SelectCase
	for _, t := range req.Topics {
		name := fetchTopicName(img, t, version)
		for _, p := range t.Partitions {
			if part, ok := d.cfg.Partitions.Get(name, p.Partition); ok {
				cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(part.Log().WaitForAppend())})
			}
		}
	}
	return cases
}

// sendFetch encodes and sends the response. consumer_byte_rate counts the whole encoded
// response, so the throttle is decided after encoding and written into its place.
func (d *Dispatcher) sendFetch(r *request, resp *fetchResponse) {
	start := r.encodeStart(time.Time{})
	// Answered at once, the handling time still to charge runs to the throttle decision
	// and so includes this encoding: charge only what follows the decision.
	chargeFrom, handling := start, r.quota.pending()
	parts := resp.encode(r.header.CorrelationID)
	if r.quota.manager != nil {
		var size int64
		for _, p := range parts {
			size += p.Size()
		}
		throttle, decided := r.throttleNow(size)
		resp.setThrottle(parts, throttleMillis(throttle))
		if handling {
			chargeFrom = decided
		}
	}
	r.encoded(start, chargeFrom)
	countFetched(r.errors, resp)
	r.reply.Send(parts, resp.release)
}

// hasFetchError says whether a partition's answer should go at once: an error, a
// diverging epoch the follower must act on, or a consumer sent to another replica.
func hasFetchError(resp *fetchResponse) bool {
	for _, t := range resp.topics {
		for _, p := range t.partitions {
			if p.errorCode != 0 || p.diverging || p.redirected {
				return true
			}
		}
	}
	return false
}

// readFetch reads every requested partition once, within the request's byte limits.
func (d *Dispatcher) readFetch(r *request, req *kmsg.FetchRequest) *fetchResponse {
	version := r.header.Version
	img := d.cfg.Metadata.Image()
	resp := &fetchResponse{version: version}
	budget := int64(req.MaxBytes)
	if budget <= 0 {
		budget = 1<<31 - 1
	}
	minOne := true
	replica := fetchReplicaID(req, version)
	var now time.Time
	if replica >= 0 {
		now = time.Now()
		if !d.authorizedCluster(r, acl.OpClusterAction) {
			resp.errorCode = kerr.ClusterAuthorizationFailed.Code
		} else if staleReplicaEpoch(img, replica, req, version) {
			resp.errorCode = kerr.StaleBrokerEpoch.Code
		}
	}
	for _, t := range req.Topics {
		ft := fetchTopic{name: fetchTopicName(img, t, version), id: t.TopicID}
		denied := ft.name != unknownTopic && replica < 0 && !d.authorizedTopic(r, acl.OpRead, ft.name)
		for _, p := range t.Partitions {
			if denied || resp.errorCode != 0 {
				code := kerr.TopicAuthorizationFailed.Code
				if resp.errorCode != 0 {
					code = resp.errorCode
				}
				ft.partitions = append(ft.partitions, fetchPartition{partition: p.Partition, highWatermark: -1, lastStableOffset: -1,
					logStartOffset: -1, errorCode: code})
				continue
			}
			var fp fetchPartition
			if replica >= 0 {
				fp = d.readReplicaFetch(ft.name, version, p, replica, now, &budget, &minOne)
			} else {
				fp = d.readFetchPartition(ft.name, version, p, req.IsolationLevel, req.Rack, &budget, &minOne)
			}
			if version >= 12 && newLeaderCode(fp.errorCode) {
				resp.nameLeader(&fp, d.currentLeader(img, r.session, ft.name, p.Partition))
			}
			ft.partitions = append(ft.partitions, fp)
		}
		resp.topics = append(resp.topics, ft)
	}
	return resp
}

// nameLeader sets a partition's currentLeader (v12+) and adds the leader's endpoint to
// the response's node endpoints (v16+) once (KIP-951).
func (f *fetchResponse) nameLeader(fp *fetchPartition, hint leaderHint) {
	fp.namesLeader, fp.leaderID, fp.leaderEpoch = true, hint.id, hint.epoch
	if f.version < 16 || hint.endpoint == nil {
		return
	}
	for _, n := range f.nodeEndpoints {
		if n.nodeID == hint.endpoint.nodeID {
			return
		}
	}
	f.nodeEndpoints = append(f.nodeEndpoints, *hint.endpoint)
}

func fetchTopicName(img *metadata.Image, t kmsg.FetchRequestTopic, version int16) string {
	if version < 13 {
		return t.Topic
	}
	if topic, ok := img.TopicByID(t.TopicID); ok {
		return topic.Name
	}
	return unknownTopic
}

func (d *Dispatcher) readFetchPartition(topic string, version int16, p kmsg.FetchRequestTopicPartition, isolation int8, rack string, budget *int64, minOne *bool) fetchPartition {
	fp := fetchPartition{partition: p.Partition, highWatermark: -1, lastStableOffset: -1, logStartOffset: -1, readCommitted: isolation == readCommitted}
	part, code := d.fetchablePartition(topic, p.Partition, p.CurrentLeaderEpoch, version) // read_replica.go
	if code != 0 {
		fp.errorCode = code
		if code == kerr.UnknownTopicOrPartition.Code && version >= 13 && topic == unknownTopic {
			fp.errorCode = kerr.UnknownTopicID.Code
		}
		return fp
	}
	if id := d.preferredReadReplica(part, rack, p.FetchOffset); id >= 0 {
		l := part.Log()
		fp.redirected, fp.readReplica = true, id
		fp.highWatermark, fp.logStartOffset = l.HighWatermark(), l.LogStartOffset()
		fp.lastStableOffset = l.LastStableOffset()
		return fp
	}
	maxBytes := min(int64(p.PartitionMaxBytes), *budget)
	committed := isolation == readCommitted
	res, err := part.Log().Read(p.FetchOffset, log.ReadOptions{MaxBytes: int(maxBytes), MinOneBatch: *minOne, ReadCommitted: committed,
		LastStableOffset: true}) // every consumer answer carries it
	fp.highWatermark, fp.logStartOffset = res.HighWatermark, res.LogStartOffset
	fp.lastStableOffset = res.LastStableOffset
	if err != nil {
		fp.errorCode = errorCode(err)
		if !errors.Is(err, log.ErrOffsetOutOfRange) {
			d.cfg.Logger.Warn("fetch read failed", "topic", topic, "partition", p.Partition, "err", err)
		}
		return fp
	}
	fp.records, fp.part = res.Range, part
	if res.Range.Length > 0 {
		*budget -= res.Range.Length
		*minOne = false
		if committed {
			// Read up to the LSO, so the aborted list covers the range (a superset of
			// Kafka's, which stops at the range's last batch; consumers ignore extras).
			fp.aborted = part.Log().AbortedTransactions(p.FetchOffset, res.LastStableOffset)
		}
	}
	return fp
}

// staleReplicaEpoch reports whether a follower's fetch (v15+, KIP-903) carries a broker
// epoch older than the follower's registration in img: it comes from a process that has
// since restarted, whose log may lack what it acknowledged, so it must not be counted
// for the high watermark or the ISR. An epoch newer than img's (this broker's metadata
// lags) is served.
func staleReplicaEpoch(img *metadata.Image, replica int32, req *kmsg.FetchRequest, version int16) bool {
	if version < 15 || req.ReplicaState.Epoch < 0 {
		return false
	}
	b, ok := img.Broker(replica)
	return ok && req.ReplicaState.Epoch < b.Epoch
}

// fetchReplicaID is the fetching follower's broker id, or -1 for a consumer: ReplicaID
// up to v14, ReplicaState.ID from v15 (KIP-903).
func fetchReplicaID(req *kmsg.FetchRequest, version int16) int32 {
	if version >= 15 {
		return req.ReplicaState.ID
	}
	return req.ReplicaID
}

// readReplicaFetch serves one partition of a follower's fetch (Kafka's
// Partition.fetchRecords from a follower): the leader checks the follower's last fetched
// epoch against its history (KIP-320), records the fetch offset as the follower's log end
// offset (which may move the high watermark), then reads up to its own log end offset.
func (d *Dispatcher) readReplicaFetch(topic string, version int16, p kmsg.FetchRequestTopicPartition, replica int32, now time.Time, budget *int64, minOne *bool) fetchPartition {
	fp := fetchPartition{partition: p.Partition, highWatermark: -1, lastStableOffset: -1, logStartOffset: -1}
	part, code := d.servedPartition(topic, p.Partition, p.CurrentLeaderEpoch)
	if code != 0 {
		fp.errorCode = code
		if code == kerr.UnknownTopicOrPartition.Code && version >= 13 && topic == unknownTopic {
			fp.errorCode = kerr.UnknownTopicID.Code
		}
		return fp
	}
	l := part.Log()
	if version >= 12 && p.LastFetchedEpoch >= 0 {
		// Kafka's validateFetchOffsetAndMaybeGetDivergingEpoch: an epoch the leader cannot
		// place, or an offset below its log start, is OFFSET_OUT_OF_RANGE (the follower
		// then starts over from what the response's offsets allow).
		epoch, end := l.EndOffsetForEpoch(p.LastFetchedEpoch)
		fp.highWatermark, fp.logStartOffset = l.HighWatermark(), l.LogStartOffset()
		fp.lastStableOffset = fp.highWatermark
		switch {
		case epoch == log.UndefinedEpoch || end == log.UndefinedOffset || p.FetchOffset < fp.logStartOffset:
			fp.errorCode = kerr.OffsetOutOfRange.Code
			return fp
		case epoch < p.LastFetchedEpoch || end < p.FetchOffset:
			fp.diverging, fp.divergingEpoch, fp.divergingEndOffset = true, epoch, end
			return fp
		}
	}
	if err := part.FollowerFetched(replica, p.FetchOffset, now); err != nil {
		fp.errorCode = kerr.NotLeaderForPartition.Code
		return fp
	}
	throttled := d.leaderThrottled(topic, p.Partition, replica) // replication_throttle.go
	if throttled && d.cfg.LeaderReplicationQuota.Exceeded() {
		fp.highWatermark, fp.logStartOffset = l.HighWatermark(), l.LogStartOffset()
		fp.lastStableOffset = fp.highWatermark
		return fp // no records until the throttled rate is back under the bound
	}
	maxBytes := min(int64(p.PartitionMaxBytes), *budget)
	res, err := l.Read(p.FetchOffset, log.ReadOptions{MaxBytes: int(maxBytes), MinOneBatch: *minOne, MaxOffset: l.LogEndOffset()})
	fp.highWatermark, fp.logStartOffset = res.HighWatermark, res.LogStartOffset
	fp.lastStableOffset = res.HighWatermark
	if throttled && err == nil {
		d.cfg.LeaderReplicationQuota.Record(res.Range.Length)
	}
	if err != nil {
		fp.errorCode = errorCode(err)
		if !errors.Is(err, log.ErrOffsetOutOfRange) {
			d.cfg.Logger.Warn("replica fetch read failed", "topic", topic, "partition", p.Partition, "replica", replica, "err", err)
		}
		return fp
	}
	fp.records, fp.part = res.Range, part
	if res.Range.Length > 0 {
		*budget -= res.Range.Length
		*minOne = false
	}
	return fp
}
