//go:build unix

package chaos

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Share-group scenario settings. The lock is short so that records whose holder lost
// its session (a killed leader drops the share session) come back within seconds, and
// the delivery limit is Kafka's maximum so that no record is archived by the faults
// alone (an archived record would be indistinguishable from a lost one here).
const (
	shareGroup         = "chaos-share"
	shareConsumerCount = 3
	shareStateTopic    = "__share_group_state"
	shareLockMs        = "3000"
	shareDeliveryLimit = "10"
	shareDrainTimeout  = 40 * time.Second
	shareFlushTimeout  = 10 * time.Second
	// shareUnknownWait is how long the drain waits, once every record was delivered, for
	// records whose accept had no answer to come back: two lock durations.
	shareUnknownWait = 6 * time.Second
)

// TestShareGroupKill runs three share consumers of one group over a two-partition topic
// under the usual producers, and SIGKILLs, in turn, the leader of a data partition, the
// leader of the share-state partition (__share_group_state has one partition here, so
// its leader is the group's share coordinator) and again a data partition's leader,
// restarting each and waiting for a full ISR. Afterwards the consumers drain. Besides the
// usual checks (every acknowledged record at its offset, linearizable history, replicas
// equal on disk) it checks share-group delivery:
//
//   - every acknowledged record was delivered to some consumer and its AckAccept
//     confirmed (the ShareAckCallback reported no error for its partition and FlushAcks
//     returned), so the share-partition state lost no record across the failovers;
//   - no record was delivered again after one of its acks was confirmed: a confirmed
//     accept is in the share state, which must survive the loss of either leader.
//
// Redeliveries of records whose ack was not confirmed (held by a consumer when a leader
// died, or acked on a session the broker had dropped) are allowed and counted.
func TestShareGroupKill(t *testing.T) {
	needCluster(t)
	rng := newRand(t)
	c := startClusterWith(t, clusterOptions{partitions: 2, sets: []string{
		"share.auto.offset.reset=earliest",
		"group.share.record.lock.duration.ms=" + shareLockMs,
		"group.share.delivery.count.limit=" + shareDeliveryLimit,
		"share.coordinator.state.topic.num.partitions=1",
	}})
	sh := c.startShareConsumers()
	run := c.startRun()
	kills := []string{"data", "state", "data"}
	for i, kind := range kills {
		v := c.waitHealthy("every replica back in sync before a kill")
		sv, err := c.waitStateInSync()
		if err != nil {
			t.Fatal(err)
		}
		var victim *node
		var why string
		switch kind {
		case "data":
			p := int32(rng.IntN(c.partitions))
			victim, why = c.node(v.parts[p].leader), fmt.Sprintf("leader of p%d", p)
		case "state":
			victim, why = c.node(sv.leader), shareStateTopic+"-0's leader"
		}
		pause(rng, 500*time.Millisecond, time.Second)
		round := fmt.Sprintf("kill %d/%d", i+1, len(kills))
		c.noteAll(fmt.Sprintf("%s: SIGKILL node %d, %s (controller %d; %s)", round, victim.id, why, v.controller, sh.progress()))
		c.kill(victim)
		if _, err := c.waitView(healTimeout, fmt.Sprintf("every leadership to leave node %d", victim.id), c.others(victim), func(v nodeView) bool {
			if !leadsNone(v, victim.id) {
				return false
			}
			sv, err := c.stateView(t.Context(), c.others(victim)[0])
			return err == nil && sv.leader >= 0 && sv.leader != victim.id
		}); err != nil {
			t.Fatal(err)
		}
		c.noteAll(fmt.Sprintf("%s: leaders moved: %s", round, c.describe()))
		pause(rng, 500*time.Millisecond, time.Second)
		c.restart(victim)
		c.noteAll(fmt.Sprintf("%s: node %d restarted", round, victim.id))
	}
	run.verify(verifyOptions{afterReadBack: func(nodeView) {
		run.h.mu.Lock()
		var acked []produceResult
		for _, p := range run.h.produced {
			if p.err == nil {
				acked = append(acked, p)
			}
		}
		run.h.mu.Unlock()
		sh.drainAndCheck(t, acked)
	}})
}

