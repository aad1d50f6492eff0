package broker

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nagare-dev/nagare/internal/api"
	"github.com/nagare-dev/nagare/internal/metadata"
	"github.com/nagare-dev/nagare/internal/quota"
)

// openQuotas builds the quota manager from the broker config and the client quotas in
// the metadata; followMetadata keeps both in force as they change.
func (b *Broker) openQuotas() {
	b.quotas = quota.New(quota.Config{
		Windows: b.conf.Int("quota.window.num"),
		Window:  time.Duration(b.conf.Int("quota.window.size.seconds")) * time.Second,
	})
	b.applyQuotas(b.meta.Image())
}

// applyQuotas sets the static defaults (nagare.quota.default.*, dynamic cluster-wide) and
// the client quotas of img. Both are compared before replacing, so an unrelated metadata
// change costs no re-resolution.
func (b *Broker) applyQuotas(img *metadata.Image) {
	b.quotas.SetDefaults(map[quota.Type]float64{
		quota.RequestPercentage: b.conf.Double("nagare.quota.default.request.percentage"),
		quota.ProducerByteRate:  float64(b.conf.Long("nagare.quota.default.producer.byte.rate")),
		quota.ConsumerByteRate:  float64(b.conf.Long("nagare.quota.default.consumer.byte.rate")),
	})
	b.quotas.SetQuotas(api.ClientQuotas(img))
	b.quotas.SetIPQuotas(api.IPQuotas(img))
}

// quotaExpiryInterval is how often idle clients' quota usage is dropped; a tenth of
// Kafka's one-hour idle time, so nothing idle lingers much past it.
const quotaExpiryInterval = 6 * time.Minute

// maintainQuotas keeps the quota manager honest in the background: once a quota window
// it recalibrates the per-request overhead from the process's CPU time (so broker time
// includes the socket and runtime work outside the handlers, as Kafka's request quota
// includes its network threads), and every quotaExpiryInterval it drops the usage of
// clients and IPs idle for longer than quota.DefaultIdleExpiry, so random client ids
// cannot grow the broker without bound.
func (b *Broker) maintainQuotas(ctx context.Context) {
	defer b.wg.Done()
	calibrate := time.NewTicker(time.Duration(b.conf.Int("quota.window.size.seconds")) * time.Second)
	defer calibrate.Stop()
	expire := time.NewTicker(quotaExpiryInterval)
	defer expire.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-calibrate.C:
			if cpu, err := processCPU(); err == nil {
				b.quotas.Calibrate(cpu)
			}
		case <-expire.C:
			if n := b.quotas.ExpireIdle(); n > 0 {
				b.logger.Debug("quota usage of idle clients dropped", "entries", n)
			}
		}
	}
}

// processCPU is the CPU time (user and system) this process has used so far.
func processCPU() (time.Duration, error) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// Quotas is the broker's quota manager: per-client accounting for metrics and tools.
func (b *Broker) Quotas() *quota.Manager { return b.quotas }
