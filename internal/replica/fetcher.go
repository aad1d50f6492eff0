package replica

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/interbroker"
	"github.com/nagare-dev/nagare/internal/log"
	"github.com/nagare-dev/nagare/internal/partition"
)

// fetcher copies the partitions one leader leads to this broker (Kafka's
// ReplicaFetcherThread): one goroutine, one connection (conn.go), one Fetch at a time.
// The next fetch goes out as soon as the previous answer is appended: its fetch offsets
// are what tells the leader this broker has the records, which moves the high watermark.
type fetcher struct {
	cfg      Config
	leader   int32
	plan     fetchPlan
	clientID string
	cancel   context.CancelFunc
	done     chan struct{}
	paused   []time.Time // per plan.parts entry: skipped until then (fencing, errors)
	// req, idx and resp are reused by every round, so that a steady fetch loop
	// allocates little (BenchmarkFetcherRound): req is refilled by request, idx maps its
	// partitions to plan.parts, resp is decoded by kmsg in place and its record slices
	// point into the connection's buffer.
	req  *kmsg.FetchRequest
	idx  []int
	resp kmsg.FetchResponse
	// authFailing: the last connection attempt failed authentication (logged once as
	// a warning until a connection succeeds).
	authFailing bool
}

func startFetcher(cfg Config, leader int32, plan fetchPlan) (*fetcher, error) {
	ctx, cancel := context.WithCancel(context.Background())
	f := &fetcher{cfg: cfg, leader: leader, plan: plan, cancel: cancel,
		clientID: fmt.Sprintf("nagare-replica-fetcher-%d", cfg.NodeID),
		done:     make(chan struct{}), paused: make([]time.Time, len(plan.parts))}
	go f.run(ctx)
	return f, nil
}

// stop ends the fetcher and waits for it; an in-flight fetch is abandoned (canceling
// closes its connection).
func (f *fetcher) stop() {
	f.cancel()
	<-f.done
}

func (f *fetcher) run(ctx context.Context) {
	defer close(f.done)
	var c *leaderConn
	defer func() {
		if c != nil {
			c.close()
		}
	}()
	// A response bigger than this (replica.fetch.response.max.bytes plus framing) is
	// not kept for reuse.
	retain := int(max(f.cfg.Settings.ResponseMaxBytes, f.cfg.Settings.MaxBytes)) + 64<<10
	for ctx.Err() == nil {
		if c == nil {
			var err error
			if c, err = dialLeader(ctx, f.cfg.InterBroker, f.plan.addr, f.clientID, retain); err != nil {
				c = nil
				if ctx.Err() == nil {
					f.dialFailed(err)
					f.sleep(ctx, f.cfg.Settings.Backoff)
				}
				continue
			}
			f.authFailing = false
		}
		now := time.Now()
		sent, err := f.round(c, now)
		switch {
		case err != nil:
			c.close()
			c = nil
			if ctx.Err() == nil {
				f.cfg.Logger.Debug("replica fetch failed", "leader", f.leader, "addr", f.plan.addr, "err", err)
				f.sleep(ctx, f.cfg.Settings.Backoff)
			}
		case !sent:
			f.sleep(ctx, f.untilUnpaused(now)) // every partition is paused
		}
	}
}

// round is one fetch: the request for every partition not paused, the leader's answer,
// and the answer applied (before the next round reuses the connection's buffer). sent
// is false when every partition is paused.
func (f *fetcher) round(c *leaderConn, now time.Time) (sent bool, err error) {
	req, idx := f.request(now)
	if req == nil {
		return false, nil
	}
	f.resp.Default()
	if err := c.fetch(req, &f.resp); err != nil {
		return true, err
	}
	f.handle(&f.resp, idx, time.Now())
	return true, nil
}

// dialFailed logs why the leader could not be reached: an authentication failure as a
// warning, once until a connection succeeds, since retrying does not mend it and the
// follower will fall out of the ISR; anything else (a leader away) at debug.
func (f *fetcher) dialFailed(err error) {
	if !interbroker.IsAuthError(err) {
		f.cfg.Logger.Debug("replica fetcher cannot reach the leader", "leader", f.leader, "addr", f.plan.addr, "err", err)
		return
	}
	if !f.authFailing {
		f.cfg.Logger.Warn("replica fetcher: inter-broker authentication failed", "leader", f.leader,
			"addr", f.plan.addr, "listener", f.cfg.InterBroker.String(), "err", err)
	}
	f.authFailing = true
}

