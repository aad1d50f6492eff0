package log

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"math"
	"math/bits"
	"sync"
	"time"
)

// offsetMap is the cleaner's key -> last offset map, Kafka's SkimpyOffsetMap: keys are
// stored only as their 16-byte MD5 digest, so an entry costs 24 bytes whatever the key
// size, and the whole map is one allocation sized by log.cleaner.dedupe.buffer.size.
// Open addressing with linear probing; it accepts new keys up to offsetMapLoadFactor of
// its slots. Two keys with the same digest would be treated as one (probability ~2^-128
// per pair, as in Kafka).
type offsetMap struct {
	hashes  []byte  // md5.Size bytes per slot
	offsets []int64 // offset+1 per slot; 0 marks an empty slot
	size    int     // occupied slots
	limit   int     // most keys accepted: slots * offsetMapLoadFactor
	latest  int64   // largest offset mapped (Kafka's latestOffset); -1 when none
}

const (
	offsetMapEntrySize = md5.Size + 8
	// offsetMapLoadFactor is lower than Kafka's 0.9 (log.cleaner.io.buffer.load.factor)
	// because linear probing degrades faster than Kafka's rehash probing when full.
	offsetMapLoadFactor = 0.75
	offsetMapMinSlots   = 16
)

// newOffsetMap sizes a map to fit in bufferBytes.
func newOffsetMap(bufferBytes int64) *offsetMap {
	slots := max(bufferBytes/offsetMapEntrySize, offsetMapMinSlots)
	slots = min(slots, math.MaxInt32)
	return &offsetMap{
		hashes:  make([]byte, slots*md5.Size),
		offsets: make([]int64, slots),
		limit:   max(int(float64(slots)*offsetMapLoadFactor), 1),
		latest:  -1,
	}
}

func (m *offsetMap) clear() {
	clear(m.offsets)
	m.size = 0
	m.latest = -1
}

// slot finds the slot holding digest, or the empty slot where it would go.
func (m *offsetMap) slot(digest *[md5.Size]byte) (i int, found bool) {
	n := uint64(len(m.offsets))
	hi, _ := bits.Mul64(binary.LittleEndian.Uint64(digest[:8]), n)
	for i := int(hi); ; i = (i + 1) % int(n) {
		if m.offsets[i] == 0 {
			return i, false
		}
		if [md5.Size]byte(m.hashes[i*md5.Size:(i+1)*md5.Size]) == *digest {
			return i, true
		}
	}
}

// put maps key to offset (offsets arrive in increasing order). It returns false, mapping
// nothing, when key is new and the map is full.
func (m *offsetMap) put(key []byte, offset int64) bool {
	digest := md5.Sum(key)
	i, found := m.slot(&digest)
	if !found {
		if m.size >= m.limit {
			return false
		}
		copy(m.hashes[i*md5.Size:], digest[:])
		m.size++
	}
	m.offsets[i] = offset + 1
	m.latest = max(m.latest, offset)
	return true
}

// get returns the last offset mapped for key, or -1.
func (m *offsetMap) get(key []byte) int64 {
	digest := md5.Sum(key)
	i, found := m.slot(&digest)
	if !found {
		return -1
	}
	return m.offsets[i] - 1
}

// throttle is a token bucket over the cleaner's bytes read and written
// (log.cleaner.io.max.bytes.per.second), shared by the cleaner threads. At most 100 ms
// of unused rate is saved up, so the rate holds over any window longer than that.
type throttle struct {
	rate float64 // bytes per second; <= 0 or +Inf: unlimited

	mu     sync.Mutex
	tokens float64   // guarded by mu
	last   time.Time // guarded by mu
}

func newThrottle(bytesPerSecond float64) *throttle {
	return &throttle{rate: bytesPerSecond, last: time.Now()}
}

// wait takes n bytes' worth of tokens, sleeping while the bucket is in debt. It returns
// early with ctx's error when ctx ends.
func (t *throttle) wait(ctx context.Context, n int) error {
	if t == nil || t.rate <= 0 || math.IsInf(t.rate, 1) || n <= 0 {
		return ctx.Err()
	}
	t.mu.Lock()
	now := time.Now()
	t.tokens = min(t.tokens+now.Sub(t.last).Seconds()*t.rate, t.rate/10)
	t.last = now
	t.tokens -= float64(n)
	debt := -t.tokens
	t.mu.Unlock()
	if debt <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(time.Duration(debt / t.rate * float64(time.Second)))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
