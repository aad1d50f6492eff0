package interop

// Tests with kcat, the command-line client built on librdkafka (the C client most
// non-JVM clients wrap: confluent-kafka-python, -go, -dotnet, node-rdkafka).

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// kcatPath finds kcat (Debian's package installs it as /usr/bin/kcat) or skips.
func kcatPath(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/kcat"); err == nil {
		return "/usr/bin/kcat"
	}
	for _, name := range []string{"kcat", "kafkacat"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("kcat is not installed; scripts/install-test-deps.sh (make test-deps) installs it")
	return ""
}

// kcat runs kcat against b and returns its stdout.
func kcat(t *testing.T, b *brokertest.Broker, stdin string, args ...string) string {
	t.Helper()
	return runClient(t, stdin, kcatPath(t), append([]string{"-b", b.Addr()}, args...)...)
}

// kcatMetadata is what `kcat -L -J` prints.
type kcatMetadata struct {
	OriginatingBroker kcatBroker   `json:"originating_broker"`
	ControllerID      int32        `json:"controllerid"`
	Brokers           []kcatBroker `json:"brokers"`
	Topics            []struct {
		Topic      string `json:"topic"`
		Error      string `json:"error"`
		Partitions []struct {
			Partition int32        `json:"partition"`
			Leader    int32        `json:"leader"`
			Error     string       `json:"error"`
			Replicas  []kcatBroker `json:"replicas"`
			ISRs      []kcatBroker `json:"isrs"`
		} `json:"partitions"`
	} `json:"topics"`
}

type kcatBroker struct {
	ID   int32  `json:"id"`
	Name string `json:"name"`
}