// stateView is the share-state partition (__share_group_state-0) as n's Metadata has it.
func (c *cluster) stateView(ctx context.Context, n *node) (partView, error) {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(shareStateTopic)
	req.Topics = append(req.Topics, rt)
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := req.RequestWith(rctx, n.admin.SeedBrokers()[0])
	if err != nil {
		return partView{}, err
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.Partition == 0 && p.ErrorCode == 0 {
				return partView{leader: p.Leader, epoch: p.LeaderEpoch,
					replicas: slices.Sorted(slices.Values(p.Replicas)), isr: slices.Sorted(slices.Values(p.ISR))}, nil
			}
		}
	}
	return partView{}, fmt.Errorf("node %d: no %s-0 in its metadata", n.id, shareStateTopic)
}

// waitStateInSync waits until the share-state partition exists (the first share
// consumer creates it), has a leader and its whole replica set in sync, so that a kill
// never takes the last in-sync copy of the share state.
func (c *cluster) waitStateInSync() (partView, error) {
	ctx, cancel := context.WithTimeout(c.t.Context(), healTimeout)
	defer cancel()
	var last partView
	var lastErr error
	for {
		sv, err := c.stateView(ctx, c.nodes[0])
		if err == nil && sv.leader >= 0 && len(sv.replicas) == len(c.nodes) && slices.Equal(sv.isr, sv.replicas) {
			return sv, nil
		}
		last, lastErr = sv, err
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("waiting %s for %s-0 in sync: last %+v, last error %v", healTimeout, shareStateTopic, last, lastErr)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// delivery is one record handed to a share consumer, and what became of its accept.
type delivery struct {
	consumer  int
	value     string
	partition int32
	offset    int64
	count     int32     // the broker's delivery count (Record.DeliveryCount)
	polled    time.Time // when the poll returned it
	confirmed time.Time // when its AckAccept was known to succeed; zero if never
	ackErr    string    // why it was not confirmed
	rejected  bool      // the broker answered the accept with an error code (not a lost answer)
}

// shareConsumers are the group's members and every delivery they saw.
type shareConsumers struct {
	members []*shareMember
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu         sync.Mutex
	deliveries []delivery     // guarded by mu
	pollErrs   map[string]int // guarded by mu
}

// shareMember is one consumer. Acks are per record but the broker answers them per
// partition, so each poll is a window: the records are accepted, FlushAcks waits until
// every ack was sent and answered, and a record counts as confirmed only if its
// partition had an answer in the window and none of the window's answers for that
// partition was an error.
type shareMember struct {
	id int
	cl *kgo.Client

	mu     sync.Mutex
	window map[int32]error // guarded by mu; partition -> first ack error (nil: acked)
}

func (c *cluster) startShareConsumers() *shareConsumers {
	c.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &shareConsumers{cancel: cancel, pollErrs: map[string]int{}}
	for i := range shareConsumerCount {
		m := &shareMember{id: i, window: map[int32]error{}}
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.bootstrap()...), kgo.Dialer(c.dial),
			kgo.ClientID(fmt.Sprintf("chaos-share-%d", i)),
			kgo.ShareGroup(shareGroup), kgo.ConsumeTopics(topic),
			kgo.ShareAckCallback(m.onAck),
			kgo.FetchMaxWait(200*time.Millisecond), kgo.MetadataMinAge(100*time.Millisecond),
			kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }))
		if err != nil {
			c.t.Fatal(err)
		}
		m.cl = cl
		s.members = append(s.members, m)
		s.wg.Add(1)
		go s.consume(ctx, m)
	}
	c.t.Cleanup(s.close)
	return s
}

