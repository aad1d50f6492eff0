package interop

// Tests with kafka-python, a pure-Python client with its own protocol code (and its
// own guess of the broker's version from ApiVersions).

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// systemPython is Debian's interpreter, which has python3-kafka; the python3 first on
// PATH may be another (pyenv) without it.
const systemPython = "/usr/bin/python3"

// requireKafkaPython skips unless the system python can import kafka.
func requireKafkaPython(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, systemPython, "-c", "import kafka").CombinedOutput(); err != nil {
		t.Skipf("%s cannot import kafka (%v: %s); scripts/install-test-deps.sh (make test-deps) installs python3-kafka",
			systemPython, err, out)
	}
}

// pythonResult is what testdata/kafka_python.py prints.
type pythonResult struct {
	APIVersion []int    `json:"api_version"`
	Topics     []string `json:"topics"`
	Produced   []struct {
		Label     string `json:"label"`
		Partition int32  `json:"partition"`
		Offset    int64  `json:"offset"`
	} `json:"produced"`
	Consumed  []pythonRecord   `json:"consumed"`
	Beginning map[string]int64 `json:"beginning"`
	End       map[string]int64 `json:"end"`
	ForTime   struct {
		Timestamp int64  `json:"timestamp"`
		Offset    *int64 `json:"offset"`
	} `json:"for_time"`
	Seeked *struct {
		Offset int64  `json:"offset"`
		Value  string `json:"value"`
	} `json:"seeked"`
}

type pythonRecord struct {
	Partition int32       `json:"partition"`
	Offset    int64       `json:"offset"`
	Key       *string     `json:"key"`
	Value     *string     `json:"value"`
	Headers   [][2]string `json:"headers"`
	Timestamp int64       `json:"timestamp"`
}

func TestKafkaPython(t *testing.T) {
	requireKafkaPython(t)
	b := brokertest.Start(t)
	const topic, n = "py", 20
	out := runClient(t, "", systemPython, "testdata/kafka_python.py", b.Addr(), topic, fmt.Sprint(n))
	var res pythonResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("script output is not the expected JSON: %v\n%s", err, out)
	}
	t.Logf("kafka-python took the broker for Kafka %v", res.APIVersion)

	// CreateTopics then Metadata, through KafkaAdminClient.
	if !slices.Contains(res.Topics, topic) {
		t.Errorf("list_topics %v lacks %s", res.Topics, topic)
	}

	// What each run should have written, where.
	type spot struct {
		partition int32
		offset    int64
	}
	where := func(label string, i int) spot {
		switch label {
		case "plain":
			return spot{0, int64(i)}
		case "gzip":
			return spot{1, int64(i)}
		default: // acks1, after plain on partition 0
			return spot{0, int64(n + i)}
		}
	}
	if len(res.Produced) != 3*n {
		t.Fatalf("%d produce acknowledgements, want %d", len(res.Produced), 3*n)
	}
	for i, p := range res.Produced {
		if want := where(p.Label, i%n); (spot{p.Partition, p.Offset}) != want {
			t.Errorf("%s record %d acknowledged at %d/%d, want %d/%d", p.Label, i%n, p.Partition, p.Offset, want.partition, want.offset)
		}
	}

	// Consumed without a group from auto_offset_reset=earliest: exactly what was sent.
	var want []pythonRecord
	for _, label := range []string{"plain", "acks1", "gzip"} { // partition 0, then 1
		for i := range n {
			s := where(label, i)
			key, value := fmt.Sprintf("k%d", i), fmt.Sprintf("%s-%d", label, i)
			want = append(want, pythonRecord{Partition: s.partition, Offset: s.offset, Key: &key, Value: &value,
				Headers: [][2]string{{"src", label}, {"i", fmt.Sprint(i)}}})
		}
	}
	if len(res.Consumed) != len(want) {
		t.Fatalf("consumed %d records, want %d", len(res.Consumed), len(want))
	}
	now := time.Now().UnixMilli()
	for i, got := range res.Consumed {
		if g, w := got.String(), want[i].String(); g != w {
			t.Errorf("consumed %s, want %s", g, w)
		}
		if got.Timestamp < now-60_000 || got.Timestamp > now+1000 {
			t.Errorf("consumed %d/%d: timestamp %d is not recent", got.Partition, got.Offset, got.Timestamp)
		}
	}

	// ListOffsets: earliest, latest and by time.
	if res.Beginning["0"] != 0 || res.Beginning["1"] != 0 {
		t.Errorf("beginning_offsets %v, want 0 and 0", res.Beginning)
	}
	if res.End["0"] != 2*n || res.End["1"] != n {
		t.Errorf("end_offsets %v, want 0:%d 1:%d", res.End, 2*n, n)
	}
	if res.ForTime.Offset == nil || *res.ForTime.Offset != n {
		t.Errorf("offsets_for_times(%d) = %v, want %d (the first acks=1 record)", res.ForTime.Timestamp, deref(res.ForTime.Offset), n)
	}
	// A fetch from an offset the client seeked to.
	if res.Seeked == nil || res.Seeked.Offset != 5 || res.Seeked.Value != "gzip-5" {
		t.Errorf("after seek(1, 5): %+v, want offset 5 gzip-5", res.Seeked)
	}

	// kafka-python really compressed the gzip run: the stored batches say gzip.
	for _, r := range readAll(t, b, topic) {
		codec, wantCodec := r.Attrs.CompressionType(), uint8(0)
		if r.Partition == 1 {
			wantCodec = codecIDs["gzip"]
		}
		if codec != wantCodec {
			t.Errorf("record %d/%d stored with codec %d, want %d", r.Partition, r.Offset, codec, wantCodec)
		}
	}
}

// String shows a record without its timestamp, nulls as <null>.
func (r pythonRecord) String() string {
	return fmt.Sprintf("%d/%d key=%v value=%v headers=%q", r.Partition, r.Offset, deref(r.Key), deref(r.Value), r.Headers)
}

func deref[T any](p *T) any {
	if p == nil {
		return "<null>"
	}
	return *p
}
