package quota

import (
	"math"
	"time"
)

// rate is Kafka's org.apache.kafka.common.metrics.stats.Rate over a SampledStat: a ring
// of samples, each covering at most one window from the time its first value arrived.
// Times are durations on the Manager's monotonic clock.
type rate struct {
	samples []sample
	current int
}

type sample struct {
	start time.Duration // when the sample was (re)started; Kafka's lastWindowMs
	value float64
}

func newRate(windows int, now time.Duration) rate {
	r := rate{samples: make([]sample, 1, windows)}
	r.samples[0].start = now
	return r
}

// record adds value at now, rolling to a new sample when the current one has run a
// full window (Kafka's SampledStat.record: samples start when used, not on a grid).
func (r *rate) record(value float64, now time.Duration, windows int, window time.Duration) {
	s := &r.samples[r.current]
	if now-s.start >= window {
		r.current = (r.current + 1) % windows
		if r.current >= len(r.samples) {
			r.samples = append(r.samples, sample{})
		}
		s = &r.samples[r.current]
		*s = sample{start: now}
	}
	s.value += value
}

// measure returns the rate per second at now: the sum of the live samples over the span
// they cover, where the span is at least windows-1 full windows (Kafka's Rate.windowSize),
// so a new client is not judged on its first fraction of a second.
func (r *rate) measure(now time.Duration, windows int, window time.Duration) float64 {
	r.purge(now, windows, window)
	var total float64
	for _, s := range r.samples {
		total += s.value
	}
	return total / r.span(now, windows, window).Seconds()
}

// span is Kafka's Rate.windowSize: time since the oldest sample started, padded to at
// least windows-1 whole windows, and never under a millisecond.
func (r *rate) span(now time.Duration, windows int, window time.Duration) time.Duration {
	oldest := r.samples[0].start
	for _, s := range r.samples[1:] {
		oldest = min(oldest, s.start)
	}
	elapsed := now - oldest
	full := int(elapsed / window)
	if minFull := windows - 1; full < minFull {
		elapsed += time.Duration(minFull-full) * window
	}
	return max(elapsed, time.Millisecond)
}

// purge resets samples older than the whole measured period (Kafka's
// purgeObsoleteSamples): they no longer count.
func (r *rate) purge(now time.Duration, windows int, window time.Duration) {
	expire := time.Duration(windows) * window
	for i := range r.samples {
		if now-r.samples[i].start >= expire {
			r.samples[i] = sample{start: now}
		}
	}
}

// throttleTime is Kafka's QuotaUtils.throttleTime: how long the client must add no more
// for the measured rate (value) to fall to bound, over the span the rate was measured on.
func throttleTime(value, bound float64, span time.Duration) time.Duration {
	if bound <= 0 || value <= bound {
		return 0
	}
	ms := math.Round((value - bound) / bound * float64(span.Milliseconds()))
	return time.Duration(ms) * time.Millisecond
}