func (f *fetcher) sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(max(d, 10*time.Millisecond))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// request builds the Fetch for every partition not paused, refilling the fetcher's
// request in place; idx maps each request partition (in order) back to its plan entry.
func (f *fetcher) request(now time.Time) (*kmsg.FetchRequest, []int) {
	s := f.cfg.Settings
	if f.req == nil {
		f.req = kmsg.NewPtrFetchRequest()
	}
	req := f.req
	req.ReplicaID = f.cfg.NodeID
	req.ReplicaState.ID = f.cfg.NodeID
	req.ReplicaState.Epoch = -1
	if f.cfg.BrokerEpoch > 0 {
		req.ReplicaState.Epoch = f.cfg.BrokerEpoch // KIP-903: the leader refuses a stale one
	}
	req.MaxWaitMillis = int32(s.MaxWait.Milliseconds())
	req.MinBytes = s.MinBytes
	req.MaxBytes = s.ResponseMaxBytes
	req.SessionEpoch = -1 // no fetch session (KIP-227)
	req.Topics = req.Topics[:0]
	idx := f.idx[:0]
	overQuota := f.cfg.FollowerQuota.Exceeded()
	for i, fp := range f.plan.parts {
		if now.Before(f.paused[i]) {
			continue
		}
		if overQuota && f.throttled(fp) { // throttle.go
			f.paused[i] = now.Add(throttleRecheck)
			continue
		}
		l := fp.part.Log()
		t := requestTopic(req, fp)
		p := kmsg.NewFetchRequestTopicPartition()
		p.Partition = fp.part.Index()
		p.CurrentLeaderEpoch = fp.leaderEpoch
		p.FetchOffset = l.LogEndOffset()
		p.LastFetchedEpoch = l.LatestEpoch()
		p.LogStartOffset = l.LogStartOffset()
		p.PartitionMaxBytes = s.MaxBytes
		t.Partitions = append(t.Partitions, p)
		idx = append(idx, i)
	}
	f.idx = idx
	if len(idx) == 0 {
		return nil, nil
	}
	return req, idx
}

// requestTopic is the request's entry for fp's topic: the last one when it names the
// same topic (plan.parts are grouped by topic), else a new one that reuses the
// partitions array a previous round left in that slot.
func requestTopic(req *kmsg.FetchRequest, fp followed) *kmsg.FetchRequestTopic {
	n := len(req.Topics)
	if n > 0 && req.Topics[n-1].Topic == fp.part.Topic() {
		return &req.Topics[n-1]
	}
	if n < cap(req.Topics) {
		req.Topics = req.Topics[:n+1]
		parts := req.Topics[n].Partitions[:0]
		req.Topics[n] = kmsg.NewFetchRequestTopic()
		req.Topics[n].Partitions = parts
	} else {
		req.Topics = append(req.Topics, kmsg.NewFetchRequestTopic())
	}
	t := &req.Topics[n]
	t.Topic, t.TopicID = fp.part.Topic(), fp.topicID
	return t
}

// handle applies a response: each partition's records, high watermark, divergence or
// error. The response lists partitions in request order, as Kafka answers.
func (f *fetcher) handle(resp *kmsg.FetchResponse, idx []int, now time.Time) {
	if resp.ErrorCode != 0 {
		err := kerr.ErrorForCode(resp.ErrorCode)
		f.cfg.Logger.Warn("replica fetch refused", "leader", f.leader, "err", err)
		for _, i := range idx {
			f.paused[i] = now.Add(f.cfg.Settings.Backoff)
		}
		return
	}
	n := 0
	for _, t := range resp.Topics {
		for j := range t.Partitions {
			if n >= len(idx) {
				return
			}
			i := idx[n]
			n++
			fp := f.plan.parts[i]
			rp := &t.Partitions[j]
			if rp.Partition != fp.part.Index() {
				f.cfg.Logger.Warn("replica fetch answer out of order", "leader", f.leader, "want", fp.String(), "got", rp.Partition)
				return
			}
			if err := f.apply(fp, rp); err != nil {
				if !errors.Is(err, partition.ErrNotFollower) {
					f.cfg.Logger.Info("replica fetch paused", "partition", fp.String(), "leader", f.leader, "err", err)
				}
				f.paused[i] = now.Add(f.pauseFor(err))
			}
		}
	}
}

// leaderCatchUp is how long a partition waits after the leader answered that it does not
// lead it yet, or not at our epoch, or does not know the topic yet: the leader has not
// applied the metadata that made it leader (or created the topic), which takes
// milliseconds. Waiting the full replica.fetch.backoff.ms there held acks=all produces for
// a second after every leader move (bench failover) and after every topic creation.
const leaderCatchUp = 20 * time.Millisecond

// pauseFor is how long a partition whose fetch failed with err sits out.
func (f *fetcher) pauseFor(err error) time.Duration {
	if leaderBehind(err) {
		return min(leaderCatchUp, f.cfg.Settings.Backoff)
	}
	return f.cfg.Settings.Backoff
}

