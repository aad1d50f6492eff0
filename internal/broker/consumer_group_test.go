package broker_test

// KIP-848 consumer groups against a real broker, with franz-go consumers that opt into
// the server-side protocol (kgo.ServerSideBalancer): three members on six partitions
// read every record exactly once while members leave and join, with either server
// assignor; commits survive a restart; ConsumerGroupDescribe and ListGroups show the
// group. The heartbeat interval is lowered so reconciliation takes milliseconds.

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

func startConsumerGroupBroker(t *testing.T) *brokertest.Broker {
	t.Helper()
	return brokertest.Start(t, brokertest.WithProperties(map[string]string{
		"group.consumer.heartbeat.interval.ms": "100",
		"group.consumer.session.timeout.ms":    "6000",
	}))
}

// waitReconciled waits until the consumer group is Stable with members members whose
// assignments cover partitions partitions, and returns each member's share.
func waitReconciled(t *testing.T, adm *kadm.Client, groupID string, members, partitions int) map[string]int {
	t.Helper()
	var last kadm.DescribedConsumerGroup
	var counts map[string]int
	waitFor(t, 30*time.Second, func() bool {
		described, err := adm.DescribeConsumerGroups(testContext(t), groupID)
		if err != nil {
			return false
		}
		last = described[groupID]
		if last.Err != nil || last.State != "Stable" || len(last.Members) != members {
			return false
		}
		counts = map[string]int{}
		total := 0
		for _, m := range last.Members {
			for _, ps := range m.Assignment {
				counts[m.ClientID] += len(ps)
				total += len(ps)
			}
		}
		return total == partitions
	}, func() string {
		return fmt.Sprintf("group %s is %q (err %v) with %d members, want Stable with %d sharing %d partitions",
			groupID, last.State, last.Err, len(last.Members), members, partitions)
	})
	return counts
}

func TestConsumerGroupProtocol(t *testing.T) {
	b := startConsumerGroupBroker(t)
	adm := b.Admin()
	balancers := []struct {
		name     string
		assignor string
		balancer kgo.GroupBalancer
	}{
		{"uniform", "uniform", kgo.CooperativeStickyBalancer()},
		{"range", "range", kgo.RangeBalancer()},
	}
	for i, bal := range balancers {
		t.Run(bal.name, func(t *testing.T) {
			topic, groupID := fmt.Sprintf("kip848-%d", i), fmt.Sprintf("next-gen-%d", i)
			createTopic(t, adm, topic, 6, nil)
			want := produceValues(t, b, topic, "a", 6, 50)
			seen := &seenRecords{}
			start := func(name string) *groupConsumer {
				return startGroupConsumer(t, b, groupID, topic, name, seen, kgo.ServerSideBalancer(), kgo.Balancers(bal.balancer))
			}
			start("c1")
			start("c2")
			c3 := start("c3")
			expectShares := func(members, share int) {
				t.Helper()
				counts := waitReconciled(t, adm, groupID, members, 6)
				for name, n := range counts {
					if n != share {
						t.Errorf("with %d members %s holds %d partitions, want %d (%v)", members, name, n, share, counts)
					}
				}
			}
			expectShares(3, 2)
			waitFor(t, 20*time.Second, func() bool { return seen.count() == len(want) },
				func() string { return fmt.Sprintf("consumed %d of %d", seen.count(), len(want)) })

			described, err := adm.DescribeConsumerGroups(testContext(t), groupID)
			if err != nil || described[groupID].AssignorName != bal.assignor {
				t.Fatalf("described %+v, %v; want assignor %s", described[groupID], err, bal.assignor)
			}
			listed, err := adm.ListGroups(testContext(t))
			if err != nil || listed[groupID].GroupType != "consumer" {
				t.Fatalf("listed %+v, %v; want type consumer", listed[groupID], err)
			}

			// One leaves: the other two share its partitions.
			want = append(want, produceValues(t, b, topic, "b", 6, 50)...)
			c3.stop()
			expectShares(2, 3)
			waitFor(t, 20*time.Second, func() bool { return seen.count() == len(want) },
				func() string { return fmt.Sprintf("after a leave: consumed %d of %d", seen.count(), len(want)) })

			// One joins: three again, and nothing is read twice.
			start("c4")
			want = append(want, produceValues(t, b, topic, "c", 6, 50)...)
			expectShares(3, 2)
			waitFor(t, 20*time.Second, func() bool { return seen.count() == len(want) },
				func() string { return fmt.Sprintf("after a join: consumed %d of %d", seen.count(), len(want)) })
			time.Sleep(200 * time.Millisecond) // a duplicate would arrive by now
			seen.check(t, want)

			waitCommittedTotal(t, adm, groupID, int64(len(want)))
		})
	}
}

func TestConsumerGroupCommitsSurviveRestart(t *testing.T) {
	b := startConsumerGroupBroker(t)
	createTopic(t, b.Admin(), "kip848-durable", 3, nil)
	want := produceValues(t, b, "kip848-durable", "v", 3, 40)
	seen := &seenRecords{}
	c := startGroupConsumer(t, b, "next-gen-keeper", "kip848-durable", "first", seen, kgo.ServerSideBalancer())
	waitFor(t, 20*time.Second, func() bool { return seen.count() >= len(want)/2 },
		func() string { return fmt.Sprintf("consumed %d of %d", seen.count(), len(want)) })
	c.stop()
	before, err := b.Admin().FetchOffsets(testContext(t), "next-gen-keeper")
	if err != nil {
		t.Fatal(err)
	}

	b.Restart()
	ctx := testContext(t)
	var after kadm.OffsetResponses
	waitFor(t, 20*time.Second, func() bool {
		after, err = b.Admin().FetchOffsets(ctx, "next-gen-keeper")
		return err == nil
	}, func() string { return fmt.Sprintf("fetch offsets after restart: %v", err) })
	before.Each(func(o kadm.OffsetResponse) {
		if got, ok := after.Lookup(o.Topic, o.Partition); !ok || got.At != o.At {
			t.Errorf("%s/%d: committed %d before the restart, %d (found %v) after", o.Topic, o.Partition, o.At, got.At, ok)
		}
	})

	// Membership is rebuilt by rejoining; the new member resumes from the commits.
	startGroupConsumer(t, b, "next-gen-keeper", "kip848-durable", "second", seen, kgo.ServerSideBalancer())
	waitFor(t, 20*time.Second, func() bool { return seen.count() == len(want) },
		func() string { return fmt.Sprintf("consumed %d of %d", seen.count(), len(want)) })
	time.Sleep(200 * time.Millisecond)
	seen.check(t, want)
}