func TestKcatMetadata(t *testing.T) {
	kcatPath(t)
	b := brokertest.Start(t)
	createTopic(t, b, "alpha", 3)
	createTopic(t, b, "beta", 1)
	meta, err := b.Admin().Metadata(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(meta.Brokers) != 1 {
		t.Fatalf("franz-go sees %d brokers", len(meta.Brokers))
	}
	node := meta.Brokers[0].NodeID

	var md kcatMetadata
	out := kcat(t, b, "", "-L", "-J")
	if err := json.Unmarshal([]byte(out), &md); err != nil {
		t.Fatalf("kcat -L -J output is not JSON: %v\n%s", err, out)
	}
	if want := (kcatBroker{ID: node, Name: b.Addr()}); len(md.Brokers) != 1 || md.Brokers[0] != want {
		t.Errorf("brokers %+v, want [%+v]", md.Brokers, want)
	}
	if want := fmt.Sprintf("%s/%d", b.Addr(), node); md.OriginatingBroker.ID != node || md.OriginatingBroker.Name != want {
		t.Errorf("originating broker %+v, want id %d name %s", md.OriginatingBroker, node, want)
	}
	if md.ControllerID != node {
		t.Errorf("controller %d, want %d", md.ControllerID, node)
	}
	partitions := map[string]int{}
	for _, topic := range md.Topics {
		if topic.Error != "" {
			t.Errorf("topic %s: error %q", topic.Topic, topic.Error)
		}
		for i, p := range topic.Partitions {
			one := []kcatBroker{{ID: node}}
			if p.Partition != int32(i) || p.Leader != node || p.Error != "" ||
				!slices.Equal(p.Replicas, one) || !slices.Equal(p.ISRs, one) {
				t.Errorf("topic %s partition %d: %+v", topic.Topic, i, p)
			}
		}
		partitions[topic.Topic] = len(topic.Partitions)
	}
	if len(partitions) != 2 || partitions["alpha"] != 3 || partitions["beta"] != 1 {
		t.Errorf("topics and partition counts %v, want alpha:3 beta:1", partitions)
	}

	// One topic asked for by name.
	md = kcatMetadata{}
	out = kcat(t, b, "", "-L", "-J", "-t", "beta")
	if err := json.Unmarshal([]byte(out), &md); err != nil {
		t.Fatalf("kcat -L -J -t beta: %v\n%s", err, out)
	}
	if len(md.Topics) != 1 || md.Topics[0].Topic != "beta" || len(md.Topics[0].Partitions) != 1 {
		t.Errorf("metadata for beta: %s", out)
	}
}

func TestKcatKeysHeadersAndNulls(t *testing.T) {
	kcatPath(t)
	b := brokertest.Start(t)
	createTopic(t, b, "events", 1)
	// -K: splits key from value at the first ':'; -Z makes an empty key or value null.
	// The headers go on every record: a value, an empty value and a null value.
	in := "k0:hello world\nk1:value:with:colons\n:no key\nk3:\nk4:ünïcödé\n"
	kcat(t, b, in, "-P", "-t", "events", "-K:", "-Z", "-H", "trace=abc", "-H", "empty=", "-H", "flag")

	// Read back by kcat: partition, offset, key, value, headers, key and value sizes.
	out := kcat(t, b, "", "-C", "-t", "events", "-e", "-q", "-o", "beginning", "-Z", "-f", `%p|%o|%k|%s|%h|%K|%S\n`)
	const hdrs = "trace=abc,empty=,flag=NULL"
	want := strings.Join([]string{
		"0|0|k0|hello world|" + hdrs + "|2|11",
		"0|1|k1|value:with:colons|" + hdrs + "|2|17",
		"0|2|NULL|no key|" + hdrs + "|-1|6",
		"0|3|k3|NULL|" + hdrs + "|2|-1",
		"0|4|k4|ünïcödé|" + hdrs + "|2|11",
	}, "\n") + "\n"
	if out != want {
		t.Errorf("kcat consumed:\n%s\nwant:\n%s", out, want)
	}

	// Read back by franz-go: null stays null, empty stays empty.
	recs := readAll(t, b, "events")
	type rec struct {
		key, value *string
	}
	str := func(p []byte) *string {
		if p == nil {
			return nil
		}
		s := string(p)
		return &s
	}
	ptr := func(s string) *string { return &s }
	wantRecs := []rec{
		{ptr("k0"), ptr("hello world")}, {ptr("k1"), ptr("value:with:colons")}, {nil, ptr("no key")},
		{ptr("k3"), nil}, {ptr("k4"), ptr("ünïcödé")},
	}
	if len(recs) != len(wantRecs) {
		t.Fatalf("franz-go read %d records, want %d", len(recs), len(wantRecs))
	}
	show := func(p *string) string {
		if p == nil {
			return "<null>"
		}
		return strconv.Quote(*p)
	}
	for i, r := range recs {
		w := wantRecs[i]
		if show(str(r.Key)) != show(w.key) || show(str(r.Value)) != show(w.value) {
			t.Errorf("record %d: key %s value %s, want key %s value %s", i, show(str(r.Key)), show(str(r.Value)), show(w.key), show(w.value))
		}
		var hs []string
		for _, h := range r.Headers {
			hs = append(hs, h.Key+"="+show(str(h.Value)))
		}
		// An empty header value may decode as an empty or a nil slice; a null one is nil.
		got := strings.Join(hs, ",")
		if got != `trace="abc",empty="",flag=<null>` && got != `trace="abc",empty=<null>,flag=<null>` {
			t.Errorf("record %d headers %s", i, got)
		}
		if r.Attrs.TimestampType() != 0 || time.Since(r.Timestamp).Abs() > time.Minute {
			t.Errorf("record %d: timestamp %v type %d, want a recent CreateTime", i, r.Timestamp, r.Attrs.TimestampType())
		}
	}
}

// librdkafka's codec numbers, as Kafka's record batch attributes carry them.
var codecIDs = map[string]uint8{"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}

// compressionGaps are codecs librdkafka sends uncompressed to Nagare today: none. gzip
// and snappy needed Produce advertised from v0 (librdkafka#4956; rd_kafka_msgset_writer_
// select_MsgVersion), which Nagare does as Kafka 4.0 does (KAFKA-18659); lz4 needed
// FindCoordinator v0, on which librdkafka's LZ4 feature flag depends (rdkafka_feature.c),
// served since consumer groups.
var compressionGaps = map[string]*knownGap{}

func TestKcatCompression(t *testing.T) {
	kcatPath(t)
	b := brokertest.Start(t)
	versions := advertisedVersions(t, b)
	for _, codec := range []string{"gzip", "snappy", "lz4", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			topic := "z-" + codec
			createTopic(t, b, topic, 1)
			var lines []string
			for i := range 200 {
				lines = append(lines, fmt.Sprintf("%s record %03d %s", codec, i, strings.Repeat("compressible ", 8)))
			}
			in := strings.Join(lines, "\n") + "\n"
			// linger lets the 200 records share batches, so there is something to compress.
			kcat(t, b, in, "-P", "-t", topic, "-z", codec, "-X", "linger.ms=50", "-X", "acks=all")

			out := kcat(t, b, "", "-C", "-t", topic, "-e", "-q", "-o", "beginning", "-f", `%o %s\n`)
			var want strings.Builder
			for i, l := range lines {
				fmt.Fprintf(&want, "%d %s\n", i, l)
			}
			if out != want.String() {
				t.Fatalf("kcat read back:\n%s\nwant:\n%s", out, want.String())
			}
			recs := readAll(t, b, topic)
			codecs := map[uint8]int{}
			for i, r := range recs {
				if string(r.Value) != lines[i] {
					t.Fatalf("franz-go read offset %d: %q, want %q", r.Offset, r.Value, lines[i])
				}
				codecs[r.Attrs.CompressionType()]++
			}
			ok := len(codecs) == 1 && codecs[codecIDs[codec]] == len(recs)
			detail := fmt.Sprintf("kcat -z %s: stored batches by codec id %v, want all %d (%s); "+
				"broker advertises Produce %v, FindCoordinator %v",
				codec, codecs, codecIDs[codec], codec, versionsOrNone(versions, 0), versionsOrNone(versions, 10))
			expectGap(t, compressionGaps[codec], ok, detail)
		})
	}
}

