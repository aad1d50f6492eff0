//go:build unix

package chaos

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// Replication throttles of the reassignment scenario, in bytes per second. The producers
// put roughly 10 KB/s on each partition (record and batch overhead), so a new replica
// throttled to throttleCrawl cannot catch up while the leader takes writes: the move
// cannot finish before the kill, which makes "kill -9 during the move" certain rather than
// a race. Killing the leader is the exception: nothing is written while the leadership is
// vacant, the quota refills, and the new replica's first fetch from the new leader may
// close the gap, so the move can complete while the old leader is down. A move at
// throttleSteady finishes in a second or two with the throttle biting.
const (
	throttleCrawl  = 4_000
	throttleSteady = 200_000
)

// reassignSets make the replication quota bite within a second (two one-second samples)
// and replica fetches small enough for it to bite smoothly, as the broker's own
// reassignment tests do.
var reassignSets = []string{
	"replication.quota.window.num=2",
	"replication.quota.window.size.seconds=1",
	"replica.fetch.max.bytes=65536",
}

// TestReassignUnderLoad moves partitions' replicas with AlterPartitionReassignments while
// the producers write, on four nodes (the topic has replication factor 3, so one node is
// always free to move to). Each round picks a partition, whose leader L and replicas R,
// and moves it to the node outside R plus R without L, in a random order: the leader is
// removed and a new replica must copy the log. The new replica is throttled
// (leader.replication.throttled.* on R, follower.* on the new node), as
// `nagare partition reassign --throttle` does.
//
// In the first round (every other round with NAGARE_CHAOS_SOAK=1) the throttle is below
// the write rate, so the move cannot finish, and a node is killed with SIGKILL in the
// middle of it: the leader being removed, the replica being added or a replica that
// stays, at random. Once it is back the throttle is lifted and the move must finish. In
// the other rounds the throttle is loose and nothing is killed. Each round waits until
// the partition has exactly the target replicas, all in sync, no reassignment is listed,
// and the removed node has deleted its log of the partition. Then the usual checks; the
// on-disk comparison reads each partition's final replicas and requires every other
// node's log dir of it to be gone. 2 rounds, 6 with NAGARE_CHAOS_SOAK=1.
func TestReassignUnderLoad(t *testing.T) {
	needCluster(t)
	rng := newRand(t)
	rounds := 2
	if soak() {
		rounds = 6
	}
	c := startClusterWith(t, clusterOptions{nodes: 4, rf: 3, sets: reassignSets})
	run := c.startRun()
	// Let the partitions grow a little, so that the first copy has something to copy.
	time.Sleep(2 * time.Second)
	for i := range rounds {
		round := fmt.Sprintf("reassign %d/%d", i+1, rounds)
		v := c.waitHealthy("every replica in sync before a reassignment")
		p := int32(rng.IntN(c.partitions))
		pv := v.parts[p]
		var added int32
		for _, n := range c.nodes {
			if !slices.Contains(pv.replicas, n.id) {
				added = n.id
			}
		}
		var staying []int32
		for _, id := range pv.replicas {
			if id != pv.leader {
				staying = append(staying, id)
			}
		}
		target := append([]int32{added}, staying...)
		rng.Shuffle(len(target), func(a, b int) { target[a], target[b] = target[b], target[a] })
		withKill := i%2 == 0
		rate := int64(throttleSteady)
		if withKill {
			rate = throttleCrawl
		}

		c.setThrottle(p, pv.replicas, added, rate)
		c.noteAll(fmt.Sprintf("%s: move p%d from %v (leader %d) to %v, throttled to %d B/s: %s", round, p, pv.replicas, pv.leader, target, rate, v))
		c.reassign(p, target)
		if withKill {
			pause(rng, 500*time.Millisecond, 1500*time.Millisecond)
			moving := c.listReassignments()
			if _, ok := moving[p]; !ok {
				t.Errorf("%s: p%d's move finished within a second under a %d B/s throttle, below the write rate: %s", round, p, rate, c.describe())
			}
			var victim *node
			switch role := rng.IntN(3); role {
			case 0:
				victim = c.node(pv.leader)
			case 1:
				victim = c.node(added)
			default:
				victim = c.node(staying[rng.IntN(len(staying))])
			}
			c.noteAll(fmt.Sprintf("%s: SIGKILL node %d during the move (reassignments %v): %s", round, victim.id, moving, c.describe()))
			c.kill(victim)
			if _, err := c.waitView(healTimeout, fmt.Sprintf("every leadership to leave node %d", victim.id), c.others(victim), func(v nodeView) bool {
				return leadsNone(v, victim.id)
			}); err != nil {
				t.Fatal(err)
			}
			c.noteAll(fmt.Sprintf("%s: leaders moved: %s", round, c.describeFrom(c.others(victim))))
			pause(rng, 300*time.Millisecond, time.Second)
			c.restart(victim)
			c.noteAll(fmt.Sprintf("%s: node %d restarted; lifting the throttle", round, victim.id))
			c.clearThrottle()
		}
		want := slices.Sorted(slices.Values(target))
		if _, err := c.waitView(healTimeout, fmt.Sprintf("p%d to move to %v", p, target), nil, func(v nodeView) bool {
			return c.healthy(v) && slices.Equal(v.parts[p].replicas, want)
		}); err != nil {
			t.Fatalf("%s: %v; reassignments in progress %v", round, err, c.listReassignments())
		}
		if moving := c.listReassignments(); len(moving) > 0 {
			t.Errorf("%s: p%d has its target replicas, all in sync, yet reassignments are listed: %v", round, p, moving)
		}
		// The removed leader deletes its log of p when it applies the completing record. If
		// it was down when the move completed, it finds the log at its next start for a
		// partition assigned elsewhere, which Nagare closes and keeps (docs: Registry.Sync).
		removed := c.node(pv.leader)
		if keptAtStart(removed, p) {
			c.noteAll(fmt.Sprintf("%s: p%d's move completed while node %d was down; its start kept the log", round, p, removed.id))
		} else {
			waitLogGone(t, round, removed, p)
		}
		if !withKill {
			c.clearThrottle()
		}
		c.noteAll(fmt.Sprintf("%s: p%d moved to %v: %s", round, p, target, c.describe()))
	}
	run.verify(verifyOptions{})
}

