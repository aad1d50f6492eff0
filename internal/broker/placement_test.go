package broker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// TestRackAwarePlacement: four brokers in two racks (1 and 2 in r1, 3 and 4 in r2). Every
// partition of a topic with two replicas, and of the partitions CreatePartitions adds to
// it, has one replica in each rack. Without racks, half of them would sit in one rack:
// the plain placement puts a partition's replicas on neighbouring ids.
func TestRackAwarePlacement(t *testing.T) {
	brokers := brokertest.StartCluster(t, 4, brokertest.WithNodeProperties(func(id int) map[string]string {
		return map[string]string{"broker.rack": fmt.Sprintf("r%d", (id+1)/2)}
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	adm := kadm.NewClient(clusterClient(t, brokers))
	rackOf := waitRacks(ctx, t, adm, 4)

	const topic = "racked"
	createClusterTopic(ctx, t, adm, topic, 8, 2)
	checkRackSpread(ctx, t, adm, rackOf, topic, 8)
	resp, err := adm.UpdatePartitions(ctx, 12, topic)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("create partitions: %v", err)
	}
	checkRackSpread(ctx, t, adm, rackOf, topic, 12)
}

// waitRacks waits until n brokers are registered and returns each one's rack.
func waitRacks(ctx context.Context, t *testing.T, adm *kadm.Client, n int) map[int32]string {
	t.Helper()
	for ctx.Err() == nil {
		if details, err := adm.ListBrokers(ctx); err == nil && len(details) == n {
			racks := map[int32]string{}
			for _, d := range details {
				if d.Rack != nil {
					racks[d.NodeID] = *d.Rack
				}
			}
			return racks
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%d brokers never registered", n)
	return nil
}

// checkRackSpread waits until topic has partitions partitions in the metadata, then fails
// unless each has its replicas in two different racks.
func checkRackSpread(ctx context.Context, t *testing.T, adm *kadm.Client, rackOf map[int32]string, topic string, partitions int) {
	t.Helper()
	var ps kadm.PartitionDetails
	for ctx.Err() == nil && len(ps) != partitions {
		if details, err := adm.ListTopics(ctx, topic); err == nil && details.Error() == nil {
			ps = details[topic].Partitions
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(ps) != partitions {
		t.Fatalf("%s has %d partitions, want %d", topic, len(ps), partitions)
	}
	for _, p := range ps.Sorted() {
		if len(p.Replicas) != 2 || rackOf[p.Replicas[0]] == rackOf[p.Replicas[1]] {
			t.Errorf("partition %d: replicas %v in racks %q, %q; want two racks", p.Partition, p.Replicas,
				rackOf[p.Replicas[0]], rackOf[p.Replicas[len(p.Replicas)-1]])
		}
	}
}