// onAck is the ShareAckCallback: it notes each partition's outcome in the open window.
func (m *shareMember) onAck(_ *kgo.Client, rs kgo.ShareAckResults) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range rs {
		if prev, seen := m.window[r.Partition]; !seen || prev == nil {
			m.window[r.Partition] = r.Err
		}
	}
}

func (s *shareConsumers) consume(ctx context.Context, m *shareMember) {
	defer s.wg.Done()
	for ctx.Err() == nil {
		fetches := m.cl.PollFetches(ctx)
		polled := time.Now()
		var errs []string
		fetches.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.Canceled) {
				errs = append(errs, err.Error())
			}
		})
		recs := fetches.Records()
		if len(recs) == 0 {
			s.addPollErrs(errs)
			continue
		}
		m.mu.Lock()
		clear(m.window)
		m.mu.Unlock()
		for _, r := range recs {
			r.Ack(kgo.AckAccept)
		}
		fctx, cancel := context.WithTimeout(ctx, shareFlushTimeout)
		flushErr := m.cl.FlushAcks(fctx)
		cancel()
		done := time.Now()
		m.mu.Lock()
		window := maps.Clone(m.window)
		m.mu.Unlock()
		ds := make([]delivery, 0, len(recs))
		for _, r := range recs {
			d := delivery{consumer: m.id, value: string(r.Value), partition: r.Partition, offset: r.Offset,
				count: r.DeliveryCount(), polled: polled}
			err, answered := window[r.Partition]
			switch {
			case flushErr != nil:
				d.ackErr = "FlushAcks: " + flushErr.Error()
			case !answered:
				d.ackErr = "no ack result for the partition"
			case err != nil:
				d.ackErr = err.Error()
				var ke *kerr.Error
				d.rejected = errors.As(err, &ke)
			default:
				d.confirmed = done
			}
			ds = append(ds, d)
		}
		s.mu.Lock()
		s.deliveries = append(s.deliveries, ds...)
		for _, e := range errs {
			s.pollErrs[e]++
		}
		s.mu.Unlock()
	}
}

func (s *shareConsumers) addPollErrs(errs []string) {
	if len(errs) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range errs {
		s.pollErrs[e]++
	}
}

// progress is a one-line summary for the nodes' logs.
func (s *shareConsumers) progress() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("%d share deliveries so far", len(s.deliveries))
}

// close stops the consumers (leaving the group) once; later calls do nothing.
func (s *shareConsumers) close() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.wg.Wait()
	for _, m := range s.members {
		m.cl.Close()
	}
	s.cancel = nil
}

