package api

// Produce (key 0), v3-v13; v0-v2 are advertised but refused.
//
// Behaviour: acks 0, 1 and -1; many topics and partitions per request, each with its
// own error. Batches are appended as the client framed them: validated (framing, magic
// v2, CRC-32C, record count, max.message.bytes, timestamp bounds for CreateTime) and
// stamped with offsets, the leader epoch and, under LogAppendTime, the append time.
// acks=0 gets no response, or, when anything failed, its connection closed (as Kafka
// closes it: the client notices and refreshes its metadata); acks=1 answers after the leader's append; acks=-1 (all)
// checks min.insync.replicas against the ISR before appending (NOT_ENOUGH_REPLICAS), then
// answers once the high watermark passes the batch (every ISR member has it), the
// request's timeout_ms passes (REQUEST_TIMED_OUT), or leadership moves
// (NOT_LEADER_OR_FOLLOWER); an ISR that shrank below min.insync.replicas meanwhile gives
// NOT_ENOUGH_REPLICAS_AFTER_APPEND, as Kafka's DelayedProduce. The wait runs on its own
// goroutine, so the connection keeps reading. v13 names topics by ID. Only the partition's leader appends:
// elsewhere NOT_LEADER_OR_FOLLOWER, with the current leader and its endpoint from v10
// (KIP-951). Internal topics (__consumer_offsets)
// refuse client writes with INVALID_TOPIC_EXCEPTION.
//
// v0-v2 (message format v0/v1) are advertised in ApiVersions and answered with
// UNSUPPORTED_VERSION per partition, as Kafka 4.0 does (KAFKA-18659): librdkafka only
// compresses with gzip, snappy or lz4 when the broker's Produce range starts at v0.
//
// Differs from Kafka: compressed batches are not decompressed to validate each record
// (Kafka does); the codec id is checked, zstd needs v7+ as in Kafka, and the batch CRC
// covers the compressed bytes. A topic compression.type other than producer does not
// recompress.
//
// Idempotence and transactions: batches with a producer id are checked against the
// partition's producer state before offsets are assigned (internal/log,
// producer_state.go). A batch repeating one of the producer's last five is answered
// NONE with its original base offset and not appended (acks=all still waits until the
// original is replicated); a sequence gap or a new epoch not starting at 0 is
// OUT_OF_ORDER_SEQUENCE_NUMBER; an older epoch INVALID_PRODUCER_EPOCH (Kafka 2.7+ gives
// this, not PRODUCER_FENCED, on produce); a producer the partition does not know may
// start at any sequence (Kafka 2.5+, KIP-360), so UNKNOWN_PRODUCER_ID is never sent; a
// non-transactional batch inside the producer's open transaction INVALID_TXN_STATE;
// control batches, and idempotent batches without a sequence, INVALID_RECORD.
// Differs from Kafka: transaction.partition.verification.enable (KIP-890 part 1: ask the
// coordinator whether the partition was added to the transaction) is not done.

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/log"
	"github.com/nagare-dev/nagare/internal/partition"
)

const (
	minProduceVersion = 3 // record batches (magic 2); older message formats are not stored
	codecZstd         = 4
	maxCodec          = 4
	zstdMinVer        = 7
	acksNone          = 0
	acksLeader        = 1
	acksAll           = -1
	unknownTopic      = "" // a v13 topic ID that names no topic
)

