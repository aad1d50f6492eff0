package api

// DescribeQuorum (key 55), v0-v2.
//
// Behaviour (KIP-595): the state of the metadata quorum, as partition 0 of
// __cluster_metadata: the leader (the active controller), its epoch, the high watermark,
// and the voters and observers with each one's log end offset. v1 (KIP-836) adds each
// replica's last fetch and last caught-up times; v2 (KIP-853) adds replica directory ids,
// error messages and the voters' CONTROLLER endpoints. The request must name exactly
// __cluster_metadata partition 0, else the partitions it names are
// UNKNOWN_TOPIC_OR_PARTITION, as Kafka's KafkaRaftClient answers. DESCRIBE on the cluster
// is required (CLUSTER_AUTHORIZATION_FAILED), as Kafka's brokers require it before
// forwarding.
//
// Differs from Kafka: the quorum is hashicorp/raft, so offsets are raft indexes (every
// raft entry, configuration changes and the leader's no-op of each term included), not
// KRaft record offsets; the epoch is the raft term; the high watermark is the commit
// index. A node that does not lead gets the leader's view over the metadata forwarding
// protocol (metadata.Store.DescribeQuorum), as Kafka's brokers forward to the active
// controller (a Kafka controller that does not lead answers NOT_LEADER_OR_FOLLOWER
// instead; here every node forwards). Only the leader knows the other nodes' progress, so
// while no leader is known, or it cannot be reached or predates forwarding DescribeQuorum,
// the node answers from its own view, the others' progress -1. Progress
// comes from broker heartbeats, which carry each broker's applied metadata index (the
// controller liveness rule), not from log fetches: a log end offset is that applied
// index, the last fetch time the last heartbeat, and a controller-only voter, which
// sends none, is -1 even on the leader. An applied index is the raft index of the last
// metadata record, so a caught-up broker lags the commit index by the raft entries that
// carry no record (a new leader's no-op, barriers, configuration changes) until the next
// record, at most metadata.max.idle.interval.ms away when there are several brokers. Observers are the raft non-voters (broker-only
// nodes), whether or not they have fetched lately. Directory ids are zero (no KIP-858
// directory ids here).

import (
	"context"
	"math"
	"net"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/metadata"
)

// defaultControllerListener names the quorum's endpoints of a node whose config names
// none (a one-node cluster without cluster settings), as Kafka's examples name it.
const defaultControllerListener = "CONTROLLER"

func (d *Dispatcher) handleDescribeQuorum(ctx context.Context, r *request) {
	req := r.body.(*kmsg.DescribeQuorumRequest)
	resp := req.ResponseKind().(*kmsg.DescribeQuorumResponse)
	if !d.authorizedCluster(r, acl.OpDescribe) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		r.respond(resp)
		return
	}
	if !namesMetadataPartition(req) {
		resp.Topics = unknownQuorumPartitions(req)
		r.respond(resp)
		return
	}
	now := d.cfg.Now()
	if d.cfg.Metadata.IsLeader() {
		d.describeQuorum(ctx, r, req, resp, now) // this node's own view: no waiting
		return
	}
	// Asking the leader may take a dial and a round trip (seconds when it is unreachable):
	// off the connection's reader, so that its later requests are not held up; the writer
	// still sends the replies in order.
	d.spawn(r, func() { d.describeQuorum(ctx, r, req, resp, now) })
}

// describeQuorum fills in resp from the quorum's state, asking the leader for it when this
// node does not lead (metadata.Store.DescribeQuorum), and answers r, unless ctx ended
// meanwhile (the connection is gone: nobody reads the answer).
func (d *Dispatcher) describeQuorum(ctx context.Context, r *request, req *kmsg.DescribeQuorumRequest, resp *kmsg.DescribeQuorumResponse, now time.Time) {
	q, err := d.cfg.Metadata.DescribeQuorum(ctx, now)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		d.cfg.Logger.Warn("describe quorum", "err", err)
		resp.ErrorCode, resp.ErrorMessage = errorCode(err), errorMessage(err)
		r.respond(resp)
		return
	}
	rt := kmsg.NewDescribeQuorumResponseTopic()
	rt.Topic = metadata.DirName
	rt.Partitions = []kmsg.DescribeQuorumResponseTopicPartition{quorumPartition(q)}
	resp.Topics = []kmsg.DescribeQuorumResponseTopic{rt}
	if req.Version >= 2 {
		resp.Nodes = d.quorumNodes(q.Voters)
	}
	r.respond(resp)
}

