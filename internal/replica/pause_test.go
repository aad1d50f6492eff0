package replica

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestPauseFor: a leader that has not applied the metadata the follower acts on (not
// leader yet, an unknown epoch or topic) is retried after leaderCatchUp, any other
// failure after replica.fetch.backoff.ms.
func TestPauseFor(t *testing.T) {
	f := &fetcher{cfg: Config{Settings: Settings{Backoff: time.Second}}}
	for _, c := range []struct {
		err  error
		want time.Duration
	}{
		{kerr.NotLeaderForPartition, leaderCatchUp},
		{kerr.UnknownLeaderEpoch, leaderCatchUp},
		{kerr.UnknownTopicID, leaderCatchUp},
		{kerr.UnknownTopicOrPartition, leaderCatchUp},
		{kerr.FencedLeaderEpoch, time.Second},
		{kerr.KafkaStorageError, time.Second},
	} {
		if got := f.pauseFor(fmt.Errorf("leader answered %w", c.err)); got != c.want {
			t.Errorf("%v: paused %v, want %v", c.err, got, c.want)
		}
	}
}
