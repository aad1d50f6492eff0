package broker_test

// State that must hold cluster-wide, not on one broker: a consumer group's committed
// offsets when its coordinator dies (they live in a replicated __consumer_offsets
// partition, and the broker that takes it over must serve them), and the security
// state an administrator changes through one broker (SCRAM users, ACLs and client
// quotas are metadata records, in force on every broker once applied).

import (
	"context"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/auth"
	"github.com/nagare-dev/nagare/internal/brokertest"
	"github.com/nagare-dev/nagare/internal/quota"
)

// haltAtCleanup halts the cluster's brokers at the end of a test, before StartCluster's
// graceful stops: one by one, the last brokers' controlled shutdowns would each wait
// seconds for a quorum that has already left.
func haltAtCleanup(t *testing.T, brokers []*brokertest.Broker) {
	t.Cleanup(func() {
		for _, b := range brokers {
			b.Kill()
		}
	})
}

// TestGroupCoordinatorFailover kills the coordinator of a group right after the group
// committed offsets: the leadership of the group's __consumer_offsets partition (three
// replicas) moves to a survivor, which FindCoordinator then names; that broker serves
// the offsets as committed, the other survivor answers NOT_COORDINATOR to OffsetFetch
// and OffsetCommit, and a consumer of the group resumes from the committed offsets.
//
// The commit is the last record the old coordinator writes (the member is static, so
// closing it sends no LeaveGroup), and the kill follows at once: the commit survives only
// if the coordinator acknowledged it once the ISR held it (it once did not, and the
// offsets were lost in 5 runs of 6). A new leader must also load its log to the end, not
// to its high watermark, which may not cover the commit yet; but an in-process kill
// (Halt) still answers the followers' pending fetches, which tells them, so that case is
// group.TestLoadReadsToLogEnd's.
func TestGroupCoordinatorFailover(t *testing.T) {
	brokers := brokertest.StartCluster(t, 3, brokertest.WithProperties(map[string]string{
		"broker.heartbeat.interval.ms":     "100",
		"broker.session.timeout.ms":        "1000",
		"offsets.topic.replication.factor": "3",
		"offsets.topic.num.partitions":     "3",
		"group.initial.rebalance.delay.ms": "0",
		"replica.fetch.backoff.ms":         "100",
	}))
	haltAtCleanup(t, brokers)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const topic, groupID, instance = "resume", "failover-group", "resumer"
	createClusterTopic(ctx, t, brokers[0].Admin(), topic, 2, 3)
	// A short metadata age: the broker asked first may not know the new topic yet, and
	// franz-go would otherwise look again only after 5 s.
	producer := brokers[0].Client(kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.MetadataMinAge(50*time.Millisecond))
	for i := range 20 {
		r := &kgo.Record{Topic: topic, Partition: int32(i % 2), Value: fmt.Appendf(nil, "v%d", i)}
		if err := producer.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}

	first := brokers[0].Client(kgo.ConsumerGroup(groupID), kgo.ConsumeTopics(topic), kgo.InstanceID(instance),
		kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.MetadataMinAge(50*time.Millisecond),
		kgo.FetchMaxWait(500*time.Millisecond))
	if got := pollValues(t, first, 20); len(got) != 20 {
		t.Fatalf("the first member consumed %d records, want 20", len(got))
	}
	want := map[int32]int64{0: 4, 1: 7}
	commitAsMember(ctx, t, first, topic, want)
	first.Close() // static: no LeaveGroup, so the commit stays the group's last record

	dead, err := findGroupCoordinator(ctx, brokers[0].Client().SeedBrokers()[0], groupID)
	if err != nil {
		t.Fatalf("find coordinator: %v", err)
	}
	var survivors []int32
	for id := int32(1); id <= 3; id++ {
		if id != dead {
			survivors = append(survivors, id)
		}
	}
	seeds := map[int32]*kgo.Broker{}
	for _, id := range survivors {
		seeds[id] = brokers[id-1].Client().SeedBrokers()[0]
	}
	brokers[dead-1].Kill()
	start := time.Now()

	coordinator := waitNewCoordinator(ctx, t, seeds, dead, groupID)
	t.Logf("coordinator %d killed; survivors name %d after %v", dead, coordinator, time.Since(start).Round(time.Millisecond))

	other := survivors[0]
	if other == coordinator {
		other = survivors[1]
	}
	if code := offsetFetchCode(ctx, t, seeds[other], groupID, topic); code != kerr.NotCoordinator.Code {
		t.Errorf("OffsetFetch on non-coordinator broker %d: %v, want NOT_COORDINATOR", other, kerr.ErrorForCode(code))
	}
	if code := offsetCommitCode(ctx, t, seeds[other], groupID, topic, topicID(t, brokers[other-1], topic)); code != kerr.NotCoordinator.Code {
		t.Errorf("OffsetCommit on non-coordinator broker %d: %v, want NOT_COORDINATOR", other, kerr.ErrorForCode(code))
	}

	// A client that knows only the new coordinator: FindCoordinator and OffsetFetch both
	// reach it (franz-go retries COORDINATOR_LOAD_IN_PROGRESS itself).
	fetched, err := brokers[coordinator-1].Admin().FetchOffsets(ctx, groupID)
	if err != nil {
		t.Fatalf("fetch offsets from the new coordinator: %v", err)
	}
	for p, at := range want {
		got, ok := fetched.Lookup(topic, p)
		if !ok || got.Err != nil || got.At != at {
			t.Errorf("%s-%d on the new coordinator: offset %d (found %v, err %v), want %d", topic, p, got.At, ok, got.Err, at)
		}
	}

	// The member comes back (same instance id) and resumes at the committed offsets: it
	// reads the records from them on, and none before (its reset policy is the start).
	second := brokers[coordinator-1].Client(kgo.ConsumerGroup(groupID), kgo.ConsumeTopics(topic),
		kgo.InstanceID(instance), kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(500*time.Millisecond)) // a fetch still long-polling holds the brokers' shutdown
	checkResumed(ctx, t, second, topic, want, 10)
	t.Logf("resumed %v after the kill", time.Since(start).Round(time.Millisecond))
}

