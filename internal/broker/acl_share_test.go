package broker_test

// ACL enforcement of the share-group APIs (KIP-932), as Kafka's KafkaApis authorizes
// them, set up as TestACLTransactionsAndAdmin is: a first start with ANONYMOUS a super
// user makes share group g-ok (state, no members) and lays down the ACLs, a restart
// without super users holds ANONYMOUS to them. Requests go straight to the one broker.

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

var shareACLProps = map[string]string{
	"authorizer.class.name":                            standardAuthorizer,
	"group.share.heartbeat.interval.ms":                "200",
	"share.coordinator.state.topic.replication.factor": "1",
	"share.coordinator.state.topic.min.isr":            "1",
}

// TestACLShareGroups: g-ok allows READ (so DESCRIBE) but not DELETE, g-denied nothing;
// topic jobs allows DESCRIBE only, hidden nothing.
func TestACLShareGroups(t *testing.T) {
	dir := t.TempDir()
	first := brokertest.Start(t, brokertest.WithDataDir(dir), brokertest.WithProperties(withProp(shareACLProps, "super.users", anonymous)))
	adm := first.Admin()
	createTopic(t, adm, "jobs", 1, nil)
	createTopic(t, adm, "hidden", 1, nil)
	if code := shareHeartbeat(t, first.Client(), "g-ok", "setup", 0, "jobs"); code != 0 {
		t.Fatalf("ShareGroupHeartbeat join as a super user: %v", kerr.ErrorForCode(code))
	}
	if code := shareHeartbeat(t, first.Client(), "g-ok", "setup", -1); code != 0 {
		t.Fatalf("ShareGroupHeartbeat leave as a super user: %v", kerr.ErrorForCode(code))
	}
	if code := alterShareOffsets(t, first.Client(), "g-ok", "jobs"); code != 0 {
		t.Fatalf("AlterShareGroupOffsets as a super user: %v", kerr.ErrorForCode(code))
	}
	mustCreateACLs(t, adm, kadm.NewACLs().Allow(anonymous).Groups("g-ok").Operations(kadm.OpRead))
	mustCreateACLs(t, adm, kadm.NewACLs().Allow(anonymous).Topics("jobs").Operations(kadm.OpDescribe))
	topics, err := adm.ListTopics(testContext(t), "jobs")
	if err != nil {
		t.Fatal(err)
	}
	jobsID := topics["jobs"].ID
	first.Stop()

	b := brokertest.Start(t, brokertest.WithDataDir(dir), brokertest.WithProperties(shareACLProps))
	cl := b.Client()
	checkShareOffsetsACLs(t, cl)
	if code := shareHeartbeat(t, cl, "g-denied", "m1", 0, "jobs"); code != kerr.GroupAuthorizationFailed.Code {
		t.Errorf("ShareGroupHeartbeat without READ on the group: %v", kerr.ErrorForCode(code))
	}
	if code := shareHeartbeat(t, cl, "g-ok", "m1", 0, "hidden"); code != kerr.TopicAuthorizationFailed.Code {
		t.Errorf("ShareGroupHeartbeat without DESCRIBE on the topic: %v", kerr.ErrorForCode(code))
	}
	if code := shareHeartbeat(t, cl, "g-ok", "m1", 0, "jobs"); code != 0 {
		t.Fatalf("ShareGroupHeartbeat with READ on the group, DESCRIBE on the topic: %v", kerr.ErrorForCode(code))
	}
	if top, _ := shareFetchCodes(t, cl, "g-denied", "m1", jobsID); top != kerr.GroupAuthorizationFailed.Code {
		t.Errorf("ShareFetch without READ on the group: %v", kerr.ErrorForCode(top))
	}
	if top, part := shareFetchCodes(t, cl, "g-ok", "m1", jobsID); top != 0 || part != kerr.TopicAuthorizationFailed.Code {
		t.Errorf("ShareFetch without READ on the topic: top %v, partition %v", kerr.ErrorForCode(top), kerr.ErrorForCode(part))
	}
}

// checkShareOffsetsACLs checks the operator APIs on the empty share group g-ok and on
// g-denied: DESCRIBE, READ and DELETE on the group, DESCRIBE or READ on the topics.
func checkShareOffsetsACLs(t *testing.T, cl *kgo.Client) {
	t.Helper()
	if top, _ := describeShareOffsets(t, cl, "g-denied", "jobs"); top != kerr.GroupAuthorizationFailed.Code {
		t.Errorf("DescribeShareGroupOffsets without DESCRIBE on the group: %v", kerr.ErrorForCode(top))
	}
	if top, part := describeShareOffsets(t, cl, "g-ok", "hidden"); top != 0 || part != kerr.TopicAuthorizationFailed.Code {
		t.Errorf("DescribeShareGroupOffsets without DESCRIBE on the topic: top %v, partition %v", kerr.ErrorForCode(top), kerr.ErrorForCode(part))
	}
	if top, part := describeShareOffsets(t, cl, "g-ok", "jobs"); top != 0 || part != 0 {
		t.Errorf("DescribeShareGroupOffsets with DESCRIBE: top %v, partition %v", kerr.ErrorForCode(top), kerr.ErrorForCode(part))
	}
	if code := alterShareOffsets(t, cl, "g-denied", "jobs"); code != kerr.GroupAuthorizationFailed.Code {
		t.Errorf("AlterShareGroupOffsets without READ on the group: %v", kerr.ErrorForCode(code))
	}
	if code := alterShareOffsets(t, cl, "g-ok", "jobs"); code != kerr.TopicAuthorizationFailed.Code {
		t.Errorf("AlterShareGroupOffsets without READ on the topic (DESCRIBE only): %v", kerr.ErrorForCode(code))
	}
	if top, _ := deleteShareOffsets(t, cl, "g-ok", "jobs"); top != kerr.GroupAuthorizationFailed.Code {
		t.Errorf("DeleteShareGroupOffsets without DELETE on the group (READ only): %v", kerr.ErrorForCode(top))
	}
}