func versionsOrNone(v map[int16][2]int16, key int16) string {
	if r, ok := v[key]; ok {
		return fmt.Sprintf("v%d-v%d", r[0], r[1])
	}
	return "not served"
}

func TestKcatOffsets(t *testing.T) {
	kcatPath(t)
	b := brokertest.Start(t)
	createTopic(t, b, "log", 1)
	kcat(t, b, "v0\nv1\nv2\nv3\nv4\n", "-P", "-t", "log")
	time.Sleep(20 * time.Millisecond)
	between := time.Now().UnixMilli()
	time.Sleep(20 * time.Millisecond)
	kcat(t, b, "v5\nv6\nv7\nv8\nv9\n", "-P", "-t", "log")

	consume := func(args ...string) string {
		t.Helper()
		out := kcat(t, b, "", append([]string{"-C", "-t", "log", "-e", "-q", "-f", `%o=%s,`}, args...)...)
		return strings.TrimSuffix(out, ",")
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"absolute offset", []string{"-o", "4", "-c", "3"}, "4=v4,5=v5,6=v6"},
		{"relative to the end", []string{"-o", "-3"}, "7=v7,8=v8,9=v9"},
		{"beginning with a count", []string{"-o", "beginning", "-c", "2"}, "0=v0,1=v1"},
		{"end", []string{"-o", "end"}, ""},
		{"from a timestamp", []string{"-o", fmt.Sprintf("s@%d", between), "-c", "2"}, "5=v5,6=v6"},
	}
	for _, c := range cases {
		if got := consume(c.args...); got != c.want {
			t.Errorf("%s (%s): got %q, want %q", c.name, strings.Join(c.args, " "), got, c.want)
		}
	}

	// Query mode: offsets for times (ListOffsets), -1 being the end of the log.
	query := func(ts int64) string {
		t.Helper()
		return strings.TrimSpace(kcat(t, b, "", "-Q", "-t", fmt.Sprintf("log:0:%d", ts)))
	}
	if got, want := query(between), "log [0] offset 5"; got != want {
		t.Errorf("kcat -Q at a timestamp: %q, want %q", got, want)
	}
	if got, want := query(-1), "log [0] offset 10"; got != want {
		t.Errorf("kcat -Q latest: %q, want %q", got, want)
	}
}

func TestKcatIdempotentProducer(t *testing.T) {
	kcatPath(t)
	b := brokertest.Start(t)
	createTopic(t, b, "idem", 3)
	const n = 300
	var in strings.Builder
	for i := range n {
		fmt.Fprintf(&in, "key-%d:value-%d\n", i%17, i)
	}
	// Idempotence makes librdkafka call InitProducerId and number its batches.
	kcat(t, b, in.String(), "-P", "-t", "idem", "-K:", "-X", "enable.idempotence=true", "-X", "acks=all", "-z", "zstd")

	recs := readAll(t, b, "idem")
	if len(recs) != n {
		t.Fatalf("read %d records, want %d", len(recs), n)
	}
	seen := map[string]bool{}
	partitionOfKey := map[string]int32{}
	for _, r := range recs {
		if seen[string(r.Value)] {
			t.Errorf("duplicate %s at %d/%d", r.Value, r.Partition, r.Offset)
		}
		seen[string(r.Value)] = true
		if r.ProducerID < 0 || r.ProducerEpoch < 0 {
			t.Errorf("record %d/%d has no producer id (%d, epoch %d)", r.Partition, r.Offset, r.ProducerID, r.ProducerEpoch)
		}
		if p, ok := partitionOfKey[string(r.Key)]; ok && p != r.Partition {
			t.Errorf("key %s in partitions %d and %d", r.Key, p, r.Partition)
		}
		partitionOfKey[string(r.Key)] = r.Partition
	}
	// Each key's values keep the order they were produced in.
	last := map[string]int{}
	for _, r := range recs {
		i, _ := strconv.Atoi(strings.TrimPrefix(string(r.Value), "value-"))
		if prev, ok := last[string(r.Key)]; ok && i <= prev {
			t.Errorf("key %s: value-%d after value-%d", r.Key, i, prev)
		}
		last[string(r.Key)] = i
	}
}