// commitAsMember commits offsets for partitions of topic through a group member's
// client (its member id and generation), failing the test on any error.
func commitAsMember(ctx context.Context, t *testing.T, cl *kgo.Client, topic string, offsets map[int32]int64) {
	t.Helper()
	commit := map[string]map[int32]kgo.EpochOffset{topic: {}}
	for p, at := range offsets {
		commit[topic][p] = kgo.EpochOffset{Epoch: -1, Offset: at}
	}
	var commitErr error
	cl.CommitOffsetsSync(ctx, commit, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		commitErr = err
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				if err := kerr.ErrorForCode(rp.ErrorCode); err != nil && commitErr == nil {
					commitErr = fmt.Errorf("%s-%d: %w", rt.Topic, rp.Partition, err)
				}
			}
		}
	})
	if commitErr != nil {
		t.Fatalf("commit: %v", commitErr)
	}
}

// checkResumed polls a group member until it has read each partition of topic from its
// committed offset to end, and checks that it read exactly those offsets, in order.
func checkResumed(ctx context.Context, t *testing.T, cl *kgo.Client, topic string, committed map[int32]int64, end int64) {
	t.Helper()
	resumed := map[int32][]int64{}
	waitFor(t, 15*time.Second, func() bool {
		pollCtx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		cl.PollFetches(pollCtx).EachRecord(func(r *kgo.Record) {
			resumed[r.Partition] = append(resumed[r.Partition], r.Offset)
		})
		for p, at := range committed {
			if int64(len(resumed[p])) < end-at {
				return false
			}
		}
		return true
	}, func() string { return fmt.Sprintf("the resumed member read offsets %v", resumed) })
	for p, at := range committed {
		var expect []int64
		for o := at; o < end; o++ {
			expect = append(expect, o)
		}
		if !slices.Equal(resumed[p], expect) {
			t.Errorf("%s-%d: the resumed member read offsets %v, want %v", topic, p, resumed[p], expect)
		}
	}
}

