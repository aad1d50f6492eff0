package interop

// Tests with KafkaJS, a pure-JavaScript client with its own protocol code, run by node
// from testdata/kafkajs (the version pinned by its package-lock.json, which
// scripts/install-test-deps.sh installs there with npm ci).

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// kafkajsDir holds the scripts, their package.json and package-lock.json, and the
// node_modules that npm ci fills.
const kafkajsDir = "testdata/kafkajs"

// requireKafkaJS skips unless node is on PATH and node_modules holds the KafkaJS
// version package-lock.json pins.
func requireKafkaJS(t *testing.T) {
	t.Helper()
	const hint = "scripts/install-test-deps.sh (make test-deps) runs npm ci in tests/interop/" + kafkajsDir
	if _, err := exec.LookPath("node"); err != nil {
		t.Skipf("node is not on PATH (%v); %s", err, hint)
	}
	var lock struct {
		Packages map[string]struct {
			Version string `json:"version"`
		} `json:"packages"`
	}
	decodeJSONFile(t, filepath.Join(kafkajsDir, "package-lock.json"), &lock)
	want := lock.Packages["node_modules/kafkajs"].Version
	if want == "" {
		t.Fatalf("%s/package-lock.json pins no kafkajs", kafkajsDir)
	}
	var installed struct {
		Version string `json:"version"`
	}
	path := filepath.Join(kafkajsDir, "node_modules", "kafkajs", "package.json")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("KafkaJS %s is not installed (%v); %s", want, err, hint)
	}
	decodeJSONFile(t, path, &installed)
	if installed.Version != want {
		t.Skipf("KafkaJS %s is installed, package-lock.json pins %s; %s", installed.Version, want, hint)
	}
}

func decodeJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// runKafkaJS runs node on a script of kafkajsDir (bounded by clientTimeout; the
// process is killed if it outlives it or the test) and decodes the JSON it prints
// into result. What the script logged (KafkaJS warnings) goes to the test log.
func runKafkaJS(t *testing.T, result any, script string, args ...string) {
	t.Helper()
	args = append([]string{filepath.Join(kafkajsDir, script)}, args...)
	out, stderr, err := runClientErr(t, "", "node", args...)
	if err != nil {
		t.Fatalf("node %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, stderr)
	}
	if stderr != "" { // KafkaJS's warnings: retried errors a passing run hides
		t.Logf("node %s stderr:\n%s", script, stderr)
	}
	if err := json.Unmarshal([]byte(out), result); err != nil {
		t.Fatalf("%s output is not the expected JSON: %v\n%s", script, err, out)
	}
}

// kafkajsRecord is a record as a KafkaJS consumer saw it.
type kafkajsRecord struct {
	Member    string      `json:"member,omitempty"`
	Partition int32       `json:"partition"`
	Offset    int64       `json:"offset"`
	Key       *string     `json:"key"`
	Value     *string     `json:"value"`
	Headers   [][2]string `json:"headers"`
}

// String shows a record, nulls as <null>.
func (r kafkajsRecord) String() string {
	return fmt.Sprintf("%d/%d key=%v value=%v headers=%q", r.Partition, r.Offset, deref(r.Key), deref(r.Value), r.Headers)
}

// asKafkaJS is a franz-go record as kafkajsRecord, to compare what each client saw.
func asKafkaJS(r *kgo.Record) kafkajsRecord {
	out := kafkajsRecord{Partition: r.Partition, Offset: r.Offset, Headers: [][2]string{}}
	if r.Key != nil {
		k := string(r.Key)
		out.Key = &k
	}
	if r.Value != nil {
		v := string(r.Value)
		out.Value = &v
	}
	for _, h := range r.Headers {
		out.Headers = append(out.Headers, [2]string{h.Key, string(h.Value)})
	}
	return out
}

// wantCommitted checks with kadm that group committed offset want[p] on each
// partition p of topic, and nothing else.
func wantCommitted(t *testing.T, b *brokertest.Broker, group, topic string, want map[int32]int64) {
	t.Helper()
	offsets, err := b.Admin().FetchOffsets(testContext(t), group)
	if err == nil {
		err = offsets.Error()
	}
	if err != nil {
		t.Fatalf("fetch offsets of group %s: %v", group, err)
	}
	got := map[int32]int64{}
	offsets.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic {
			got[o.Partition] = o.At
		}
	})
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("group %s committed %v on %s, want %v", group, got, topic, want)
	}
}

