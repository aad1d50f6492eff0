package broker_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// TestClusterMetadata starts three brokers as one cluster (each a voter of the metadata
// quorum). CreateTopics sent to each broker itself (not routed to the controller, as
// clients do) is forwarded to the quorum leader when that broker does not lead; the topics
// then appear in the Metadata answers of every broker, which all name the same controller
// and all three brokers. The topics have one replica and nothing is produced: this test is
// about the metadata; replication has its own (replication_test.go).
func TestClusterMetadata(t *testing.T) {
	start := time.Now()
	brokers := brokertest.StartCluster(t, 3)
	t.Logf("three brokers ready in %v", time.Since(start).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	seeds := make([]*kgo.Broker, len(brokers))
	for i, b := range brokers {
		seeds[i] = b.Client(kgo.SeedBrokers(b.Addr())).SeedBrokers()[0]
	}
	createTopic := func(i int, name string) int16 {
		t.Helper()
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 2, 1
		req.Topics = append(req.Topics, rt)
		req.TimeoutMillis = 20000
		resp, err := req.RequestWith(ctx, seeds[i])
		if err != nil {
			t.Fatalf("CreateTopics on broker %d: %v", i+1, err)
		}
		return resp.Topics[0].ErrorCode
	}
	for i := range brokers {
		if code := createTopic(i, "created-on-"+string(rune('1'+i))); code != 0 {
			t.Fatalf("CreateTopics on broker %d: %v", i+1, kerr.ErrorForCode(code))
		}
	}
	// An error answered by the leader keeps its Kafka code on every broker.
	for i := range brokers {
		if code := createTopic(i, "created-on-1"); code != kerr.TopicAlreadyExists.Code {
			t.Errorf("duplicate CreateTopics on broker %d: %v, want TOPIC_ALREADY_EXISTS", i+1, kerr.ErrorForCode(code))
		}
	}

	var controller int32 = -2
	for i := range brokers {
		req := kmsg.NewPtrMetadataRequest()
		for _, name := range []string{"created-on-1", "created-on-2", "created-on-3"} {
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(name)
			req.Topics = append(req.Topics, rt)
		}
		var resp *kmsg.MetadataResponse
		deadline := time.Now().Add(10 * time.Second)
		for {
			var err error
			if resp, err = req.RequestWith(ctx, seeds[i]); err != nil {
				t.Fatalf("Metadata on broker %d: %v", i+1, err)
			}
			if allTopicsKnown(resp) || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond) // a follower applies the log a moment later
		}
		for _, rt := range resp.Topics {
			if rt.ErrorCode != 0 || len(rt.Partitions) != 2 {
				t.Errorf("broker %d: topic %s: %v, %d partitions", i+1, *rt.Topic, kerr.ErrorForCode(rt.ErrorCode), len(rt.Partitions))
			}
		}
		var ids []int32
		for _, br := range resp.Brokers {
			ids = append(ids, br.NodeID)
		}
		slices.Sort(ids)
		if !slices.Equal(ids, []int32{1, 2, 3}) {
			t.Errorf("broker %d: brokers %v, want 1 2 3", i+1, ids)
		}
		if controller == -2 {
			controller = resp.ControllerID
		}
		if resp.ControllerID < 1 || resp.ControllerID != controller {
			t.Errorf("broker %d: controller %d, others %d", i+1, resp.ControllerID, controller)
		}
	}
	t.Logf("controller: node %d", controller)
}

func allTopicsKnown(resp *kmsg.MetadataResponse) bool {
	for _, rt := range resp.Topics {
		if rt.ErrorCode != 0 {
			return false
		}
	}
	return true
}