// waitNewCoordinator waits until every broker of seeds names the same coordinator of
// groupID, not the dead one (once it is fenced), and returns it.
func waitNewCoordinator(ctx context.Context, t *testing.T, seeds map[int32]*kgo.Broker, dead int32, groupID string) int32 {
	t.Helper()
	var coordinator int32
	waitFor(t, testSessionTimeout+10*time.Second, func() bool {
		coordinator = 0
		for _, seed := range seeds {
			node, err := findGroupCoordinator(ctx, seed, groupID)
			if err != nil || node == dead || (coordinator != 0 && node != coordinator) {
				return false
			}
			coordinator = node
		}
		return true
	}, func() string { return fmt.Sprintf("a coordinator other than the dead broker %d", dead) })
	return coordinator
}

// findGroupCoordinator asks one broker which node coordinates groupID.
func findGroupCoordinator(ctx context.Context, seed *kgo.Broker, groupID string) (int32, error) {
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorKey, req.CoordinatorKeys = groupID, []string{groupID}
	resp, err := req.RequestWith(ctx, seed)
	if err != nil {
		return 0, err
	}
	node, code := resp.NodeID, resp.ErrorCode
	if len(resp.Coordinators) == 1 {
		node, code = resp.Coordinators[0].NodeID, resp.Coordinators[0].ErrorCode
	}
	return node, kerr.ErrorForCode(code)
}

// offsetFetchCode sends OffsetFetch for partitions 0 and 1 of topic straight to seed and
// returns the group's error code (top level before v8, per group from v8).
func offsetFetchCode(ctx context.Context, t *testing.T, seed *kgo.Broker, groupID, topic string) int16 {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic, rt.Partitions = topic, []int32{0, 1}
	req.Group, req.Topics = groupID, []kmsg.OffsetFetchRequestTopic{rt}
	rg := kmsg.NewOffsetFetchRequestGroup()
	gt := kmsg.NewOffsetFetchRequestGroupTopic()
	gt.Topic, gt.Partitions = topic, []int32{0, 1}
	rg.Group, rg.Topics = groupID, []kmsg.OffsetFetchRequestGroupTopic{gt}
	req.Groups = []kmsg.OffsetFetchRequestGroup{rg}
	resp, err := req.RequestWith(ctx, seed)
	if err != nil {
		t.Fatalf("OffsetFetch: %v", err)
	}
	if len(resp.Groups) == 1 {
		return resp.Groups[0].ErrorCode
	}
	return resp.ErrorCode
}

// offsetCommitCode sends an OffsetCommit of offset 0 for partition 0 of topic (named
// both ways: by id from v10), as an admin tool does (no member, generation -1), straight
// to seed and returns its code.
func offsetCommitCode(ctx context.Context, t *testing.T, seed *kgo.Broker, groupID, topic string, id [16]byte) int16 {
	t.Helper()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.Generation = groupID, -1
	rt := kmsg.NewOffsetCommitRequestTopic()
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset, rp.LeaderEpoch = 0, 0, -1
	rt.Topic, rt.TopicID, rt.Partitions = topic, id, []kmsg.OffsetCommitRequestTopicPartition{rp}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, seed)
	if err != nil {
		t.Fatalf("OffsetCommit: %v", err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("OffsetCommit answered %+v", resp)
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}

const danaPassword = "dana-secret"

// TestClusterWideSecurityState changes security state through one broker, A, and checks
// it on the two others, B and C. A is not the active controller: it forwards the
// changes, which every broker then applies from the metadata log. A SCRAM user created
// on A authenticates on B and C; an ACL created on A lets that user produce to its topic
// on B and C, while a topic it does not cover stays TOPIC_AUTHORIZATION_FAILED; a client
// quota set on A is described by C and throttles the user's produce there.
func TestClusterWideSecurityState(t *testing.T) {
	brokers := startSASLCluster(t)
	haltAtCleanup(t, brokers)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, b := range brokers {
		waitSASLBrokers(ctx, t, b, len(brokers))
	}
	meta, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, pinnedAdmin(t, brokers[0]))
	if err != nil {
		t.Fatal(err)
	}
	sc := &secureCluster{t: t, ctx: ctx, node: map[*brokertest.Broker]int32{}, ids: map[string][16]byte{},
		led: map[string]map[*brokertest.Broker]int32{}, dana: map[*brokertest.Broker]*kgo.Broker{}}
	for i, b := range brokers {
		sc.node[b] = int32(i + 1)
		if sc.node[b] != meta.ControllerID && sc.a == nil {
			sc.a = b
		} else {
			sc.others = append(sc.others, b)
		}
	}
	sc.adminA = kadm.NewClient(pinnedAdmin(t, sc.a))
	for _, topic := range []string{"granted", "denied"} {
		createClusterTopic(ctx, t, sc.adminA, topic, 3, 1)
		sc.findLeaders(topic)
	}
	sc.checkSCRAMUser()
	sc.checkACL()
	throttle := sc.checkQuota()
	t.Logf("controller %d, changes made through broker %d; quota throttled a produce on broker %d for %d ms",
		meta.ControllerID, sc.node[sc.a], sc.node[sc.others[1]], throttle)
}

