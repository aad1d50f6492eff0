package stats

import (
	"math/bits"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// histogramBuckets is the number of log2 buckets of a histogram: bucket 0 holds 0, bucket
// i ≥ 1 holds values in [2^(i-1), 2^i). 48 buckets reach 2^47 µs (4.4 years) or 128 TiB.
const histogramBuckets = 48

// histogram counts non-negative integer values (microseconds, bytes) by log2 bucket: one
// bits.Len64 and two atomic adds per observation, no lock, no allocation. The zero value
// is ready to use. It is the readpath histogram's shape, for any unit.
type histogram struct {
	buckets [histogramBuckets]atomic.Uint64
	sum     atomic.Uint64
}

func (h *histogram) observe(v int64) {
	v = max(v, 0)
	h.buckets[min(bits.Len64(uint64(v)), histogramBuckets-1)].Add(1)
	h.sum.Add(uint64(v))
}

// exported picks which log2 buckets become Prometheus "le" bounds: every second one
// from first to last (powers of 4), so a histogram is 14 series rather than 48.
type exported struct {
	first, last int     // bucket indexes; bucket i's upper bound is 2^i units
	scale       float64 // multiplies a bound in units into Prometheus' unit
}

var (
	// durationBuckets: 1µs to 67s, in seconds.
	durationBuckets = exported{first: 0, last: 26, scale: 1e-6}
	// sizeBuckets: 64 B to 1 GiB.
	sizeBuckets = exported{first: 6, last: 30, scale: 1}
)

// histogramSum is histograms added up at scrape time (an API's stripes).
type histogramSum struct {
	buckets [histogramBuckets]uint64
	sum     uint64
}

func (t *histogramSum) add(h *histogram) {
	for i := range h.buckets {
		t.buckets[i] += h.buckets[i].Load()
	}
	t.sum += h.sum.Load()
}

// metric converts the sum into a Prometheus constant histogram.
func (t *histogramSum) metric(desc *prometheus.Desc, e exported, labels ...string) prometheus.Metric {
	bounds := make(map[float64]uint64, (e.last-e.first)/2+1)
	var cumulative, total uint64
	next := e.first
	for i, n := range t.buckets {
		total += n
		if i <= e.last {
			// Bucket i holds values below 2^i, so it belongs under the bound 2^i.
			cumulative += n
		}
		if i == next && i <= e.last {
			bounds[float64(uint64(1)<<uint(i))*e.scale] = cumulative
			next += 2
		}
	}
	return prometheus.MustNewConstHistogram(desc, total, float64(t.sum)*e.scale, bounds, labels...)
}