func shareHeartbeat(t *testing.T, cl *kgo.Client, group, member string, epoch int32, topics ...string) int16 {
	t.Helper()
	req := kmsg.NewPtrShareGroupHeartbeatRequest()
	req.GroupID, req.MemberID, req.MemberEpoch = group, member, epoch
	if epoch == 0 {
		req.SubscribedTopicNames = topics
	}
	return whileLoading(t, func() int16 { return direct(t, cl, req).(*kmsg.ShareGroupHeartbeatResponse).ErrorCode })
}

// whileLoading calls f again while it answers that the coordinator is still loading or
// not yet there (just after a start), for up to 10 s.
func whileLoading(t *testing.T, f func() int16) int16 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code := f()
		retry := code == kerr.CoordinatorLoadInProgress.Code || code == kerr.CoordinatorNotAvailable.Code
		if !retry || time.Now().After(deadline) {
			return code
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// alterShareOffsets moves partition 0 of topic to offset 0 and answers the partition's
// code (which carries the top-level one too).
func alterShareOffsets(t *testing.T, cl *kgo.Client, group, topic string) int16 {
	t.Helper()
	req := kmsg.NewPtrAlterShareGroupOffsetsRequest()
	req.GroupID = group
	rt := kmsg.NewAlterShareGroupOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewAlterShareGroupOffsetsRequestTopicPartition()
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return whileLoading(t, func() int16 {
		resp := direct(t, cl, req).(*kmsg.AlterShareGroupOffsetsResponse)
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			t.Fatalf("AlterShareGroupOffsets response: %+v", resp)
		}
		return resp.Topics[0].Partitions[0].ErrorCode
	})
}

// describeShareOffsets answers the group's code and that of partition 0 of topic.
func describeShareOffsets(t *testing.T, cl *kgo.Client, group, topic string) (top, part int16) {
	t.Helper()
	req := kmsg.NewPtrDescribeShareGroupOffsetsRequest()
	g := kmsg.NewDescribeShareGroupOffsetsRequestGroup()
	g.GroupID = group
	rt := kmsg.NewDescribeShareGroupOffsetsRequestGroupTopic()
	rt.Topic, rt.Partitions = topic, []int32{0}
	g.Topics = append(g.Topics, rt)
	req.Groups = append(req.Groups, g)
	var rg kmsg.DescribeShareGroupOffsetsResponseGroup
	whileLoading(t, func() int16 { // right after a restart the share state may be loading
		resp := direct(t, cl, req).(*kmsg.DescribeShareGroupOffsetsResponse)
		if len(resp.Groups) != 1 {
			t.Fatalf("DescribeShareGroupOffsets response: %+v", resp)
		}
		rg = resp.Groups[0]
		return rg.ErrorCode
	})
	if len(rg.Topics) == 1 && len(rg.Topics[0].Partitions) == 1 {
		part = rg.Topics[0].Partitions[0].ErrorCode
	}
	return rg.ErrorCode, part
}

// deleteShareOffsets answers the top-level code and topic's.
func deleteShareOffsets(t *testing.T, cl *kgo.Client, group, topic string) (top, topicCode int16) {
	t.Helper()
	req := kmsg.NewPtrDeleteShareGroupOffsetsRequest()
	req.GroupID = group
	rt := kmsg.NewDeleteShareGroupOffsetsRequestTopic()
	rt.Topic = topic
	req.Topics = append(req.Topics, rt)
	resp := direct(t, cl, req).(*kmsg.DeleteShareGroupOffsetsResponse)
	if len(resp.Topics) == 1 {
		topicCode = resp.Topics[0].ErrorCode
	}
	return resp.ErrorCode, topicCode
}

// shareFetchCodes opens a share session on partition 0 of the topic and answers the
// top-level code and the partition's.
func shareFetchCodes(t *testing.T, cl *kgo.Client, group, member string, topicID [16]byte) (top, part int16) {
	t.Helper()
	req := kmsg.NewPtrShareFetchRequest()
	req.GroupID, req.MemberID, req.ShareSessionEpoch = &group, &member, 0
	req.MaxWaitMillis, req.MaxBytes = 0, 1<<20
	rt := kmsg.NewShareFetchRequestTopic()
	rt.TopicID = topicID
	rp := kmsg.NewShareFetchRequestTopicPartition()
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := direct(t, cl, req).(*kmsg.ShareFetchResponse)
	if len(resp.Topics) == 1 && len(resp.Topics[0].Partitions) == 1 {
		part = resp.Topics[0].Partitions[0].ErrorCode
	}
	return resp.ErrorCode, part
}
