package api

// WriteTxnMarkers (key 27), v0-v1.
//
// Behaviour: a transaction coordinator (internal/txn, on any broker) tells partition
// leaders how a transaction ended. It needs CLUSTER_ACTION on the cluster, else every
// partition answers CLUSTER_AUTHORIZATION_FAILED. For each marker and each partition,
// the leader appends a control batch (commit or abort, with the coordinator epoch) for
// the producer id and epoch: the producer's open transaction on the partition ends
// there, an abort goes into the segment's transaction index and the last stable offset
// moves once the marker is replicated. Errors per partition: UNKNOWN_TOPIC_OR_PARTITION,
// NOT_LEADER_OR_FOLLOWER, INVALID_PRODUCER_EPOCH (an epoch older than the partition's),
// TRANSACTION_COORDINATOR_FENCED (a coordinator epoch older than one seen),
// NOT_ENOUGH_REPLICAS. Markers are appended with acks=all, as Kafka does: the response
// waits until every ISR member has them, or request.timeout.ms (30 s) passes
// (REQUEST_TIMED_OUT). Markers written to __consumer_offsets are reported to
// Config.TxnMarkers once replicated, so the group coordinator makes the transaction's
// offset commits visible or drops them (Kafka's onTransactionCompleted). v1 is the
// flexible version. A coordinator's markers for partitions its own broker leads do not
// come through here: internal/txn appends them directly (markers_local.go), with the
// same checks, acks=all wait and group coordinator notice.
//
// Differs from Kafka: nothing known.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/group"
	"github.com/nagare-dev/nagare/internal/log"
)

// markerTimeout is how long marker appends wait for replication: Kafka uses the
// broker's request.timeout.ms, 30 s by default.
const markerTimeout = 30 * time.Second

// TxnMarkerListener learns the outcome of a transaction on a __consumer_offsets
// partition led here, after its marker is replicated: the group coordinator then
// applies (commit) or discards (abort) the transaction's pending offset commits.
// Calls may come from many goroutines at once.
type TxnMarkerListener interface {
	OnTransactionCompleted(partition int32, producerID int64, commit bool)
}

// markerWait is a marker partition the response waits for, and where its code goes.
type markerWait struct {
	marker, topic, partition int
}

func (d *Dispatcher) handleWriteTxnMarkers(ctx context.Context, r *request) {
	req := r.body.(*kmsg.WriteTxnMarkersRequest)
	resp := req.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
	allowed := d.authorizedCluster(r, acl.OpClusterAction)
	if allowed {
		r.exemptFromQuota() // a coordinator's markers: not a client's work (quota.go)
	}
	now := d.cfg.Now()
	var waits []replicationWait
	var slots []markerWait
	for mi, m := range req.Markers {
		rm := kmsg.NewWriteTxnMarkersResponseMarker()
		rm.ProducerID = m.ProducerID
		marker := log.TxnMarker{ProducerID: m.ProducerID, ProducerEpoch: m.ProducerEpoch, CoordinatorEpoch: m.CoordinatorEpoch, Commit: m.Committed}
		for ti, t := range m.Topics {
			rt := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
			rt.Topic = t.Topic
			for pi, index := range t.Partitions {
				rp := kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
				rp.Partition = index
				if !allowed {
					rp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
				} else if w, code := d.writeMarker(t.Topic, index, marker, now); code != 0 {
					rp.ErrorCode = code
				} else if w.part != nil {
					w.topic = len(slots) // for markers, topic indexes slots
					waits = append(waits, w)
					slots = append(slots, markerWait{marker: mi, topic: ti, partition: pi})
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
			rm.Topics = append(rm.Topics, rt)
		}
		resp.Markers = append(resp.Markers, rm)
	}
	if len(waits) == 0 {
		d.notifyMarkers(req, resp)
		r.respond(resp)
		return
	}
	d.spawn(r, func() {
		deadline := r.received.Add(markerTimeout)
		done := waitReplicated(ctx, waits, deadline, func(w *replicationWait, code int16) {
			s := slots[w.topic]
			resp.Markers[s.marker].Topics[s.topic].Partitions[s.partition].ErrorCode = code
		})
		if !done {
			r.reply.NoResponse() // the connection is closing; its writer waits for every reply
			return
		}
		d.notifyMarkers(req, resp)
		r.respond(resp)
	})
}

// writeMarker appends one marker to one partition led here; the returned wait (part
// non-nil) says what replication to wait for.
func (d *Dispatcher) writeMarker(topic string, index int32, m log.TxnMarker, now time.Time) (replicationWait, int16) {
	part, code := d.servedPartition(topic, index, -1)
	if code != 0 {
		return replicationWait{}, code
	}
	epoch := part.LeaderEpoch()
	res, err := part.AppendTxnMarker(m, now)
	if err != nil {
		return replicationWait{}, errorCode(err)
	}
	if part.Log().HighWatermark() > res.LastOffset {
		return replicationWait{}, 0
	}
	return replicationWait{part: part, required: res.LastOffset + 1, leaderEpoch: epoch}, 0
}

// notifyMarkers tells the group coordinator about markers written to its partitions.
func (d *Dispatcher) notifyMarkers(req *kmsg.WriteTxnMarkersRequest, resp *kmsg.WriteTxnMarkersResponse) {
	if d.cfg.TxnMarkers == nil {
		return
	}
	for mi, m := range req.Markers {
		for ti, t := range m.Topics {
			if t.Topic != group.OffsetsTopic {
				continue
			}
			for pi, index := range t.Partitions {
				if resp.Markers[mi].Topics[ti].Partitions[pi].ErrorCode == 0 {
					d.cfg.TxnMarkers.OnTransactionCompleted(index, m.ProducerID, m.Committed)
				}
			}
		}
	}
}
