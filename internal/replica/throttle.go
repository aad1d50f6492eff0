package replica

import (
	"slices"
	"time"

	"github.com/nagare-dev/nagare/internal/config"
)

// throttleRecheck is how long a throttled partition sits out of fetches once the follower
// replication quota is exceeded before the quota is asked again: short against the quota's
// one-second samples, long enough that an idle fetcher does not spin.
const throttleRecheck = 100 * time.Millisecond

// throttled is Kafka's follower-side shouldThrottle: the topic's
// follower.replication.throttled.replicas lists this broker's replica of the partition and
// this broker is not in its ISR (a reassignment's new replica catching up). A replica in
// sync is never held back.
func (f *fetcher) throttled(fp followed) bool {
	if f.cfg.FollowerQuota == nil {
		return false
	}
	t, ok := f.cfg.Metadata.Image().TopicByID(fp.topicID)
	if !ok || !config.ReplicaThrottled(t.Configs, config.FollowerThrottledReplicas, fp.part.Index(), f.cfg.NodeID) {
		return false
	}
	a, ok := t.Partition(fp.part.Index())
	return ok && !slices.Contains(a.ISR, f.cfg.NodeID)
}