// namesMetadataPartition reports whether the request asks for exactly partition 0 of
// __cluster_metadata, the one partition Kafka's raft client describes.
func namesMetadataPartition(req *kmsg.DescribeQuorumRequest) bool {
	return len(req.Topics) == 1 && req.Topics[0].Topic == metadata.DirName &&
		len(req.Topics[0].Partitions) == 1 && req.Topics[0].Partitions[0].Partition == 0
}

// unknownQuorumPartitions answers every partition the request names with
// UNKNOWN_TOPIC_OR_PARTITION (Kafka's getPartitionLevelErrorResponse).
func unknownQuorumPartitions(req *kmsg.DescribeQuorumRequest) []kmsg.DescribeQuorumResponseTopic {
	var out []kmsg.DescribeQuorumResponseTopic
	for _, t := range req.Topics {
		rt := kmsg.NewDescribeQuorumResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewDescribeQuorumResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			rp.ErrorMessage = ptr(kerr.UnknownTopicOrPartition.Message)
			rp.LeaderID = -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		out = append(out, rt)
	}
	return out
}

// quorumPartition is the quorum as partition 0 of __cluster_metadata.
func quorumPartition(q metadata.Quorum) kmsg.DescribeQuorumResponseTopicPartition {
	p := kmsg.NewDescribeQuorumResponseTopicPartition()
	p.LeaderID = q.LeaderID
	p.LeaderEpoch = int32(min(q.Term, math.MaxInt32))
	p.HighWatermark = int64(min(q.CommitIndex, math.MaxInt64))
	for _, v := range q.Voters {
		p.CurrentVoters = append(p.CurrentVoters, replicaState(v))
	}
	for _, o := range q.Observers {
		p.Observers = append(p.Observers, replicaState(o))
	}
	return p
}

func replicaState(rep metadata.QuorumReplica) kmsg.DescribeQuorumResponseTopicPartitionReplicaState {
	s := kmsg.NewDescribeQuorumResponseTopicPartitionReplicaState()
	s.ReplicaID = rep.NodeID
	s.LogEndOffset = rep.LastIndex
	s.LastFetchTimestamp = unixMillisOrUnknown(rep.LastFetch)
	s.LastCaughtUpTimestamp = unixMillisOrUnknown(rep.LastCaughtUp)
	return s
}

// unixMillisOrUnknown is t in Unix milliseconds, or -1 for the zero time (unknown).
func unixMillisOrUnknown(t time.Time) int64 {
	if t.IsZero() {
		return -1
	}
	return t.UnixMilli()
}

// quorumNodes are the voters' CONTROLLER endpoints (v2), from the raft addresses of the
// quorum's configuration, which are the controller.quorum.voters entries.
func (d *Dispatcher) quorumNodes(voters []metadata.QuorumReplica) []kmsg.DescribeQuorumResponseNode {
	name := defaultControllerListener
	if l, ok := d.cfg.Broker.ControllerListener(); ok {
		name = l.Name
	}
	var out []kmsg.DescribeQuorumResponseNode
	for _, v := range voters {
		n := kmsg.NewDescribeQuorumResponseNode()
		n.NodeID = v.NodeID
		if host, port, err := net.SplitHostPort(v.Addr); err == nil {
			if p, err := strconv.ParseUint(port, 10, 16); err == nil {
				l := kmsg.NewDescribeQuorumResponseNodeListener()
				l.Name, l.Host, l.Port = name, host, uint16(p)
				n.Listeners = append(n.Listeners, l)
			}
		}
		out = append(out, n)
	}
	return out
}
