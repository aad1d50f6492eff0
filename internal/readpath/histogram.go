package readpath

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// HistogramBuckets is the number of buckets of a Histogram.
const HistogramBuckets = 64

// Histogram counts durations by log2 of their microseconds, the view of disk latency the
// seed got from SystemTap: bucket 0 holds durations under 1µs, bucket i (i ≥ 1) holds
// durations in [2^(i-1), 2^i) µs. It is a fixed array of atomic counters so that the hot
// path records without locks or allocation; the zero value is ready to use. Metrics
// exporters read it with Snapshot.
type Histogram struct {
	buckets [HistogramBuckets]atomic.Uint64
	sum     atomic.Int64 // nanoseconds of every observation, for exporters' _sum
}

// Observe records one duration.
func (h *Histogram) Observe(d time.Duration) {
	h.buckets[histogramBucket(d)].Add(1)
	h.sum.Add(int64(max(d, 0)))
}

// Sum is the total of the durations observed (negative ones count as zero).
func (h *Histogram) Sum() time.Duration { return time.Duration(h.sum.Load()) }

// Snapshot returns the current counts. Buckets are read one by one, so a snapshot taken
// while others observe may be off by the observations made during the copy.
func (h *Histogram) Snapshot() [HistogramBuckets]uint64 {
	var counts [HistogramBuckets]uint64
	for i := range h.buckets {
		counts[i] = h.buckets[i].Load()
	}
	return counts
}

// HistogramUpperBound is the exclusive upper bound of bucket i, for exporters that need
// cumulative "le" buckets. Bounds past the largest time.Duration (buckets 54 and up,
// which no duration reaches) are capped at it.
func HistogramUpperBound(i int) time.Duration {
	if i >= 54 {
		return math.MaxInt64
	}
	return time.Duration(uint64(1)<<uint(i)) * time.Microsecond
}

func histogramBucket(d time.Duration) int {
	us := d.Microseconds()
	if us <= 0 {
		return 0
	}
	return bits.Len64(uint64(us)) // at most 63, since us < 2^63
}