// leaderBehind reports whether err is the leader answering from metadata older than the
// follower's: a leadership, epoch or topic it has not applied yet.
func leaderBehind(err error) bool {
	return errors.Is(err, kerr.NotLeaderForPartition) || errors.Is(err, kerr.UnknownLeaderEpoch) ||
		errors.Is(err, kerr.UnknownTopicID) || errors.Is(err, kerr.UnknownTopicOrPartition)
}

// untilUnpaused is how long until the first paused partition may be fetched again, at
// most replica.fetch.backoff.ms.
func (f *fetcher) untilUnpaused(now time.Time) time.Duration {
	wait := f.cfg.Settings.Backoff
	for _, until := range f.paused {
		if until.After(now) {
			wait = min(wait, until.Sub(now))
		}
	}
	return wait
}

// apply handles one partition's answer (Kafka's processPartitionData and the error
// paths of AbstractFetcherThread).
func (f *fetcher) apply(fp followed, rp *kmsg.FetchResponseTopicPartition) error {
	part := fp.part
	switch code := rp.ErrorCode; {
	case code == kerr.OffsetOutOfRange.Code:
		return f.outOfRange(fp, rp)
	case code != 0:
		// FENCED_LEADER_EPOCH, NOT_LEADER_OR_FOLLOWER, UNKNOWN_LEADER_EPOCH, ...: the
		// leadership moved or our view is ahead; wait for the metadata to catch up.
		return fmt.Errorf("leader answered %w", kerr.ErrorForCode(code))
	}
	if rp.DivergingEpoch.EndOffset >= 0 {
		return f.truncateDiverging(fp, rp.DivergingEpoch.Epoch, rp.DivergingEpoch.EndOffset)
	}
	if records := log.CompleteBatches(rp.RecordBatches); len(records) > 0 {
		if _, err := part.AppendAsFollower(records, fp.leaderEpoch); err != nil {
			return fmt.Errorf("follower append: %w", err)
		}
		if f.cfg.FollowerQuota != nil && f.throttled(fp) {
			f.cfg.FollowerQuota.Record(int64(len(records)))
		}
	}
	part.FollowerHighWatermark(rp.HighWatermark)
	if rp.LogStartOffset > part.Log().LogStartOffset() {
		// DeleteRecords or retention moved the leader's log start: follow it.
		if err := part.FollowerLogStartOffset(rp.LogStartOffset, fp.leaderEpoch); err != nil {
			return fmt.Errorf("follower log start: %w", err)
		}
	}
	return nil
}

// truncateDiverging cuts the log where it stops matching the leader's (Kafka's
// getOffsetTruncationState): at the leader's end offset for the epoch, or at our own end
// of that epoch if it is smaller; when our history does not hold the leader's epoch, we
// truncate to the smaller end and the next fetch, sending our new latest epoch, checks
// again.
func (f *fetcher) truncateDiverging(fp followed, leaderEpoch int32, leaderEnd int64) error {
	l := fp.part.Log()
	to := min(leaderEnd, l.LogEndOffset())
	if epoch, end := l.EndOffsetForEpoch(leaderEpoch); epoch != log.UndefinedEpoch {
		to = min(to, end)
	}
	f.cfg.Logger.Info("truncating diverged replica", "partition", fp.String(), "leader", f.leader,
		"leader_epoch", leaderEpoch, "leader_end_offset", leaderEnd, "log_end_offset", l.LogEndOffset(), "to", to)
	if err := fp.part.TruncateAsFollower(to, fp.leaderEpoch, false); err != nil {
		return fmt.Errorf("truncate to %d: %w", to, err)
	}
	return nil
}

// outOfRange: our fetch offset is outside the leader's log. Below its log start, the
// log restarts at the leader's start (truncateFullyAndStartAt); beyond its end (our
// epoch it cannot place), we keep only what the leader has committed.
func (f *fetcher) outOfRange(fp followed, rp *kmsg.FetchResponseTopicPartition) error {
	l := fp.part.Log()
	if rp.LogStartOffset >= 0 && l.LogEndOffset() < rp.LogStartOffset {
		f.cfg.Logger.Info("replica behind the leader's log start: restarting its log", "partition", fp.String(), "at", rp.LogStartOffset)
		return fp.part.TruncateAsFollower(rp.LogStartOffset, fp.leaderEpoch, true)
	}
	if rp.HighWatermark < 0 || rp.HighWatermark >= l.LogEndOffset() {
		return fmt.Errorf("offset %d out of the leader's range [%d, hw %d]", l.LogEndOffset(), rp.LogStartOffset, rp.HighWatermark)
	}
	f.cfg.Logger.Info("replica beyond the leader's log: truncating to its high watermark", "partition", fp.String(), "to", rp.HighWatermark)
	return fp.part.TruncateAsFollower(rp.HighWatermark, fp.leaderEpoch, false)
}