// adm is a kadm client through a running node's admin client.
func (c *cluster) adm() *kadm.Client {
	for _, n := range c.nodes {
		if n.running() {
			return kadm.NewClient(n.admin)
		}
	}
	c.t.Fatal("no node running")
	return nil
}

// reassign asks for p's replicas to become target (AlterPartitionReassignments).
func (c *cluster) reassign(p int32, target []int32) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), 30*time.Second)
	defer cancel()
	var req kadm.AlterPartitionAssignmentsReq
	req.Assign(topic, p, target)
	resps, err := c.adm().AlterPartitionAssignments(ctx, req)
	if err == nil {
		resps.Each(func(r kadm.AlterPartitionAssignmentsResponse) {
			if r.Err != nil && err == nil {
				err = fmt.Errorf("%w: %s", r.Err, r.ErrMessage)
			}
		})
	}
	if err != nil {
		c.t.Fatalf("reassign p%d to %v: %v", p, target, err)
	}
}

// listReassignments is the topic's reassignments in progress, partition -> adding and
// removing replicas.
func (c *cluster) listReassignments() map[int32]string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), 30*time.Second)
	defer cancel()
	set := kadm.TopicsSet{}
	for p := range int32(c.partitions) {
		set.Add(topic, p)
	}
	resps, err := c.adm().ListPartitionReassignments(ctx, set)
	if err != nil {
		c.t.Fatalf("list reassignments: %v", err)
	}
	out := map[int32]string{}
	resps.Each(func(r kadm.ListPartitionReassignmentsResponse) {
		out[r.Partition] = fmt.Sprintf("replicas %v adding %v removing %v", r.Replicas, r.AddingReplicas, r.RemovingReplicas)
	})
	return out
}

// setThrottle does what kafka-reassign-partitions --throttle does for a move of p from
// replicas to replicas + added: the rate on every broker, the current replicas throttled
// as leaders, the added one as follower.
func (c *cluster) setThrottle(p int32, replicas []int32, added int32, rate int64) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), 30*time.Second)
	defer cancel()
	adm := c.adm()
	r := strconv.FormatInt(rate, 10)
	var brokers []int32
	for _, n := range c.nodes {
		brokers = append(brokers, n.id)
	}
	resps, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{
		{Name: "leader.replication.throttled.rate", Value: &r},
		{Name: "follower.replication.throttled.rate", Value: &r},
	}, brokers...)
	must(c.t, alterErr(resps, err))
	var leaders string
	for i, id := range replicas {
		if i > 0 {
			leaders += ","
		}
		leaders += fmt.Sprintf("%d:%d", p, id)
	}
	follower := fmt.Sprintf("%d:%d", p, added)
	resps, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Name: "leader.replication.throttled.replicas", Value: &leaders},
		{Name: "follower.replication.throttled.replicas", Value: &follower},
	}, topic)
	must(c.t, alterErr(resps, err))
}

// clearThrottle removes the throttle configs, as `nagare partition reassign --verify`
// does once nothing moves.
func (c *cluster) clearThrottle() {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), 30*time.Second)
	defer cancel()
	adm := c.adm()
	var brokers []int32
	for _, n := range c.nodes {
		brokers = append(brokers, n.id)
	}
	resps, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.DeleteConfig, Name: "leader.replication.throttled.rate"},
		{Op: kadm.DeleteConfig, Name: "follower.replication.throttled.rate"},
	}, brokers...)
	must(c.t, alterErr(resps, err))
	resps, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.DeleteConfig, Name: "leader.replication.throttled.replicas"},
		{Op: kadm.DeleteConfig, Name: "follower.replication.throttled.replicas"},
	}, topic)
	must(c.t, alterErr(resps, err))
}

func alterErr(resps kadm.AlterConfigsResponses, err error) error {
	if err != nil {
		return err
	}
	for _, r := range resps {
		if r.Err != nil {
			return fmt.Errorf("alter configs of %s: %w: %s", r.Name, r.Err, r.ErrMessage)
		}
	}
	return nil
}

// waitLogGone fails unless n deletes its log of partition p within 15 s.
func waitLogGone(t *testing.T, round string, n *node, p int32) {
	t.Helper()
	dir := filepath.Join(n.dir, fmt.Sprintf("%s-%d", topic, p))
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: node %d was removed from p%d but %s is still there 15 s after the move", round, n.id, p, dir)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// keptAtStart reports whether n's current start found its log of partition p assigned to
// other brokers and kept it, as a broker does for a replica removed while it was down.
func keptAtStart(n *node, p int32) bool {
	return keptLog(n, p, true)
}

// keptLog reports whether n kept its log of partition p at a start (the current one only,
// or any), finding the partition assigned to other brokers: Registry.Sync keeps such a
// log rather than guess whether it was removed while n was down.
func keptLog(n *node, p int32, currentStart bool) bool {
	data, err := os.ReadFile(n.logPath)
	if i := bytes.LastIndex(data, []byte("=== chaos: start")); currentStart && i >= 0 {
		data = data[i:]
	}
	return err == nil && bytes.Contains(data, []byte(fmt.Sprintf("keeping its log\" partition=%s-%d", topic, p)))
}
