package interop

// kcat, kafka-python and franz-go against a three-broker cluster (issue 12). Each
// non-Go client is bootstrapped from one broker's address only, so it must learn the
// other brokers from Metadata and reach each partition's leader (and, for the group,
// the coordinator) through them.

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// clusterPython produces N keyed records with acks='all' from one bootstrap address,
// then reads every record of the topic in a consumer group, commits and prints JSON.
// Usage: python3 -c clusterPython BOOTSTRAP TOPIC GROUP N TOTAL
const clusterPython = `
import json, sys, time
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

bootstrap, topic, group, n, total = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
common = dict(bootstrap_servers=[bootstrap], request_timeout_ms=10000, api_version_auto_timeout_ms=10000)
out = {}

producer = KafkaProducer(acks="all", linger_ms=5, max_block_ms=10000, retries=5, **common)
futures = [producer.send(topic, key=b"py-key-%d" % (i % 13), value=b"py-value-%d" % i) for i in range(n)]
producer.flush(timeout=10)
mds = [f.get(timeout=10) for f in futures]
out["produced"] = [{"partition": md.partition, "offset": md.offset} for md in mds]
producer.close(timeout=10)

consumer = KafkaConsumer(topic, group_id=group, auto_offset_reset="earliest", enable_auto_commit=False,
                         fetch_max_wait_ms=100, session_timeout_ms=6000, heartbeat_interval_ms=500, **common)
consumed = []
deadline = time.time() + 15
while len(consumed) < total and time.time() < deadline:
    for tp, recs in consumer.poll(timeout_ms=200).items():
        for r in recs:
            consumed.append({"partition": r.partition, "offset": r.offset,
                             "key": r.key.decode(), "value": r.value.decode()})
consumer.commit()
out["consumed"] = consumed
out["assignment"] = sorted(tp.partition for tp in consumer.assignment())
out["committed"] = {str(p): consumer.committed(TopicPartition(topic, p))
                    for p in sorted(consumer.partitions_for_topic(topic))}
consumer.close()
print(json.dumps(out))
`

type clusterPythonResult struct {
	Produced []struct {
		Partition int32 `json:"partition"`
		Offset    int64 `json:"offset"`
	} `json:"produced"`
	Consumed []struct {
		Partition int32  `json:"partition"`
		Offset    int64  `json:"offset"`
		Key       string `json:"key"`
		Value     string `json:"value"`
	} `json:"consumed"`
	Assignment []int32           `json:"assignment"`
	Committed  map[string]*int64 `json:"committed"`
}

// startInteropCluster starts three brokers in process. Teardown: brokers 3 and 2 shut
// down in a controlled way while a quorum remains; the last one can reach no quorum
// leader for its own controlled shutdown and would wait ~11 s for it, so it is halted.
func startInteropCluster(t *testing.T) []*brokertest.Broker {
	brokers := brokertest.StartCluster(t, 3,
		brokertest.WithProperties(map[string]string{"group.initial.rebalance.delay.ms": "0"}))
	t.Cleanup(func() {
		brokers[2].Stop()
		brokers[1].Stop()
		brokers[0].Kill()
	})
	return brokers
}

