package api

// DescribeProducers (key 61), v0.
//
// Behaviour: per requested partition led here, the producers its producer state tracks
// (KIP-664): id, epoch, last sequence, last timestamp, coordinator epoch and the first
// offset of the ongoing transaction (-1 when none). READ on the topic is needed, else
// TOPIC_AUTHORIZATION_FAILED; elsewhere UNKNOWN_TOPIC_OR_PARTITION or
// NOT_LEADER_OR_FOLLOWER per partition. Producers forgotten by
// producer.id.expiration.ms are not listed.
//
// Differs from Kafka: nothing known.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
)

func (d *Dispatcher) handleDescribeProducers(_ context.Context, r *request) {
	req := r.body.(*kmsg.DescribeProducersRequest)
	resp := req.ResponseKind().(*kmsg.DescribeProducersResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewDescribeProducersResponseTopic()
		rt.Topic = t.Topic
		denied := !d.authorizedTopic(r, acl.OpRead, t.Topic)
		for _, index := range t.Partitions {
			rp := kmsg.NewDescribeProducersResponseTopicPartition()
			rp.Partition = index
			if denied {
				rp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			} else {
				d.describeProducers(t.Topic, &rp)
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	r.respond(resp)
}

func (d *Dispatcher) describeProducers(topic string, rp *kmsg.DescribeProducersResponseTopicPartition) {
	part, code := d.servedPartition(topic, rp.Partition, -1)
	if code != 0 {
		rp.ErrorCode = code
		return
	}
	for _, p := range part.Log().ActiveProducers() {
		ap := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
		ap.ProducerID, ap.ProducerEpoch, ap.LastSequence = p.ProducerID, int32(p.ProducerEpoch), p.LastSequence
		ap.LastTimestamp, ap.CoordinatorEpoch, ap.CurrentTxnStartOffset = p.LastTimestamp, p.CoordinatorEpoch, p.CurrentTxnStartOffset
		rp.ActiveProducers = append(rp.ActiveProducers, ap)
	}
}
