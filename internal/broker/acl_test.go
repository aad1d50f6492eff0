package broker_test

// ACL enforcement against a real broker. The clients here are unauthenticated
// (User:ANONYMOUS) and enforcement is forced on with authorizer.class.name, so the test
// does not depend on SASL: a first start makes ANONYMOUS a super user to lay down the
// ACLs that let it administer ACLs, and a restart without super users then holds it to
// them (which also shows that ACLs survive a restart).

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/nagare-dev/nagare/internal/broker"
	"github.com/nagare-dev/nagare/internal/brokertest"
)

const (
	anonymous          = "User:ANONYMOUS"
	standardAuthorizer = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
)

func TestACLsDisabledOnPlaintext(t *testing.T) {
	b := brokertest.Start(t)
	ctx := testContext(t)
	req := kmsg.NewPtrDescribeACLsRequest()
	req.ResourceType, req.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
	req.Operation, req.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	resp, err := req.RequestWith(ctx, b.Client())
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); !errors.Is(err, kerr.SecurityDisabled) {
		t.Fatalf("DescribeAcls on a PLAINTEXT broker: %v, want SECURITY_DISABLED", err)
	}
	// And nothing is enforced: produce works without any ACL.
	createTopic(t, b.Admin(), "open", 1, nil)
	if err := b.Client().ProduceSync(ctx, &kgo.Record{Topic: "open", Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// TestACLWarnsOfPlaintextListeners checks the start-up warning that enforcement covers
// PLAINTEXT listeners too, whose ANONYMOUS clients are then denied by default.
func TestACLWarnsOfPlaintextListeners(t *testing.T) {
	const warning = "ACLs are enforced on PLAINTEXT listeners too"
	for _, tc := range []struct {
		props map[string]string
		warn  bool
	}{
		{map[string]string{"authorizer.class.name": standardAuthorizer}, true},
		{map[string]string{"authorizer.class.name": standardAuthorizer, "allow.everyone.if.no.acl.found": "true"}, false},
		{map[string]string{"authorizer.class.name": standardAuthorizer, "super.users": anonymous}, false},
	} {
		var logs syncBuffer
		ctx := testContext(t)
		b, err := broker.Start(ctx, broker.Config{Properties: tc.props, DataDir: t.TempDir(), Listen: "127.0.0.1:0",
			Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(logs.String(), warning); got != tc.warn {
			t.Errorf("%v: warned %v, want %v; logs:\n%s", tc.props, got, tc.warn, logs.String())
		}
	}
}

func TestACLEnforcement(t *testing.T) {
	dir := t.TempDir()
	enforced := map[string]string{"authorizer.class.name": standardAuthorizer}
	first := brokertest.Start(t, brokertest.WithDataDir(dir),
		brokertest.WithProperties(map[string]string{"authorizer.class.name": standardAuthorizer, "super.users": anonymous}))
	adm := first.Admin()
	ctx := testContext(t)
	createTopic(t, adm, "billing.events", 1, nil)
	createTopic(t, adm, "other", 1, nil)
	topics, err := adm.ListTopics(ctx, "billing.events")
	if err != nil {
		t.Fatal(err)
	}
	billingID := topics["billing.events"].ID
	mustCreateACLs(t, adm, kadm.NewACLs().Allow(anonymous).Clusters().Operations(kadm.OpAlter))
	first.Stop()

	b := brokertest.Start(t, brokertest.WithDataDir(dir), brokertest.WithProperties(enforced))
	adm = b.Admin()
	cl := b.Client(kgo.DisableIdempotentWrite(), kgo.RecordRetries(0), kgo.ProducerLinger(0))

	// The ACL from before the restart is in force: ALTER on the cluster lets ANONYMOUS
	// describe ACLs (ALTER implies DESCRIBE), and it is the only one.
	if got := describeACLs(t, b, nil, kmsg.ACLResourcePatternTypeAny); len(got) != 1 || got[0].ResourceType != kmsg.ACLResourceTypeCluster {
		t.Fatalf("ACLs after restart: %+v", got)
	}

	// Without topic ACLs: no topics in Metadata, no produce, no fetch, no group.
	if names := metadataTopics(t, cl); len(names) != 0 {
		t.Fatalf("Metadata shows %v to a principal without DESCRIBE", names)
	}
	if err := produceOne(ctx, cl, "billing.events"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("produce without WRITE: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	if code := fetchCode(t, cl, "billing.events", billingID); code != kerr.TopicAuthorizationFailed.Code {
		t.Fatalf("fetch without READ: %v", kerr.ErrorForCode(code))
	}
	if code := joinCode(t, cl, "g"); code != kerr.GroupAuthorizationFailed.Code {
		t.Fatalf("join without READ on the group: %v", kerr.ErrorForCode(code))
	}
	if resp, err := adm.CreateTopic(ctx, 1, 1, nil, "billing.new"); !errors.Is(errors.Join(err, resp.Err), kerr.TopicAuthorizationFailed) {
		t.Fatalf("create topic without CREATE: %v / %v", err, resp.Err)
	}
	if code := epochCode(t, cl, "billing.events"); code != kerr.TopicAuthorizationFailed.Code {
		t.Fatalf("OffsetForLeaderEpoch without DESCRIBE: %v", kerr.ErrorForCode(code))
	}

	// Grant the billing. namespace (prefixed) and the group, then everything works.
	mustCreateACLs(t, adm, kadm.NewACLs().Allow(anonymous).Topics("billing.").
		ResourcePatternType(kadm.ACLPatternPrefixed).Operations(kadm.OpWrite, kadm.OpRead, kadm.OpCreate))
	mustCreateACLs(t, adm, kadm.NewACLs().Allow(anonymous).Groups("g").Operations(kadm.OpRead))
	if names := metadataTopics(t, cl); !slices.Equal(names, []string{"billing.events"}) {
		t.Fatalf("Metadata shows %v, want only billing.events", names)
	}
	// An idempotent producer: WRITE on some topic stands in for IDEMPOTENT_WRITE (KIP-679).
	if err := produceOne(ctx, b.Client(), "billing.events"); err != nil {
		t.Fatalf("produce with WRITE: %v", err)
	}
	if err := produceOne(ctx, cl, "other"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("produce to other: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	if code := fetchCode(t, cl, "billing.events", billingID); code != 0 {
		t.Fatalf("fetch with READ: %v", kerr.ErrorForCode(code))
	}
	if code := joinCode(t, cl, "g"); code != 0 && code != kerr.MemberIDRequired.Code {
		t.Fatalf("join with READ: %v", kerr.ErrorForCode(code))
	}
	consumeGroup(t, b, "g", "billing.events")
	// A consumer checking for truncation (KIP-320) needs DESCRIBE, which WRITE implies.
	if code := epochCode(t, cl, "billing.events"); code != 0 {
		t.Fatalf("OffsetForLeaderEpoch with DESCRIBE: %v", kerr.ErrorForCode(code))
	}
	if code := epochCode(t, cl, "other"); code != kerr.TopicAuthorizationFailed.Code {
		t.Fatalf("OffsetForLeaderEpoch of other: %v", kerr.ErrorForCode(code))
	}
	// KIP-430 operations also for a topic the principal may describe that does not exist,
	// as Kafka reports them.
	if code, ops := topicOperations(t, cl, "billing.missing"); code != kerr.UnknownTopicOrPartition.Code ||
		ops != 1<<kmsg.ACLOperationRead|1<<kmsg.ACLOperationWrite|1<<kmsg.ACLOperationCreate|1<<kmsg.ACLOperationDescribe {
		t.Fatalf("Metadata of billing.missing: %v, operations %b", kerr.ErrorForCode(code), ops)
	}

	// Filters: MATCH finds the prefixed ACLs that apply to billing.events; LITERAL does not.
	name := "billing.events"
	if got := describeACLs(t, b, &name, kmsg.ACLResourcePatternTypeMatch); len(got) != 3 {
		t.Fatalf("MATCH billing.events: %d ACLs, want 3: %+v", len(got), got)
	}
	if got := describeACLs(t, b, &name, kmsg.ACLResourcePatternTypeLiteral); len(got) != 0 {
		t.Fatalf("LITERAL billing.events: %+v", got)
	}

	// Delete READ on billing.: fetch is refused again, write still allowed.
	del, err := adm.DeleteACLs(ctx, kadm.NewACLs().Allow(anonymous).AllowHosts().Topics("billing.").
		ResourcePatternType(kadm.ACLPatternPrefixed).Operations(kadm.OpRead))
	if err != nil || len(del) != 1 || del[0].Err != nil || len(del[0].Deleted) != 1 {
		t.Fatalf("DeleteACLs: %v %+v", err, del)
	}
	if code := fetchCode(t, cl, "billing.events", billingID); code != kerr.TopicAuthorizationFailed.Code {
		t.Fatalf("fetch after READ was deleted: %v", kerr.ErrorForCode(code))
	}
	if err := produceOne(ctx, cl, "billing.events"); err != nil {
		t.Fatalf("produce after READ was deleted: %v", err)
	}

	// Invalid creations fail alone with INVALID_REQUEST.
	req := kmsg.NewPtrCreateACLsRequest()
	for _, c := range []struct {
		rt   kmsg.ACLResourceType
		name string
	}{{kmsg.ACLResourceTypeCluster, "not-kafka-cluster"}, {kmsg.ACLResourceTypeTopic, ""}, {kmsg.ACLResourceTypeTopic, "ok"}} {
		cr := kmsg.NewCreateACLsRequestCreation()
		cr.ResourceType, cr.ResourceName, cr.ResourcePatternType = c.rt, c.name, kmsg.ACLResourcePatternTypeLiteral
		cr.Principal, cr.Host, cr.Operation, cr.PermissionType = anonymous, "*", kmsg.ACLOperationRead, kmsg.ACLPermissionTypeDeny
		req.Creations = append(req.Creations, cr)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	var codes []int16
	for _, r := range resp.Results {
		codes = append(codes, r.ErrorCode)
	}
	if want := []int16{kerr.InvalidRequest.Code, kerr.InvalidRequest.Code, 0}; !slices.Equal(codes, want) {
		t.Fatalf("create codes %v, want %v", codes, want)
	}

	// A binding two filters match is reported under each, as Kafka does. Its host, given
	// in Java's spelling, is stored as "::1" and matched in either.
	mustCreateACLs(t, adm, kadm.NewACLs().Allow("User:carol").AllowHosts("0:0:0:0:0:0:0:1").
		Topics("twice").Operations(kadm.OpRead))
	delReq := kmsg.NewPtrDeleteACLsRequest()
	for _, host := range []string{"::1", "0:0:0:0:0:0:0:1"} {
		f := kmsg.NewDeleteACLsRequestFilter()
		f.ResourceType, f.ResourcePatternType = kmsg.ACLResourceTypeTopic, kmsg.ACLResourcePatternTypeAny
		f.Principal, f.Host = kmsg.StringPtr("User:carol"), kmsg.StringPtr(host)
		f.Operation, f.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
		delReq.Filters = append(delReq.Filters, f)
	}
	delResp, err := delReq.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range delResp.Results {
		if r.ErrorCode != 0 || len(r.MatchingACLs) != 1 || r.MatchingACLs[0].ResourceName != "twice" || r.MatchingACLs[0].Host != "::1" {
			t.Fatalf("DeleteAcls filter %d: %v %+v", i, kerr.ErrorForCode(r.ErrorCode), r.MatchingACLs)
		}
	}

	// DESCRIBE on a group also gives the operations of an unknown one, which v0-v5
	// describe as Dead without an error.
	mustCreateACLs(t, adm, kadm.NewACLs().Allow(anonymous).Groups("ghost").Operations(kadm.OpRead))
	v5 := kversion.Stable()
	v5.SetMaxKeyVersion(kmsg.DescribeGroups.Int16(), 5)
	groupsReq := kmsg.NewPtrDescribeGroupsRequest()
	groupsReq.Groups, groupsReq.IncludeAuthorizedOperations = []string{"ghost"}, true
	groupsResp, err := groupsReq.RequestWith(ctx, b.Client(kgo.MaxVersions(v5)))
	if err != nil {
		t.Fatal(err)
	}
	if g := groupsResp.Groups[0]; g.ErrorCode != 0 || g.AuthorizedOperations != 1<<kmsg.ACLOperationRead|1<<kmsg.ACLOperationDescribe {
		t.Fatalf("DescribeGroups of an unknown group: %v, operations %b", kerr.ErrorForCode(g.ErrorCode), g.AuthorizedOperations)
	}

	// Cluster-wide grants, as Kafka reads them: CLUSTER_ACTION answers OffsetForLeaderEpoch
	// for every topic, DELETE deletes any topic.
	if resp, err := adm.DeleteTopic(ctx, "other"); !errors.Is(errors.Join(err, resp.Err), kerr.TopicAuthorizationFailed) {
		t.Fatalf("delete topic without DELETE: %v / %v", err, resp.Err)
	}
	mustCreateACLs(t, adm, kadm.NewACLs().Allow(anonymous).Clusters().Operations(kadm.OpClusterAction, kadm.OpDelete))
	if code := epochCode(t, cl, "other"); code != 0 {
		t.Fatalf("OffsetForLeaderEpoch with CLUSTER_ACTION: %v", kerr.ErrorForCode(code))
	}
	if resp, err := adm.DeleteTopic(ctx, "other"); err != nil || resp.Err != nil {
		t.Fatalf("delete topic with DELETE on the cluster: %v / %v", err, resp.Err)
	}
}

// epochCode asks OffsetForLeaderEpoch about partition 0 of topic, straight to the
// broker: the client would otherwise look the topic's leader up first, and fail there
// on a topic it may not describe.
func epochCode(t *testing.T, cl *kgo.Client, topic string) int16 {
	t.Helper()
	meta, err := kmsg.NewPtrMetadataRequest().RequestWith(testContext(t), cl)
	if err != nil || len(meta.Brokers) == 0 {
		t.Fatalf("metadata: %v %+v", err, meta)
	}
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.ReplicaID = -1
	rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
	rp.CurrentLeaderEpoch, rp.LeaderEpoch = -1, 0
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := cl.Broker(int(meta.Brokers[0].NodeID)).Request(testContext(t), req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.(*kmsg.OffsetForLeaderEpochResponse).Topics[0].Partitions[0].ErrorCode
}

// topicOperations asks Metadata about one topic, without auto-creating it, for its
// error and KIP-430 authorized operations.
func topicOperations(t *testing.T, cl *kgo.Client, topic string) (int16, int32) {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, mt)
	req.IncludeTopicAuthorizedOperations = true
	resp, err := req.RequestWith(testContext(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Topics[0].ErrorCode, resp.Topics[0].AuthorizedOperations
}

func mustCreateACLs(t *testing.T, adm *kadm.Client, b *kadm.ACLBuilder) {
	t.Helper()
	res, err := adm.CreateACLs(testContext(t), b)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("create ACL %+v: %v %s", r, r.Err, r.ErrMessage)
		}
	}
}

// describeACLs lists every ACL matching a name (nil: any) and pattern type.
func describeACLs(t *testing.T, b *brokertest.Broker, name *string, pt kmsg.ACLResourcePatternType) []kmsg.DescribeACLsResponseResource {
	t.Helper()
	req := kmsg.NewPtrDescribeACLsRequest()
	req.ResourceType, req.ResourceName, req.ResourcePatternType = kmsg.ACLResourceTypeAny, name, pt
	req.Operation, req.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	resp, err := req.RequestWith(testContext(t), b.Client())
	if err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != 0 {
		t.Fatalf("DescribeAcls: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	var out []kmsg.DescribeACLsResponseResource
	for _, r := range resp.Resources {
		for _, a := range r.ACLs {
			one := r
			one.ACLs = []kmsg.DescribeACLsResponseResourceACL{a}
			out = append(out, one)
		}
	}
	return out
}

func metadataTopics(t *testing.T, cl *kgo.Client) []string {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest() // null topics: all
	resp, err := req.RequestWith(testContext(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tp := range resp.Topics {
		if tp.Topic != nil && *tp.Topic != "__consumer_offsets" {
			names = append(names, *tp.Topic)
		}
	}
	return names
}

func produceOne(ctx context.Context, cl *kgo.Client, topic string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("v")}).FirstErr()
}

// fetchCode fetches partition 0 of a topic, named by name and ID (the client picks the
// version, v13+ reads the ID).
func fetchCode(t *testing.T, cl *kgo.Client, topic string, id [16]byte) int16 {
	t.Helper()
	resp, err := fetchPartition0(topic, id).RequestWith(testContext(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}

func joinCode(t *testing.T, cl *kgo.Client, group string) int16 {
	t.Helper()
	req := kmsg.NewPtrJoinGroupRequest()
	req.Group, req.ProtocolType = group, "consumer"
	req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = 10000, 10000
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name = "range"
	req.Protocols = append(req.Protocols, p)
	resp, err := req.RequestWith(testContext(t), cl)
	var ke *kerr.Error
	if errors.As(err, &ke) { // FindCoordinator, which the client sends first, refused
		return ke.Code
	}
	if err != nil {
		t.Fatal(err)
	}
	return resp.ErrorCode
}

// consumeGroup reads a record of topic in a consumer group and commits it.
func consumeGroup(t *testing.T, b *brokertest.Broker, group, topic string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(testContext(t), 20*time.Second)
	defer cancel()
	cl := b.Client(kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	for {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("consume in group %s: %v", group, err)
		}
		if fs.NumRecords() > 0 {
			break
		}
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
}

// fetchPartition0 is a consumer's Fetch of partition 0 of one topic from offset 0, up to
// 1 MiB, without waiting.
func fetchPartition0(topic string, id [16]byte) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.MaxBytes = -1, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, id
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}
