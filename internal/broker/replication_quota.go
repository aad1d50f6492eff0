package broker

import (
	"time"

	"github.com/nagare-dev/nagare/internal/config"
	"github.com/nagare-dev/nagare/internal/quota"
)

// replicationQuota is one side of the replication quotas (KIP-73), judged against the
// broker config rateName (leader. or follower.replication.throttled.rate) as it is at each
// check, so IncrementalAlterConfigs on a BROKER resource changes it at once.
func replicationQuota(conf *config.Broker, rateName string) *quota.ReplicationQuota {
	window := time.Duration(conf.Int("replication.quota.window.size.seconds")) * time.Second
	return quota.NewReplicationQuota(func() float64 { return conf.ReplicationThrottle(rateName) },
		conf.Int("replication.quota.window.num"), window)
}