// kafkajsProduceConsume is what testdata/kafkajs/produce_consume.js prints.
type kafkajsProduceConsume struct {
	Sends    [][]kafkajsAck  `json:"sends"`
	Consumed []kafkajsRecord `json:"consumed"`
}

// kafkajsAck is a partition's part of a KafkaJS send result.
type kafkajsAck struct {
	Partition  int32 `json:"partition"`
	ErrorCode  int16 `json:"errorCode"`
	BaseOffset int64 `json:"baseOffset"`
}

// TestKafkaJSProduceConsume: a GZIP producer with acks=-1, keys and headers over three
// partitions (Produce, Metadata), then a group consumer that reads everything once and
// commits (FindCoordinator, JoinGroup, SyncGroup, Heartbeat, ListOffsets, Fetch,
// OffsetFetch, OffsetCommit, LeaveGroup), checked against what franz-go reads.
func TestKafkaJSProduceConsume(t *testing.T) {
	requireKafkaJS(t)
	b := brokertest.Start(t, brokertest.WithProperties(map[string]string{"group.initial.rebalance.delay.ms": "0"}))
	const topic, group, n, partitions = "kjs", "kjs-readers", 30, 3
	createTopic(t, b, topic, partitions)
	var res kafkajsProduceConsume
	runKafkaJS(t, &res, "produce_consume.js", b.Addr(), topic, group, fmt.Sprint(n), fmt.Sprint(partitions))

	// Each send wrote n/partitions records to every partition, the second after the first.
	if len(res.Sends) != 2 {
		t.Fatalf("%d send results, want 2", len(res.Sends))
	}
	for i, send := range res.Sends {
		slices.SortFunc(send, func(a, b kafkajsAck) int { return int(a.Partition - b.Partition) })
		if len(send) != partitions {
			t.Errorf("send %d acknowledged %d partitions, want %d: %+v", i, len(send), partitions, send)
			continue
		}
		for p, r := range send {
			if r.Partition != int32(p) || r.ErrorCode != 0 || r.BaseOffset != int64(i*n/partitions) {
				t.Errorf("send %d: partition %d acknowledged %+v, want error 0 and base offset %d", i, p, r, i*n/partitions)
			}
		}
	}

	// franz-go finds each record where KafkaJS put it, with its key and headers, in
	// batches KafkaJS really compressed with gzip.
	stored := readAll(t, b, topic)
	if len(stored) != 2*n {
		t.Fatalf("franz-go read %d records, want %d", len(stored), 2*n)
	}
	next := map[int32]int64{}
	for _, r := range stored {
		next[r.Partition] = r.Offset + 1
		run, i := "first", int(r.Offset)*partitions+int(r.Partition)
		if i >= n {
			run, i = "second", i-n
		}
		key, value := fmt.Sprintf("k%d", i), fmt.Sprintf("%s-%d", run, i)
		want := kafkajsRecord{Partition: r.Partition, Offset: r.Offset, Key: &key, Value: &value,
			Headers: [][2]string{{"run", run}, {"i", fmt.Sprint(i)}}}
		if got := asKafkaJS(r); got.String() != want.String() {
			t.Errorf("franz-go read %s, want %s", got, want)
		}
		if codec := r.Attrs.CompressionType(); codec != codecIDs["gzip"] {
			t.Errorf("record %d/%d stored with codec %d, want gzip (%d)", r.Partition, r.Offset, codec, codecIDs["gzip"])
		}
	}

	// The group consumer read exactly those records, each once.
	slices.SortFunc(res.Consumed, func(a, b kafkajsRecord) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
	if len(res.Consumed) != len(stored) {
		t.Errorf("KafkaJS consumed %d records, want %d once each", len(res.Consumed), len(stored))
	}
	for i := range min(len(res.Consumed), len(stored)) {
		if got, want := res.Consumed[i].String(), asKafkaJS(stored[i]).String(); got != want {
			t.Errorf("KafkaJS consumed %s, franz-go read %s", got, want)
		}
	}

	// Its commits are what kadm fetches: every partition's end.
	wantCommitted(t, b, group, topic, next)
}