func (d *Dispatcher) handleProduce(ctx context.Context, r *request) {
	req := r.body.(*kmsg.ProduceRequest)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	if r.header.Version < minProduceVersion {
		d.produceErrorAll(req, resp, kerr.UnsupportedVersion.Code)
		d.answerProduce(r, req.Acks, resp)
		return
	}
	if req.Acks != acksNone && req.Acks != acksLeader && req.Acks != acksAll {
		d.produceErrorAll(req, resp, kerr.InvalidRequiredAcks.Code)
		r.respond(resp)
		return
	}
	if req.TransactionID != nil && !d.authorized(r, acl.OpWrite, acl.ResourceTransactionalID, *req.TransactionID) {
		d.produceErrorAll(req, resp, kerr.TransactionalIDAuthorizationFailed.Code)
		d.answerProduce(r, req.Acks, resp)
		return
	}
	now := d.cfg.Now()
	img := d.cfg.Metadata.Image()
	var waits []replicationWait
	for _, t := range req.Topics {
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		name := t.Topic
		if r.header.Version >= 13 {
			name = unknownTopic
			if topic, ok := img.TopicByID(t.TopicID); ok {
				name = topic.Name
			}
		}
		denied := name != unknownTopic && !d.authorizedTopic(r, acl.OpWrite, name)
		for _, p := range t.Partitions {
			if denied {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition, rp.ErrorCode, rp.BaseOffset = p.Partition, kerr.TopicAuthorizationFailed.Code, -1
				rt.Partitions = append(rt.Partitions, rp)
				continue
			}
			rp, wait := d.producePartition(r.header.Version, req.Acks, name, p, now)
			if r.header.Version >= 10 && newLeaderCode(rp.ErrorCode) {
				setProduceLeader(resp, &rp, d.currentLeader(img, r.session, name, p.Partition))
			}
			if wait.part != nil {
				wait.topic, wait.partition = len(resp.Topics), len(rt.Partitions)
				waits = append(waits, wait)
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if req.Acks == acksNone {
		d.answerProduce(r, req.Acks, resp)
		return
	}
	if len(waits) > 0 {
		deadline := r.received.Add(time.Duration(max(req.TimeoutMillis, 0)) * time.Millisecond)
		d.spawn(r, func() { d.awaitReplication(ctx, r, resp, waits, deadline) })
		return
	}
	r.respond(resp)
}

// answerProduce answers a produce whose response is complete. With acks=0 the client
// reads no response, so success sends nothing and any error closes the connection, as
// Kafka does, so that the producer notices, refreshes its metadata and retries what it
// can; the log says which partition failed and why.
func (d *Dispatcher) answerProduce(r *request, acks int16, resp *kmsg.ProduceResponse) {
	if acks != acksNone {
		r.respond(resp)
		return
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode != 0 {
				d.cfg.Logger.Info("closing connection: an acks=0 produce failed, and no response can say so",
					"remote", r.session.RemoteAddr, "client_id", r.header.ClientID, "topic", t.Topic,
					"partition", p.Partition, "err", kerr.ErrorForCode(p.ErrorCode))
				r.closeConnection()
				return
			}
		}
	}
	r.noResponse()
}

// replicationWait is an acks=all partition whose append the ISR has not all copied yet.
type replicationWait struct {
	topic, partition int // indexes into the response
	part             *partition.Partition
	required         int64 // the high watermark that covers the append
	leaderEpoch      int32 // the leadership that appended it
}

// awaitReplication completes an acks=all produce once every waiting partition's high
// watermark covers its append, or the deadline passes, or leadership moves (Kafka's
// DelayedProduce). It runs on its own goroutine; the writer still sends replies in order.
func (d *Dispatcher) awaitReplication(ctx context.Context, r *request, resp *kmsg.ProduceResponse, waits []replicationWait, deadline time.Time) {
	done := waitReplicated(ctx, waits, deadline, func(w *replicationWait, code int16) {
		resp.Topics[w.topic].Partitions[w.partition].ErrorCode = code
	})
	if !done {
		r.reply.NoResponse() // the connection is closing; its writer waits for every reply
		return
	}
	r.respond(resp)
}

// waitReplicated waits for each wait in turn and reports its outcome through set: 0
// once the high watermark covers the append, REQUEST_TIMED_OUT at the deadline,
// NOT_LEADER_OR_FOLLOWER when leadership moved. It returns false, having set nothing
// more, when ctx ends (the connection is gone: nobody reads the answer). Produce and
// WriteTxnMarkers share it.
func waitReplicated(ctx context.Context, waits []replicationWait, deadline time.Time, set func(w *replicationWait, code int16)) bool {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	expired := false
	for i := range waits {
		w := &waits[i]
		for {
			if code, done := w.check(); done {
				set(w, code)
				break
			}
			if expired {
				set(w, kerr.RequestTimedOut.Code)
				break
			}
			// Taken, then checked again: a leadership move between the two is seen by the
			// check, one after it ends the wait (Log.Wake).
			wake := w.part.Log().WaitForHighWatermark(w.required)
			if _, done := w.check(); done {
				wake.Stop()
				continue
			}
			select {
			case <-wake.Done():
			case <-timer.C:
				wake.Stop()
				expired = true
			case <-ctx.Done():
				wake.Stop()
				return false
			}
		}
	}
	return true
}

// check says whether the wait is over, and with what error code.
func (w *replicationWait) check() (int16, bool) {
	p := w.part
	if p.Log().HighWatermark() >= w.required {
		if p.InSyncReplicas() < p.Config().MinInsyncReplicas {
			return kerr.NotEnoughReplicasAfterAppend.Code, true
		}
		return 0, true
	}
	if !p.IsLeader() || p.LeaderEpoch() != w.leaderEpoch || p.Log().Closed() {
		return kerr.NotLeaderForPartition.Code, true
	}
	return 0, false
}

// producePartition appends one partition's batches; for acks=all it also returns what to
// wait for when the high watermark does not cover the append yet (wait.part nil: none).
func (d *Dispatcher) producePartition(version, acks int16, topic string, p kmsg.ProduceRequestTopicPartition, now time.Time) (rp kmsg.ProduceResponseTopicPartition, wait replicationWait) {
	rp = kmsg.NewProduceResponseTopicPartition()
	rp.Partition = p.Partition
	if isInternalTopic(topic) {
		// Only the coordinators write their topics; a client's junk there would stop
		// every group of that partition from loading (Kafka refuses it the same way).
		rp.ErrorCode = kerr.InvalidTopicException.Code
		rp.ErrorMessage = ptr("cannot produce to internal topic " + topic)
		return rp, wait
	}
	part, code := d.servedPartition(topic, p.Partition, -1) // produce sends no leader epoch
	if code != 0 {
		rp.ErrorCode = code
		if code == kerr.UnknownTopicOrPartition.Code && version >= 13 && topic == unknownTopic {
			rp.ErrorCode = kerr.UnknownTopicID.Code
		}
		return rp, wait
	}
	if err := checkCodecs(p.Records, version); err != nil {
		rp.ErrorCode, rp.ErrorMessage = errorCode(err), errorMessage(err)
		return rp, wait
	}
	epoch := part.LeaderEpoch()
	res, err := part.Append(p.Records, acks, now)
	if err != nil {
		rp.ErrorCode, rp.ErrorMessage = errorCode(err), errorMessage(err)
		rp.LogStartOffset = part.Log().LogStartOffset()
		return rp, wait
	}
	rp.BaseOffset = res.BaseOffset
	rp.LogAppendTime = res.LogAppendTime
	rp.LogStartOffset = res.LogStartOffset
	if acks == acksAll && part.Log().HighWatermark() <= res.LastOffset {
		wait = replicationWait{part: part, required: res.LastOffset + 1, leaderEpoch: epoch}
	}
	return rp, wait
}

// setProduceLeader names the partition's current leader in a NOT_LEADER_OR_FOLLOWER
// answer, and its endpoint once in the response (KIP-951, v10+).
func setProduceLeader(resp *kmsg.ProduceResponse, rp *kmsg.ProduceResponseTopicPartition, hint leaderHint) {
	rp.CurrentLeader.LeaderID, rp.CurrentLeader.LeaderEpoch = hint.id, hint.epoch
	if hint.endpoint == nil {
		return
	}
	for _, b := range resp.Brokers {
		if b.NodeID == hint.endpoint.nodeID {
			return
		}
	}
	b := kmsg.NewProduceResponseBroker()
	b.NodeID, b.Host, b.Port, b.Rack = hint.endpoint.nodeID, hint.endpoint.host, hint.endpoint.port, hint.endpoint.rack
	resp.Brokers = append(resp.Brokers, b)
}

// checkCodecs rejects batches whose compression codec is unknown, or zstd on a produce
// version older than the one that introduced it (KIP-110).
func checkCodecs(records []byte, version int16) error {
	for pos := 0; pos+log.BatchHeaderSize <= len(records); {
		h := log.ParseBatchHeader(records[pos:])
		switch codec := h.Compression(); {
		case codec > maxCodec:
			return fmt.Errorf("%w: unknown compression codec %d", kerr.CorruptMessage, codec)
		case codec == codecZstd && version < zstdMinVer:
			return fmt.Errorf("%w: zstd needs produce v%d+", kerr.UnsupportedCompressionType, zstdMinVer)
		}
		if h.Size() <= 0 {
			return nil // framing errors are the log's to report
		}
		pos += h.Size()
	}
	return nil
}

func (d *Dispatcher) produceErrorAll(req *kmsg.ProduceRequest, resp *kmsg.ProduceResponse, code int16) {
	for _, t := range req.Topics {
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewProduceResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
}
