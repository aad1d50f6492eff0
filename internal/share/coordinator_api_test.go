package share_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestShareStateAPIs drives APIs 83-86 as another broker would: bad state is refused,
// older leader epochs and state epochs are fenced, reads return what was written.
func TestShareStateAPIs(t *testing.T) {
	b := shareBroker(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := b.Client()
	create := kmsg.NewPtrShareFetchRequest() // creates __share_group_state
	create.GroupID, create.MemberID = kmsg.StringPtr("g"), kmsg.StringPtr("m")
	_, _ = create.RequestWith(ctx, cl)
	topicID := [16]byte{1, 2, 3}
	write := func(leaderEpoch, stateEpoch int32, state int8) int16 {
		req := kmsg.NewPtrWriteShareGroupStateRequest()
		req.GroupID = "g"
		rt := kmsg.NewWriteShareGroupStateRequestTopic()
		rt.TopicID = topicID
		rp := kmsg.NewWriteShareGroupStateRequestTopicPartition()
		rp.LeaderEpoch, rp.StateEpoch, rp.StartOffset = leaderEpoch, stateEpoch, 10
		sb := kmsg.NewWriteShareGroupStateRequestTopicPartitionStateBatch()
		sb.FirstOffset, sb.LastOffset, sb.DeliveryState, sb.DeliveryCount = 10, 14, state, 1
		rp.StateBatches = append(rp.StateBatches, sb)
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		for ctx.Err() == nil {
			resp, err := req.RequestWith(ctx, cl)
			if err != nil {
				t.Fatal(err)
			}
			code := resp.Topics[0].Partitions[0].ErrorCode
			if code != kerr.NotCoordinator.Code { // the state topic may still be electing
				return code
			}
			time.Sleep(50 * time.Millisecond)
		}
		return -1
	}
	read := func(leaderEpoch int32) kmsg.ReadShareGroupStateResponseTopicPartition {
		req := kmsg.NewPtrReadShareGroupStateRequest()
		req.GroupID = "g"
		rt := kmsg.NewReadShareGroupStateRequestTopic()
		rt.TopicID = topicID
		rp := kmsg.NewReadShareGroupStateRequestTopicPartition()
		rp.LeaderEpoch = leaderEpoch
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0].Partitions[0]
	}
	if code := write(5, 0, 1); code != kerr.InvalidRequest.Code { // 1 (acquired) is never written
		t.Fatalf("writing state 1: %v", kerr.ErrorForCode(code))
	}
	if code := write(5, 0, 2); code != 0 {
		t.Fatalf("write: %v", kerr.ErrorForCode(code))
	}
	if code := write(4, 0, 2); code != kerr.FencedLeaderEpoch.Code {
		t.Fatalf("write at an older leader epoch: %v", kerr.ErrorForCode(code))
	}
	if got := read(4); got.ErrorCode != kerr.FencedLeaderEpoch.Code {
		t.Fatalf("read at an older leader epoch: %v", kerr.ErrorForCode(got.ErrorCode))
	}
	got := read(5)
	// The acknowledged prefix [10, 14] is done: the start moves past it on restore, but
	// the coordinator answers what was written.
	if got.ErrorCode != 0 || got.StartOffset != 10 || len(got.StateBatches) != 1 || got.StateBatches[0].DeliveryState != 2 {
		t.Fatalf("read: %+v", got)
	}
	initReq := kmsg.NewPtrInitializeShareGroupStateRequest()
	initReq.GroupID = "g"
	it := kmsg.NewInitializeShareGroupStateRequestTopic()
	it.TopicID = topicID
	ip := kmsg.NewInitializeShareGroupStateRequestTopicPartition()
	ip.StateEpoch, ip.StartOffset = 1, 100
	it.Partitions = append(it.Partitions, ip)
	initReq.Topics = append(initReq.Topics, it)
	if resp, err := initReq.RequestWith(ctx, cl); err != nil || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("initialize: %v %+v", err, resp)
	}
	if code := write(5, 0, 2); code != kerr.FencedStateEpoch.Code {
		t.Fatalf("write at an older state epoch: %v", kerr.ErrorForCode(code))
	}
	if got := read(5); got.StartOffset != 100 || got.StateEpoch != 1 || len(got.StateBatches) != 0 {
		t.Fatalf("read after initialize: %+v", got)
	}
	del := kmsg.NewPtrDeleteShareGroupStateRequest()
	del.GroupID = "g"
	dt := kmsg.NewDeleteShareGroupStateRequestTopic()
	dt.TopicID = topicID
	dt.Partitions = append(dt.Partitions, kmsg.NewDeleteShareGroupStateRequestTopicPartition())
	del.Topics = append(del.Topics, dt)
	if resp, err := del.RequestWith(ctx, cl); err != nil || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("delete: %v %+v", err, resp)
	}
	if got := read(5); got.ErrorCode != 0 || got.StartOffset != -1 {
		t.Fatalf("read after delete: %+v", got)
	}
}