// secureCluster is TestClusterWideSecurityState's cluster: a is where changes are made,
// others are B and C, where they are checked.
type secureCluster struct {
	t      *testing.T
	ctx    context.Context
	a      *brokertest.Broker
	others []*brokertest.Broker
	node   map[*brokertest.Broker]int32
	adminA *kadm.Client
	ids    map[string][16]byte                     // topic ids
	led    map[string]map[*brokertest.Broker]int32 // by topic, a partition each of B and C leads
	dana   map[*brokertest.Broker]*kgo.Broker      // dana's connection to each of B and C
}

// findLeaders records topic's id and a partition that each of B and C leads (rf 1: the
// leader alone holds it, so a Produce sent to that broker is served by it).
func (sc *secureCluster) findLeaders(topic string) {
	sc.t.Helper()
	sc.led[topic] = map[*brokertest.Broker]int32{}
	for _, b := range sc.others {
		adm := kadm.NewClient(pinnedAdmin(sc.t, b))
		leaders := partitionLeaders(sc.ctx, sc.t, adm, topic, 3)
		p := slices.Index(leaders, sc.node[b])
		if p < 0 {
			sc.t.Fatalf("broker %d leads no partition of %s: %v", sc.node[b], topic, leaders)
		}
		sc.led[topic][b] = int32(p)
		details, err := adm.ListTopics(sc.ctx, topic)
		if err != nil {
			sc.t.Fatal(err)
		}
		sc.ids[topic] = details[topic].ID
	}
}

// produceOn sends one record through seed, a connection to b, to the partition of topic
// that b leads, and returns the partition's error code and the response's throttle.
func (sc *secureCluster) produceOn(b *brokertest.Broker, seed *kgo.Broker, topic string, value []byte) (int16, int32) {
	sc.t.Helper()
	return pinnedProduce(sc.ctx, sc.t, seed, topic, sc.ids[topic], sc.led[topic][b], value)
}

// checkSCRAMUser: dana is unknown on B until created on A, then authenticates on B and C.
func (sc *secureCluster) checkSCRAMUser() {
	t := sc.t
	t.Helper()
	if err := authenticateOn(sc.ctx, t, sc.others[0]); err == nil {
		t.Fatal("dana authenticated before her credential was created")
	}
	altered, err := sc.adminA.AlterUserSCRAMs(sc.ctx, nil, []kadm.UpsertSCRAM{{User: "dana", Mechanism: kadm.ScramSha256, Password: danaPassword}})
	if err == nil && len(altered) == 1 {
		altered.EachError(func(u kadm.AlteredUserSCRAM) { err = fmt.Errorf("%s: %w %s", u.User, u.Err, u.ErrMessage) })
	}
	if err != nil || len(altered) != 1 {
		t.Fatalf("AlterUserSCRAMs on broker A: %v %+v", err, altered)
	}
	for _, b := range sc.others {
		var authErr error
		waitFor(t, 5*time.Second, func() bool {
			authErr = authenticateOn(sc.ctx, t, b)
			return authErr == nil
		}, func() string { return fmt.Sprintf("dana authenticating on broker %d: %v", sc.node[b], authErr) })
		sc.dana[b] = saslClient(t, b, "SASL_PLAINTEXT", scram256("dana", danaPassword), nil).SeedBrokers()[0]
	}
}

