package broker_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func createTopic(t *testing.T, adm *kadm.Client, topic string, partitions int32, configs map[string]*string) {
	t.Helper()
	resp, err := adm.CreateTopic(testContext(t), partitions, 1, configs, topic)
	if err != nil || resp.Err != nil {
		t.Fatalf("create topic %s: %v %v", topic, err, resp.Err)
	}
}

// consumeN reads n records from the start of topic.
func consumeN(t *testing.T, b *brokertest.Broker, topic string, n int) []*kgo.Record {
	t.Helper()
	cl := b.Client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	ctx := testContext(t)
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", len(out), n, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		out = append(out, fs.Records()...)
	}
	return out
}

func TestRoundTripEveryCodec(t *testing.T) {
	b := brokertest.Start(t)
	adm := b.Admin()
	codecs := map[string]kgo.CompressionCodec{
		"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
		"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
	}
	for name, codec := range codecs {
		t.Run(name, func(t *testing.T) {
			topic := "codec-" + name
			createTopic(t, adm, topic, 3, nil)
			prod := b.Client(kgo.ProducerBatchCompression(codec), kgo.DefaultProduceTopic(topic))
			var want []*kgo.Record
			for i := 0; i < 300; i++ {
				r := &kgo.Record{Key: []byte(fmt.Sprintf("k%d", i%7)), Value: bytes.Repeat([]byte{byte(i)}, i%50+1),
					Headers: []kgo.RecordHeader{{Key: "h", Value: []byte(name)}}}
				if i%10 == 0 {
					r.Key = nil // null key
				}
				if i%15 == 0 {
					r.Value = nil // null value (a tombstone)
				}
				want = append(want, r)
			}
			if err := prod.ProduceSync(testContext(t), want...).FirstErr(); err != nil {
				t.Fatalf("produce: %v", err)
			}
			got := consumeN(t, b, topic, len(want))
			byValue := map[string]int{}
			for _, r := range got {
				if len(r.Headers) != 1 || string(r.Headers[0].Value) != name {
					t.Fatalf("headers lost: %+v", r.Headers)
				}
				byValue[fmt.Sprintf("%q/%q/%v", r.Key, r.Value, r.Value == nil)]++
			}
			for _, r := range want {
				k := fmt.Sprintf("%q/%q/%v", r.Key, r.Value, r.Value == nil)
				if byValue[k] == 0 {
					t.Fatalf("record %s not consumed", k)
				}
				byValue[k]--
			}
		})
	}
}

func TestLargeRecordsAndLimits(t *testing.T) {
	b := brokertest.Start(t)
	adm := b.Admin()
	createTopic(t, adm, "big", 1, map[string]*string{"max.message.bytes": kadm.StringPtr("300000")})
	prod := b.Client(kgo.DefaultProduceTopic("big"), kgo.ProducerBatchMaxBytes(1<<20), kgo.ProducerBatchCompression(kgo.NoCompression()))
	ok := &kgo.Record{Value: bytes.Repeat([]byte("x"), 290000)}
	if err := prod.ProduceSync(testContext(t), ok).FirstErr(); err != nil {
		t.Fatalf("record under max.message.bytes: %v", err)
	}
	tooBig := &kgo.Record{Value: bytes.Repeat([]byte("y"), 310000)}
	if err := prod.ProduceSync(testContext(t), tooBig).FirstErr(); !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("record over max.message.bytes: got %v, want MESSAGE_TOO_LARGE", err)
	}
	if got := consumeN(t, b, "big", 1); len(got[0].Value) != 290000 {
		t.Fatalf("consumed %d bytes", len(got[0].Value))
	}
}

