package broker_test

// OffsetForLeaderEpoch answers from the partition's leader epoch history, kept in
// Kafka's leader-epoch-checkpoint across restarts.

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

func TestOffsetForLeaderEpoch(t *testing.T) {
	b := brokertest.Start(t)
	const topic = "epochs"
	if _, err := b.Admin().CreateTopic(testContext(t), 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	produceNumbered(t, b, topic, 1, 25, 10)

	ask := func(current, epoch int32) kmsg.OffsetForLeaderEpochResponseTopicPartition {
		t.Helper()
		req := kmsg.NewPtrOffsetForLeaderEpochRequest()
		req.ReplicaID = -1
		rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.CurrentLeaderEpoch, rp.LeaderEpoch = current, epoch
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(testContext(t), b.Client())
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0].Partitions[0]
	}
	check := func(when string) {
		t.Helper()
		if p := ask(-1, 0); p.ErrorCode != 0 || p.LeaderEpoch != 0 || p.EndOffset != 25 {
			t.Fatalf("%s: epoch 0 = %+v, want epoch 0 ending at the log end 25", when, p)
		}
		if p := ask(-1, 3); p.ErrorCode != 0 || p.LeaderEpoch != -1 || p.EndOffset != -1 {
			t.Fatalf("%s: epoch 3 = %+v, want undefined (-1, -1)", when, p)
		}
		if p := ask(2, 0); p.ErrorCode != kerr.UnknownLeaderEpoch.Code {
			t.Fatalf("%s: current epoch 2 = %+v, want UNKNOWN_LEADER_EPOCH", when, p)
		}
	}
	check("live")
	b.Restart()
	check("after restart")
	data, err := os.ReadFile(filepath.Join(b.DataDir(), topic+"-0", "leader-epoch-checkpoint"))
	if err != nil || string(data) != "0\n1\n0 0\n" {
		t.Fatalf("leader-epoch-checkpoint %q (%v), want Kafka's format with epoch 0 from offset 0", data, err)
	}
}