// checkACL: WRITE on granted, created on A, lets dana produce to it on B and C (denied
// before), while denied, which no ACL covers, stays TOPIC_AUTHORIZATION_FAILED.
func (sc *secureCluster) checkACL() {
	t := sc.t
	t.Helper()
	b := sc.others[0]
	if code, _ := sc.produceOn(b, sc.dana[b], "granted", []byte("v")); code != kerr.TopicAuthorizationFailed.Code {
		t.Fatalf("produce to granted before the ACL: %v, want TOPIC_AUTHORIZATION_FAILED", kerr.ErrorForCode(code))
	}
	mustCreateACLs(t, sc.adminA, kadm.NewACLs().Allow("User:dana").Topics("granted").Operations(kadm.OpWrite))
	for _, b := range sc.others {
		var code int16
		waitFor(t, 5*time.Second, func() bool {
			code, _ = sc.produceOn(b, sc.dana[b], "granted", []byte("v"))
			return code == 0
		}, func() string {
			return fmt.Sprintf("dana producing to granted on broker %d: %v", sc.node[b], kerr.ErrorForCode(code))
		})
		if code, _ := sc.produceOn(b, sc.dana[b], "denied", []byte("v")); code != kerr.TopicAuthorizationFailed.Code {
			t.Errorf("dana producing to denied on broker %d: %v, want TOPIC_AUTHORIZATION_FAILED", sc.node[b], kerr.ErrorForCode(code))
		}
	}
}

// checkQuota: 1000 B/s for dana's client "metered", set on A, is described by C and in
// force there: 2000 bytes at once are throttled. It returns the throttle.
func (sc *secureCluster) checkQuota() int32 {
	t := sc.t
	t.Helper()
	c := sc.others[1]
	user, client := "dana", "metered"
	entity := kadm.ClientQuotaEntity{{Type: "user", Name: &user}, {Type: "client-id", Name: &client}}
	alterQuota(t, sc.adminA, entity, kadm.AlterClientQuotaOp{Key: "producer_byte_rate", Value: 1000})
	adminC := kadm.NewClient(pinnedAdmin(t, c))
	var described kadm.DescribedClientQuotas
	var err error
	waitFor(t, 5*time.Second, func() bool {
		described, err = adminC.DescribeClientQuotas(sc.ctx, true, []kadm.DescribeClientQuotaComponent{
			{Type: "user", MatchName: &user, MatchType: kmsg.QuotasMatchTypeExact},
			{Type: "client-id", MatchName: &client, MatchType: kmsg.QuotasMatchTypeExact},
		})
		return err == nil && len(described) == 1
	}, func() string { return fmt.Sprintf("broker %d describes %+v, %v", sc.node[c], described, err) })
	if got := described[0].Values; len(got) != 1 || got[0] != (kadm.ClientQuotaValue{Key: "producer_byte_rate", Value: 1000}) {
		t.Errorf("broker %d describes the quota as %v, want producer_byte_rate=1000", sc.node[c], got)
	}
	// Described (from the image) comes a moment before enforced (the quota manager).
	waitFor(t, 5*time.Second, func() bool {
		limit, _ := c.Quotas().Limit(quota.ProducerByteRate, user, client)
		return limit == 1000
	}, func() string { return fmt.Sprintf("broker %d never enforced the quota", sc.node[c]) })
	metered := saslClient(t, c, "SASL_PLAINTEXT", scram256("dana", danaPassword), nil, kgo.ClientID(client)).SeedBrokers()[0]
	code, throttle := sc.produceOn(c, metered, "granted", make([]byte, 2000))
	if code != 0 || throttle <= 0 {
		t.Errorf("2000 bytes from %s/%s on broker %d against 1000 B/s: %v, throttled %d ms; want no error and a throttle",
			user, client, sc.node[c], kerr.ErrorForCode(code), throttle)
	}
	return throttle
}

