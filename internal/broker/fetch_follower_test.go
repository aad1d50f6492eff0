package broker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nagare-dev/nagare/internal/brokertest"
	"github.com/nagare-dev/nagare/internal/config"
)

// TestFetchFromFollower (KIP-392): brokers in racks r1, r2, r3 with the rack-aware
// replica selector. A consumer in a follower's rack is sent there by the leader
// (preferred_read_replica) and reads every record from the follower, whose partition
// counts the bytes sent. Then DeleteRecords on the leader moves every follower's log
// start offset too.
func TestFetchFromFollower(t *testing.T) {
	brokers := brokertest.StartCluster(t, 3,
		brokertest.WithProperties(map[string]string{
			"replica.selector.class":       config.RackAwareReplicaSelector,
			"broker.heartbeat.interval.ms": "100",
			"broker.session.timeout.ms":    "1000",
		}),
		brokertest.WithNodeProperties(func(id int) map[string]string {
			return map[string]string{"broker.rack": fmt.Sprintf("r%d", id)}
		}))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const topic, records = "closest", 200
	createClusterTopic(ctx, t, brokers[0].Admin(), topic, 1, 3)
	waitView(ctx, t, askBroker(brokers[0]), 10*time.Second, "topic created", func(v clusterView) bool {
		return len(v.partitions[topic][0].ISR) == 3
	}, topic)
	produceN(ctx, t, clusterClient(t, brokers, kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.MetadataMinAge(50*time.Millisecond)), "r", records)
	waitReplicasEqual(t, brokers, topic, 3)

	leader := leaderIndex(t, brokers, topic)
	follower := (leader + 1) % 3
	fp, _ := brokers[follower].Partitions().Get(topic, 0)
	lp, _ := brokers[leader].Partitions().Get(topic, 0)
	// BytesOut counts replica fetches too; the followers have everything by now.
	sentBefore, leaderSentBefore := fp.Traffic().BytesOut, lp.Traffic().BytesOut
	consumer := clusterClient(t, brokers, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.Rack(fmt.Sprintf("r%d", follower+1)), kgo.FetchMaxWait(200*time.Millisecond))
	got := 0
	pollCtx, pollCancel := context.WithTimeout(ctx, 15*time.Second)
	defer pollCancel()
	for got < records {
		fetches := consumer.PollFetches(pollCtx)
		if err := pollCtx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", got, records, err)
		}
		fetches.EachError(func(topic string, p int32, err error) { t.Logf("fetch %s-%d: %v", topic, p, err) })
		got += fetches.NumRecords()
	}
	if got != records {
		t.Fatalf("consumed %d records, want %d", got, records)
	}
	if sent := fp.Traffic().BytesOut - sentBefore; sent == 0 {
		t.Fatalf("follower (broker %d) sent no record bytes: the consumer did not read from it", follower+1)
	}
	if sent := lp.Traffic().BytesOut - leaderSentBefore; sent != 0 {
		t.Errorf("leader sent %d record bytes to the consumer, want 0 (it should redirect)", sent)
	}

	t.Run("followers follow the leader's log start", func(t *testing.T) {
		adm := kadm.NewClient(clusterClient(t, brokers))
		offsets := make(kadm.Offsets)
		offsets.Add(kadm.Offset{Topic: topic, Partition: 0, At: records / 2})
		res, err := adm.DeleteRecords(ctx, offsets)
		if err == nil {
			err = res.Error()
		}
		if err != nil {
			t.Fatalf("delete records: %v", err)
		}
		var why string
		waitFor(t, 5*time.Second, func() bool {
			for i, b := range brokers {
				p, _ := b.Partitions().Get(topic, 0)
				if start := p.Log().LogStartOffset(); start != records/2 {
					why = fmt.Sprintf("broker %d log start %d, want %d", i+1, start, records/2)
					return false
				}
			}
			return true
		}, func() string { return why })
	})
}
