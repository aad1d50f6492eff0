package main

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Latency histogram layout, in the manner of HdrHistogram: values (in
// nanoseconds) below 2^(histSubBits+1) have a bucket each; above that, every
// power-of-two range is cut into 2^histSubBits equal buckets. A value is thus
// known to within 1/128 of itself (under 0.8%), in a fixed 34 KiB array.
const (
	histSubBits    = 7
	histSubBuckets = 1 << histSubBits
	histMaxBits    = 40 // values clamp at 2^40 ns, about 18 minutes
	histBuckets    = (histMaxBits-histSubBits)*histSubBuckets + histSubBuckets
)

// latencyHistogram records durations from any goroutine without locks:
// franz-go runs produce promises on its own goroutines. The zero value is
// ready to use.
type latencyHistogram struct {
	counts [histBuckets]atomic.Uint64
	total  atomic.Uint64 // values recorded
	sum    atomic.Uint64 // nanoseconds, for the mean
	max    atomic.Uint64 // nanoseconds, exact
}

// histBucket returns the bucket of v nanoseconds.
func histBucket(v uint64) int {
	v = min(v, 1<<histMaxBits-1)
	shift := max(0, bits.Len64(v)-(histSubBits+1))
	return shift*histSubBuckets + int(v>>shift)
}

// histBucketHighest returns the largest value that falls in bucket i.
func histBucketHighest(i int) uint64 {
	shift := 0
	if i >= 2*histSubBuckets {
		shift = i/histSubBuckets - 1
	}
	top := uint64(i - shift*histSubBuckets)
	return (top+1)<<shift - 1
}

// record adds one duration; negative durations count as zero.
func (h *latencyHistogram) record(d time.Duration) {
	v := uint64(max(d, 0))
	h.counts[histBucket(v)].Add(1)
	h.total.Add(1)
	h.sum.Add(v)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// quantile returns the value at quantile q (0 < q <= 1): the highest value
// of the bucket holding the q*count-th smallest value, capped at the exact
// maximum. It is 0 for an empty histogram.
func (h *latencyHistogram) quantile(q float64) time.Duration {
	total := h.total.Load()
	if total == 0 {
		return 0
	}
	target := max(uint64(math.Ceil(q*float64(total))), 1)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= target {
			return time.Duration(min(histBucketHighest(i), h.max.Load()))
		}
	}
	return time.Duration(h.max.Load())
}

func (h *latencyHistogram) count() uint64 { return h.total.Load() }

func (h *latencyHistogram) mean() time.Duration {
	total := h.total.Load()
	if total == 0 {
		return 0
	}
	return time.Duration(h.sum.Load() / total)
}

func (h *latencyHistogram) maximum() time.Duration { return time.Duration(h.max.Load()) }