// drainAndCheck lets the consumers run until every acknowledged record has a confirmed
// delivery, or until every one was delivered and shareUnknownWait more has passed (a
// record whose accept lost its answer with a dying leader may have been accepted, and
// is then rightly never delivered again), or shareDrainTimeout; then it stops them and
// checks the deliveries.
func (s *shareConsumers) drainAndCheck(t *testing.T, acked []produceResult) {
	t.Helper()
	start := time.Now()
	// missing is the acknowledged records with no confirmed accept, and how many of those
	// were never delivered at all.
	missing := func() (unconfirmed []string, undelivered int) {
		s.mu.Lock()
		defer s.mu.Unlock()
		seen, ok := map[string]bool{}, map[string]bool{}
		for _, d := range s.deliveries {
			seen[d.value] = true
			if !d.confirmed.IsZero() {
				ok[d.value] = true
			}
		}
		for _, p := range acked {
			if !ok[p.value] {
				unconfirmed = append(unconfirmed, p.value)
				if !seen[p.value] {
					undelivered++
				}
			}
		}
		return unconfirmed, undelivered
	}
	var allSeen time.Time
	for {
		left, undelivered := missing()
		if len(left) == 0 || time.Since(start) > shareDrainTimeout {
			break
		}
		if undelivered == 0 && allSeen.IsZero() {
			allSeen = time.Now()
		}
		if !allSeen.IsZero() && time.Since(allSeen) > shareUnknownWait {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.close()
	t.Logf("share consumers drained in %s", time.Since(start).Round(time.Millisecond))

	s.mu.Lock()
	defer s.mu.Unlock()
	byValue := map[string][]delivery{}
	for _, d := range s.deliveries {
		byValue[d.value] = append(byValue[d.value], d)
	}
	var redelivered, unconfirmed, maxCount int
	ackErrs := map[string]int{}
	perConsumer := make([]int, shareConsumerCount)
	var after []string
	for v, ds := range byValue {
		if len(ds) > 1 {
			redelivered++
		}
		var firstConfirmed *delivery
		for i := range ds {
			d := &ds[i]
			perConsumer[d.consumer]++
			maxCount = max(maxCount, int(d.count))
			if d.confirmed.IsZero() {
				unconfirmed++
				ackErrs[d.ackErr]++
			} else if firstConfirmed == nil || d.confirmed.Before(firstConfirmed.confirmed) {
				firstConfirmed = d
			}
		}
		if firstConfirmed == nil {
			continue
		}
		for _, d := range ds {
			if d.polled.After(firstConfirmed.confirmed) {
				after = append(after, fmt.Sprintf("%s (p%d@%d): accepted by consumer %d (delivery %d, polled %s) confirmed %s; delivered again to consumer %d (delivery %d) at %s",
					v, d.partition, d.offset, firstConfirmed.consumer, firstConfirmed.count, firstConfirmed.polled.Format("15:04:05.000"),
					firstConfirmed.confirmed.Format("15:04:05.000"), d.consumer, d.count, d.polled.Format("15:04:05.000")))
			}
		}
	}
	t.Logf("share group: %d acknowledged records, %d deliveries (per consumer %v) of %d values; %d values delivered more than once; %d unconfirmed acks; highest delivery count %d",
		len(acked), len(s.deliveries), perConsumer, len(byValue), redelivered, unconfirmed, maxCount)
	for e, n := range ackErrs {
		t.Logf("share group: %d× unconfirmed ack: %s", n, e)
	}
	for e, n := range s.pollErrs {
		t.Logf("share consumers: %d× poll error: %s", n, e)
	}
	var lost, rejected, unknown []string
	for _, p := range acked {
		ds := byValue[p.value]
		if slices.ContainsFunc(ds, func(d delivery) bool { return !d.confirmed.IsZero() }) {
			continue
		}
		what := fmt.Sprintf("%s (p%d@%d)", p.value, p.partition, p.offset)
		for _, d := range ds {
			what += fmt.Sprintf("; delivery %d to consumer %d at %s, accept failed: %s", d.count, d.consumer, d.polled.Format("15:04:05.000"), d.ackErr)
		}
		switch {
		case len(ds) == 0:
			lost = append(lost, what)
		case ds[len(ds)-1].rejected:
			rejected = append(rejected, what)
		default:
			unknown = append(unknown, what)
		}
	}
	for _, u := range unknown {
		t.Logf("share group: accept outcome unknown (no answer), not delivered again: %s", u)
	}
	for _, group := range []struct {
		what string
		list []string
	}{
		{"acknowledged record never delivered", lost},
		{"acknowledged record whose accept the broker rejected, never delivered again", rejected},
	} {
		slices.Sort(group.list)
		for i, l := range group.list {
			if i == 20 {
				t.Errorf("... and %d more", len(group.list)-i)
				break
			}
			t.Errorf("%s within %s of the faults' end: %s", group.what, time.Since(start).Round(time.Second), l)
		}
	}
	slices.Sort(after)
	for i, a := range after {
		if i == 20 {
			t.Errorf("... and %d more", len(after)-i)
			break
		}
		t.Errorf("delivered again after its accept was confirmed: %s", a)
	}
}
