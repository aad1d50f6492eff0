package replica

import (
	"context"
	"slices"
	"time"

	"github.com/nagare-dev/nagare/internal/metadata"
	"github.com/nagare-dev/nagare/internal/partition"
)

// keepISR shrinks and expands the ISRs of the partitions this broker leads (Kafka's
// isr-expiration task, every replica.lag.time.max.ms / 2, plus expansion when a
// follower's fetch shows it caught up), by proposing ChangePartition records.
func (m *Manager) keepISR(ctx context.Context) {
	defer close(m.isrDone)
	tick := time.NewTicker(max(m.cfg.Settings.LagTimeMax/2, 10*time.Millisecond))
	defer tick.Stop()
	proposed := map[*partition.Partition]int32{} // partition epoch each last change followed
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-m.cfg.Partitions.ISRChecks():
		}
		m.checkISRs(ctx, time.Now(), proposed)
	}
}

// checkISRs proposes the ISR changes every led partition wants now. A refusal (a stale
// partition epoch: the leader or ISR moved meanwhile) is left for the next image.
// proposed remembers the partition epoch each accepted change followed, so the same
// change is not proposed again before the registry has applied it.
func (m *Manager) checkISRs(ctx context.Context, now time.Time, proposed map[*partition.Partition]int32) {
	all := m.cfg.Partitions.All()
	for p := range proposed {
		if !slices.Contains(all, p) {
			delete(proposed, p)
		}
	}
	for _, p := range all {
		isr, leaderEpoch, partitionEpoch, ok := p.ISRChange(now, m.cfg.Settings.LagTimeMax)
		if !ok {
			continue
		}
		if isr = m.eligible(p.ISR(), isr); slices.Equal(isr, p.ISR()) {
			continue // the only change was to add fenced brokers
		}
		if last, seen := proposed[p]; seen && last == partitionEpoch {
			continue // accepted already; the registry has not applied it yet
		}
		if joins(p.ISR(), isr) && !p.ExpandingISR(isr) {
			continue // a racing append moved the high watermark past a joiner: next fetch
		}
		rec := metadata.ChangePartition{TopicID: p.TopicID(), Partition: p.Index(), Leader: m.cfg.NodeID,
			LeaderEpoch: leaderEpoch, ISR: isr, PartitionEpoch: partitionEpoch + 1}
		was := p.ISR()
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := m.cfg.Metadata.Propose(pctx, rec)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				m.cfg.Logger.Info("ISR change not accepted", "topic", p.Topic(), "partition", p.Index(), "isr", isr, "err", err)
			}
			continue
		}
		proposed[p] = partitionEpoch
		m.cfg.Logger.Info("ISR changed", "topic", p.Topic(), "partition", p.Index(), "from", was, "to", isr)
	}
}

// eligible drops from a proposed ISR the brokers it would add that are fenced (dead or
// stopping) or unknown: the controller refuses them (KIP-841), and an ISR naming a dead
// replica would hold acks=all produces.
func (m *Manager) eligible(current, proposed []int32) []int32 {
	img := m.cfg.Metadata.Image()
	return slices.DeleteFunc(slices.Clone(proposed), func(id int32) bool {
		if slices.Contains(current, id) {
			return false
		}
		b, ok := img.Broker(id)
		return !ok || b.Fenced
	})
}

// joins reports whether proposed adds a member to current.
func joins(current, proposed []int32) bool {
	return slices.ContainsFunc(proposed, func(id int32) bool { return !slices.Contains(current, id) })
}
