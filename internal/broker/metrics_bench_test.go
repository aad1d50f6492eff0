package broker_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// BenchmarkProduceMetrics measures produce throughput with per-request accounting on and
// off (nagare.metrics.enable), in the same run: each iteration of -count runs both, so
// drift in a shared machine's load favours neither. "sync" sends one record per request
// and waits for it (per-request cost dominates); "async" lets franz-go batch (throughput).
// docs/BENCHMARKS.md ("Issue 7") has the command and figures.
func BenchmarkProduceMetrics(b *testing.B) {
	for _, mode := range []string{"sync", "async"} {
		for _, on := range []bool{true, false} {
			b.Run(mode+"/metrics="+strconv.FormatBool(on), func(b *testing.B) {
				benchProduce(b, mode == "sync", on)
			})
		}
	}
}

func benchProduce(b *testing.B, sync_, metrics bool) {
	br := brokertest.Start(b, brokertest.WithProperties(map[string]string{
		"nagare.metrics.enable": strconv.FormatBool(metrics),
		// Per-client quotas would throttle the benchmark itself.
		"nagare.quota.default.request.percentage": "0",
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := br.Admin().CreateTopics(ctx, 3, 1, nil, "bench"); err != nil {
		b.Fatal(err)
	}
	cl := br.Client(kgo.DefaultProduceTopic("bench"), kgo.ProducerLinger(0), kgo.RequiredAcks(kgo.LeaderAck()),
		kgo.DisableIdempotentWrite(), kgo.ClientID("bench-producer"))
	value := make([]byte, 100)
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr(); err != nil { // warm: metadata, connection
		b.Fatal(err)
	}
	b.SetBytes(int64(len(value)))
	b.ReportAllocs()
	start := time.Now()
	var failed sync.Once
	for b.Loop() {
		if sync_ {
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr(); err != nil {
				b.Fatal(err)
			}
			continue
		}
		cl.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Do(func() { b.Error(err) })
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
}