func TestClusterInterop(t *testing.T) {
	kcatPath(t)
	requireKafkaPython(t)
	brokers := startInteropCluster(t)
	const topic, groupID, partitions, n = "cluster-interop", "py-cluster-readers", 3, 150
	ctx := testContext(t)

	// franz-go: 3 partitions, replication factor 3, min.insync.replicas=2.
	minISR := "2"
	created, err := brokers[0].Admin().CreateTopic(ctx, partitions, 3,
		map[string]*string{"min.insync.replicas": &minISR}, topic)
	if err == nil {
		err = created.Err
	}
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	// Every broker's Metadata shows the topic with a leader and three replicas per
	// partition before a client bootstrapped from it is started.
	deadline := time.Now().Add(10 * time.Second)
	for i, b := range brokers {
		admin := b.Admin()
		for {
			detail, err := admin.ListTopics(ctx, topic)
			var why string
			switch td := detail[topic]; {
			case err != nil:
				why = err.Error()
			case td.Err != nil:
				why = td.Err.Error()
			case len(td.Partitions) != partitions:
				why = fmt.Sprintf("%d partitions", len(td.Partitions))
			default:
				for _, p := range td.Partitions.Sorted() {
					if p.Leader < 1 || len(p.Replicas) != 3 || p.Err != nil {
						why = fmt.Sprintf("partition %d: leader %d replicas %v isr %v err %v", p.Partition, p.Leader, p.Replicas, p.ISR, p.Err)
					}
				}
			}
			if why == "" {
				if i == 0 {
					for _, p := range detail[topic].Partitions.Sorted() {
						t.Logf("partition %d: leader %d replicas %v isr %v", p.Partition, p.Leader, p.Replicas, p.ISR)
					}
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("broker %d metadata for %s: %s", i+1, topic, why)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// kcat bootstrapped from broker 1 produces keyed records with acks=all; kcat
	// bootstrapped from broker 2 reads them back.
	var in strings.Builder
	for i := range n {
		fmt.Fprintf(&in, "kcat-key-%d:kcat-value-%d\n", i%13, i)
	}
	kcat(t, brokers[0], in.String(), "-P", "-t", topic, "-K:", "-X", "acks=all", "-X", "message.timeout.ms=15000")
	out := kcat(t, brokers[1], "", "-C", "-t", topic, "-e", "-q", "-o", "beginning", "-f", `%p|%o|%k|%s\n`)
	type rec struct {
		partition  int32
		offset     int64
		key, value string
	}
	var kcatRecs []rec
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var r rec
		f := strings.SplitN(line, "|", 4)
		if len(f) != 4 {
			t.Fatalf("kcat -C printed %q", line)
		}
		if _, err := fmt.Sscanf(f[0]+" "+f[1], "%d %d", &r.partition, &r.offset); err != nil {
			t.Fatalf("kcat -C printed %q: %v", line, err)
		}
		r.key, r.value = f[2], f[3]
		kcatRecs = append(kcatRecs, r)
	}
	checkOnce := func(who string, got []rec, prefix string, total int) {
		t.Helper()
		count := map[string]int{}
		keyPartition := map[string]int32{}
		usedPartitions := map[int32]bool{}
		for _, r := range got {
			count[r.value]++
			usedPartitions[r.partition] = true
			if p, ok := keyPartition[r.key]; ok && p != r.partition {
				t.Errorf("%s: key %s in partitions %d and %d", who, r.key, p, r.partition)
			}
			keyPartition[r.key] = r.partition
		}
		for i := range total {
			if v := fmt.Sprintf("%s-value-%d", prefix, i); count[v] != 1 {
				t.Errorf("%s: %s read %d times, want once", who, v, count[v])
			}
		}
		if len(got) != total {
			t.Errorf("%s: read %d records, want %d", who, len(got), total)
		}
		if len(usedPartitions) != partitions {
			t.Errorf("%s: records in partitions %v, want all %d", who, usedPartitions, partitions)
		}
	}
	checkOnce("kcat -C via broker 2", kcatRecs, "kcat", n)
	if t.Failed() {
		t.FailNow()
	}

	// kafka-python bootstrapped from broker 3: n more with acks='all', then all 2n in a group.
	out = runClient(t, "", systemPython, "-c", clusterPython, brokers[2].Addr(), topic, groupID,
		fmt.Sprint(n), fmt.Sprint(2*n))
	var res clusterPythonResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("kafka-python output is not the expected JSON: %v\n%s", err, out)
	}
	if len(res.Produced) != n {
		t.Errorf("kafka-python produced %d records, want %d", len(res.Produced), n)
	}
	var pyRecs, pyKcat []rec
	ends := map[int32]int64{}
	for _, r := range res.Consumed {
		x := rec{r.Partition, r.Offset, r.Key, r.Value}
		if strings.HasPrefix(r.Value, "py-") {
			pyRecs = append(pyRecs, x)
		} else {
			pyKcat = append(pyKcat, x)
		}
		ends[r.Partition] = max(ends[r.Partition], r.Offset+1)
	}
	checkOnce("kafka-python group, kcat's records", pyKcat, "kcat", n)
	checkOnce("kafka-python group, its own records", pyRecs, "py", n)
	if !slices.Equal(res.Assignment, []int32{0, 1, 2}) {
		t.Errorf("kafka-python group member was assigned %v, want [0 1 2]", res.Assignment)
	}
	var sum int64
	for p := range partitions {
		c := res.Committed[fmt.Sprint(p)]
		if c == nil || *c != ends[int32(p)] {
			t.Errorf("partition %d: committed %v, want %d", p, deref(c), ends[int32(p)])
		}
		if c != nil {
			sum += *c
		}
	}
	if sum != 2*n {
		t.Errorf("committed offsets add up to %d, want %d", sum, 2*n)
	}

	// The broker's own view agrees: end offsets add up to 2n and the group's offsets
	// are there, read through a broker the python client did not bootstrap from.
	endOffsets, err := brokers[0].Admin().ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	endOffsets.Each(func(o kadm.ListedOffset) { total += o.Offset })
	if total != 2*n {
		t.Errorf("end offsets %v add up to %d, want %d", endOffsets, total, 2*n)
	}
	fetched, err := brokers[1].Admin().FetchOffsets(ctx, groupID)
	if err != nil {
		t.Fatalf("fetch offsets of %s: %v", groupID, err)
	}
	for p := range partitions {
		o, ok := fetched.Lookup(topic, int32(p))
		if !ok || o.At != ends[int32(p)] {
			t.Errorf("franz-go sees group %s at %v (found %v) on partition %d, want %d", groupID, o.At, ok, p, ends[int32(p)])
		}
	}

	// kcat -L from one broker lists all three, each under its own address.
	var md kcatMetadata
	out = kcat(t, brokers[2], "", "-L", "-J", "-t", topic)
	if err := json.Unmarshal([]byte(out), &md); err != nil {
		t.Fatalf("kcat -L -J output is not JSON: %v\n%s", err, out)
	}
	var wantBrokers []kcatBroker
	for i, b := range brokers {
		wantBrokers = append(wantBrokers, kcatBroker{ID: int32(i + 1), Name: b.Addr()})
	}
	gotBrokers := slices.Clone(md.Brokers)
	slices.SortFunc(gotBrokers, func(a, b kcatBroker) int { return int(a.ID - b.ID) })
	if !slices.Equal(gotBrokers, wantBrokers) {
		t.Errorf("kcat -L via broker 3 lists brokers %+v, want %+v", md.Brokers, wantBrokers)
	}
	if len(md.Topics) != 1 || len(md.Topics[0].Partitions) != partitions {
		t.Fatalf("kcat -L -t %s: %s", topic, out)
	}
	for _, p := range md.Topics[0].Partitions {
		if p.Error != "" || p.Leader < 1 || len(p.Replicas) != 3 || len(p.ISRs) != 3 {
			t.Errorf("kcat -L: partition %d: %+v", p.Partition, p)
		}
	}
}
