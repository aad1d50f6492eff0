package broker

import (
	"context"
	"time"

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

// expireIdleQuotas drops the quota usage of clients and IPs idle for longer than
// quota.DefaultIdleExpiry, so random client ids cannot grow the broker without bound.
func (b *Broker) expireIdleQuotas(ctx context.Context) {
	defer b.wg.Done()
	t := time.NewTicker(quotaExpiryInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n := b.quotas.ExpireIdle(); n > 0 {
				b.logger.Debug("quota usage of idle clients dropped", "entries", n)
			}
		}
	}
}

// Quotas is the broker's quota manager: per-client accounting for metrics and tools.
func (b *Broker) Quotas() *quota.Manager { return b.quotas }
