package controller

import (
	"context"

	"github.com/nagare-dev/nagare/internal/metadata"
)

// reassign runs one completion pass over the partitions being reassigned (KIP-455): a
// partition whose target replicas are all in the ISR gets its replicas cut to the target
// and, if its leader is being removed, a new leader from the target (metadata
// CompleteReassignment, Kafka's PartitionChangeBuilder). It runs after every election pass,
// so on every image change: an ISR expansion that takes in the last new replica triggers
// it. It reports whether every due completion was applied; a refused one (the partition
// changed meanwhile) is left to the next pass, which the new image triggers.
func (c *Controller) reassign(ctx context.Context) bool {
	c.electMu.Lock() // elections and completions compute from the same image, one at a time
	defer c.electMu.Unlock()
	state, active := c.liveness() // election.go
	if !active {
		return true
	}
	ok := true
	for _, t := range state.img.Topics() {
		for _, p := range t.Partitions {
			if !p.Reassigning() {
				continue
			}
			change, due := metadata.CompleteReassignment(p, state.electable)
			if !due {
				continue
			}
			change.TopicID = t.ID
			if err := c.propose(ctx, change); err != nil {
				ok = false
				c.logger.Debug("controller: reassignment completion refused", "topic", t.Name, "partition", p.Partition, "err", err)
				if errLost(err) {
					return false
				}
				continue
			}
			c.logger.Info("controller: reassignment completed", "topic", t.Name, "partition", p.Partition,
				"replicas", change.Replicas, "was", p.Replicas, "leader", change.Leader, "leader_epoch", change.LeaderEpoch)
		}
	}
	return ok
}
