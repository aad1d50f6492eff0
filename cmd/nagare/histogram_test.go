package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistogramBuckets(t *testing.T) {
	prev := -1
	for _, v := range []uint64{0, 1, 127, 128, 255, 256, 257, 511, 512, 1000, 1 << 20, 1<<40 - 1} {
		i := histBucket(v)
		if i < prev || i >= histBuckets {
			t.Fatalf("bucket(%d) = %d after %d (of %d)", v, i, prev, histBuckets)
		}
		prev = i
		hi := histBucketHighest(i)
		if hi < v || (i > 0 && histBucketHighest(i-1) >= v) {
			t.Errorf("value %d in bucket %d whose range ends at %d", v, i, hi)
		}
		if float64(hi-v) > float64(v)/histSubBuckets+1 {
			t.Errorf("bucket of %d is too wide: ends at %d", v, hi)
		}
	}
	if histBucket(1<<50) != histBuckets-1 {
		t.Errorf("huge values do not clamp to the last bucket")
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h latencyHistogram
	rng := rand.New(rand.NewPCG(1, 2))
	values := make([]time.Duration, 100_000)
	for i := range values {
		// Log-uniform between 10µs and 1s, like produce latencies.
		values[i] = time.Duration(10_000 * math.Exp2(rng.Float64()*16.6))
		h.record(values[i])
	}
	slices.Sort(values)
	for _, q := range []float64{0.5, 0.99, 0.999, 1} {
		exact := values[int(q*float64(len(values)))-1]
		got := h.quantile(q)
		if got < exact || float64(got-exact) > float64(exact)/100 {
			t.Errorf("quantile(%g) = %v, exact %v", q, got, exact)
		}
	}
	if h.maximum() != values[len(values)-1] || h.count() != uint64(len(values)) {
		t.Errorf("max %v count %d", h.maximum(), h.count())
	}
	var empty latencyHistogram
	if empty.quantile(0.5) != 0 || empty.mean() != 0 {
		t.Errorf("empty histogram is not zero")
	}
}