// startSASLCluster starts three brokers whose only Kafka listener is SASL_PLAINTEXT with
// SCRAM-SHA-256 and -512 (ACLs are enforced on it), User:admin the super user and the
// inter-broker user, and quota windows short enough that a produce is throttled at once.
func startSASLCluster(t *testing.T) []*brokertest.Broker {
	t.Helper()
	spec, err := auth.ParseScramSpec("SCRAM-SHA-512=[name=admin,iterations=4096,password=" + adminPassword + "]")
	if err != nil {
		t.Fatal(err)
	}
	props := map[string]string{
		"sasl.enabled.mechanisms":              "SCRAM-SHA-256,SCRAM-SHA-512",
		"sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
		"listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config": `org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="` +
			adminPassword + `";`,
		"super.users":                  "User:admin",
		"broker.heartbeat.interval.ms": "100",
	}
	for k, v := range shortWindows {
		props[k] = v
	}
	return brokertest.StartCluster(t, 3, brokertest.WithSecurityProtocol("SASL_PLAINTEXT"),
		brokertest.WithAddScram(spec), brokertest.WithProperties(props))
}

// pinnedAdmin is a SCRAM admin client whose every connection goes to b, whichever
// broker franz-go means to reach: what it would send to the controller or to any
// broker is served by b, which forwards what only the controller may do.
func pinnedAdmin(t *testing.T, b *brokertest.Broker) *kgo.Client {
	t.Helper()
	addr := listenerAddr(t, b, "SASL_PLAINTEXT")
	var d net.Dialer
	return saslClient(t, b, "SASL_PLAINTEXT", scram512("admin", adminPassword), nil,
		kgo.RetryTimeout(10*time.Second), kgo.RequestRetries(20),
		kgo.MetadataMinAge(20*time.Millisecond), // kadm's Metadata answers from a cache that old
		kgo.Dialer(func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		}))
}

// waitSASLBrokers waits until b lists n brokers (StartCluster leaves that to tests of
// secured clusters).
func waitSASLBrokers(ctx context.Context, t *testing.T, b *brokertest.Broker, n int) {
	t.Helper()
	cl := pinnedAdmin(t, b)
	var listed int
	waitFor(t, 10*time.Second, func() bool {
		resp, err := kmsg.NewPtrDescribeClusterRequest().RequestWith(ctx, cl)
		if err != nil {
			return false
		}
		listed = len(resp.Brokers)
		return listed == n
	}, func() string { return fmt.Sprintf("broker at %s lists %d brokers, want %d", b.Addr(), listed, n) })
}

// authenticateOn authenticates dana with SCRAM-SHA-256 on a new connection to b.
func authenticateOn(ctx context.Context, t *testing.T, b *brokertest.Broker) error {
	t.Helper()
	cl := saslClient(t, b, "SASL_PLAINTEXT", scram256("dana", danaPassword), nil)
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{} // none: only the connection matters
	_, err := req.RequestWith(ctx, cl.SeedBrokers()[0])
	return err
}

// pinnedProduce sends one record to a partition straight to seed (acks=all) and
// returns the partition's error code and the response's throttle.
func pinnedProduce(ctx context.Context, t *testing.T, seed *kgo.Broker, topic string, id [16]byte, partition int32, value []byte) (int16, int32) {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic, rt.TopicID = topic, id // v13 names topics by id
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = partition, recordBatch(string(value))
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, seed)
	if err != nil {
		t.Fatalf("produce to %s-%d: %v", topic, partition, err)
	}
	return resp.Topics[0].Partitions[0].ErrorCode, resp.ThrottleMillis
}
