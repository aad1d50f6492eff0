package quota

import (
	"math"
	"time"
)

// tokenBucket is Kafka's TokenBucket stat, which KIP-599 chose for controller mutations:
// a client may spend a burst of bound × (windows × window) at once, then earns bound
// tokens per second. Sampled rates (rate.go) would throttle a single CreateTopics of many
// partitions for as long as a steady stream of them; a bucket lets the burst through and
// throttles only what follows it. Times are durations on the Manager's monotonic clock.
type tokenBucket struct {
	tokens  float64
	last    time.Duration
	started bool
}

// refill adds the tokens earned since the last update, up to burst. A new bucket
// starts full, as Kafka's does.
func (b *tokenBucket) refill(bound, burst float64, now time.Duration) {
	if !b.started {
		b.tokens, b.last, b.started = burst, now, true
		return
	}
	if now > b.last {
		b.tokens = math.Min(burst, b.tokens+bound*(now-b.last).Seconds())
		b.last = now
	}
}

// record spends value tokens at now; the balance may go negative.
func (b *tokenBucket) record(value, bound, burst float64, now time.Duration) {
	b.refill(bound, burst, now)
	b.tokens -= value
}

// throttle is how long the client must wait for the balance to be back at zero: Kafka's
// ControllerMutationQuotaManager.throttleTime.
func (b *tokenBucket) throttle(bound float64) time.Duration {
	if b.tokens >= 0 || bound <= 0 {
		return 0
	}
	return time.Duration(math.Ceil(-b.tokens/bound*1000)) * time.Millisecond
}