func TestManyPartitionsAndRestart(t *testing.T) {
	b := brokertest.Start(t)
	createTopic(t, b.Admin(), "wide", 64, nil)
	prod := b.Client(kgo.DefaultProduceTopic("wide"), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	var recs []*kgo.Record
	for i := 0; i < 640; i++ {
		recs = append(recs, &kgo.Record{Value: []byte(fmt.Sprint(i))})
	}
	if err := prod.ProduceSync(testContext(t), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	b.Restart()
	got := consumeN(t, b, "wide", 640)
	parts := map[int32]int{}
	for _, r := range got {
		parts[r.Partition]++
	}
	if len(parts) != 64 {
		t.Fatalf("records spread over %d partitions after restart, want 64", len(parts))
	}
	offsets, err := b.Admin().ListEndOffsets(testContext(t), "wide")
	if err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	offsets.Each(func(o kadm.ListedOffset) { total += o.Offset })
	if total != 640 {
		t.Fatalf("end offsets sum to %d after restart", total)
	}
}

func TestLongPollWakesOnAppend(t *testing.T) {
	b := brokertest.Start(t)
	createTopic(t, b.Admin(), "poll", 1, nil)
	cons := b.Client(kgo.ConsumeTopics("poll"), kgo.FetchMaxWait(10*time.Second))
	ctx := testContext(t)
	got := make(chan time.Time, 1)
	go func() {
		fs := cons.PollFetches(ctx)
		if len(fs.Records()) > 0 {
			got <- time.Now()
		}
	}()
	time.Sleep(500 * time.Millisecond) // let the fetch reach the broker and wait
	sent := time.Now()
	if err := b.Client().ProduceSync(ctx, &kgo.Record{Topic: "poll", Value: []byte("wake")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	select {
	case at := <-got:
		if d := at.Sub(sent); d > 3*time.Second {
			t.Fatalf("long poll answered %v after the append; max wait was 10s", d)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("long poll was not woken by the append")
	}
}

func TestListOffsetsAndAutoCreate(t *testing.T) {
	b := brokertest.Start(t)
	cl := b.Client(kgo.AllowAutoTopicCreation())
	ctx := testContext(t)
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	for i := 0; i < 10; i++ {
		r := &kgo.Record{Topic: "auto", Value: []byte("v"), Timestamp: base.Add(time.Duration(i) * time.Minute)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce to auto-created topic: %v", err)
		}
	}
	adm := kadm.NewClient(cl)
	start, _ := adm.ListStartOffsets(ctx, "auto")
	end, _ := adm.ListEndOffsets(ctx, "auto")
	byTime, _ := adm.ListOffsetsAfterMilli(ctx, base.Add(5*time.Minute).UnixMilli(), "auto")
	var s, e, bt int64
	start.Each(func(o kadm.ListedOffset) { s += o.Offset })
	end.Each(func(o kadm.ListedOffset) { e += o.Offset })
	byTime.Each(func(o kadm.ListedOffset) {
		if o.Offset >= 0 {
			bt += o.Offset
		}
	})
	if s != 0 || e != 10 {
		t.Fatalf("start %d end %d", s, e)
	}
	// One partition per auto-created topic by default (num.partitions=1): offset 5.
	if bt != 5 {
		t.Fatalf("offset for timestamp: %d, want 5", bt)
	}
}

func TestProduceToInternalTopicRefused(t *testing.T) {
	b := brokertest.Start(t)
	cl := b.Client(kgo.ConsumerGroup("g"), kgo.ConsumeTopics("x"), kgo.AllowAutoTopicCreation())
	// Joining a group makes the broker create __consumer_offsets.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	cl.PollFetches(ctx)
	cancel()
	err := b.Client().ProduceSync(testContext(t), &kgo.Record{Topic: "__consumer_offsets", Value: []byte("junk")}).FirstErr()
	if !errors.Is(err, kerr.InvalidTopicException) {
		t.Fatalf("produce to __consumer_offsets: %v, want INVALID_TOPIC_EXCEPTION", err)
	}
}

// TestCompactedTopicKeepsLatestPerKey runs the log cleaner through the broker: a
// compacted topic with small segments ends with the latest value of every key, offsets
// never renumbered, and a consumer reading from the start still gets every key.
func TestCompactedTopicKeepsLatestPerKey(t *testing.T) {
	b := brokertest.Start(t, brokertest.WithProperties(map[string]string{"log.cleaner.backoff.ms": "50"}))
	createTopic(t, b.Admin(), "compact", 1, map[string]*string{
		"cleanup.policy": kadm.StringPtr("compact"), "segment.bytes": kadm.StringPtr("4096"),
		"min.cleanable.dirty.ratio": kadm.StringPtr("0.01"),
	})
	prod := b.Client(kgo.DefaultProduceTopic("compact"), kgo.ProducerLinger(0), kgo.ProducerBatchCompression(kgo.NoCompression()))
	const keys, rounds = 20, 30
	pad := strings.Repeat("p", 100) // big enough that most rounds land in sealed segments
	for r := 0; r < rounds; r++ {
		var recs []*kgo.Record
		for k := 0; k < keys; k++ {
			recs = append(recs, &kgo.Record{Key: []byte(fmt.Sprintf("key-%02d", k)), Value: []byte(fmt.Sprintf("v%d-%s", r, pad))})
		}
		if err := prod.ProduceSync(testContext(t), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		end, _ := b.Admin().ListEndOffsets(testContext(t), "compact")
		got := consumeUntil(t, b, "compact", end)
		latest := map[string]string{}
		var last int64 = -1
		for _, r := range got {
			if r.Offset <= last {
				t.Fatalf("offsets went backwards: %d after %d", r.Offset, last)
			}
			last = r.Offset
			latest[string(r.Key)] = string(r.Value)
		}
		if len(latest) != keys {
			t.Fatalf("%d keys visible, want %d", len(latest), keys)
		}
		for k, v := range latest {
			if v != fmt.Sprintf("v%d-%s", rounds-1, pad) {
				t.Fatalf("key %s has %s, want the latest", k, v)
			}
		}
		if len(got) < keys*rounds/2 {
			return // the cleaner removed superseded records
		}
		if time.Now().After(deadline) {
			entries, _ := os.ReadDir(filepath.Join(b.DataDir(), "compact-0"))
			for _, e := range entries {
				info, _ := e.Info()
				t.Logf("%s %d", e.Name(), info.Size())
			}
			t.Fatalf("still %d records of %d written after 20s: the cleaner did not run", len(got), keys*rounds)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// consumeUntil reads a topic from the start up to the given end offsets.
func consumeUntil(t *testing.T, b *brokertest.Broker, topic string, end kadm.ListedOffsets) []*kgo.Record {
	t.Helper()
	want := int64(0)
	end.Each(func(o kadm.ListedOffset) { want += o.Offset })
	cl := b.Client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []*kgo.Record
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %v", topic, ctx.Err())
		}
		out = append(out, fs.Records()...)
		if n := len(out); n > 0 && out[n-1].Offset+1 >= want {
			return out
		}
	}
}
