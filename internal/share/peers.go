package share

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/interbroker"
)

// Peers sends the share coordinator RPCs (ReadShareGroupState, WriteShareGroupState,
// DeleteShareGroupState) to other brokers through a pool of inter-broker clients (one
// per broker, at its registered address, speaking the inter-broker listener's TLS and
// SASL), as the transaction markers do.
type Peers struct {
	Clients *interbroker.Clients
}

// Read asks leader for key's snapshot (nil when it has none).
func (p *Peers) Read(ctx context.Context, leader int32, key Key, leaderEpoch int32) ([]byte, error) {
	req := kmsg.NewPtrReadShareGroupStateRequest()
	req.GroupID = key.Group
	rt := kmsg.NewReadShareGroupStateRequestTopic()
	rt.TopicID = key.TopicID
	rp := kmsg.NewReadShareGroupStateRequestTopicPartition()
	rp.Partition, rp.LeaderEpoch = key.Partition, leaderEpoch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	kresp, err := p.request(ctx, leader, req)
	if err != nil {
		return nil, err
	}
	resp := kresp.(*kmsg.ReadShareGroupStateResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return nil, fmt.Errorf("%w: broker %d answered %d topics", ErrStateUnavailable, leader, len(resp.Topics))
	}
	got := resp.Topics[0].Partitions[0]
	if err := stateError(leader, got.ErrorCode); err != nil {
		return nil, err
	}
	if got.StartOffset < 0 {
		return nil, nil // never initialized
	}
	s := SnapshotState{LeaderEpoch: leaderEpoch, StateEpoch: got.StateEpoch, StartOffset: got.StartOffset}
	for _, b := range got.StateBatches {
		s.Batches = append(s.Batches, StateBatch{FirstOffset: b.FirstOffset, LastOffset: b.LastOffset,
			DeliveryState: b.DeliveryState, DeliveryCount: b.DeliveryCount})
	}
	return EncodeSnapshot(s)
}

// Write sends snap to leader, which answers once it is replicated (acks=all).
func (p *Peers) Write(ctx context.Context, leader int32, key Key, snap []byte) error {
	s, err := DecodeSnapshot(snap)
	if err != nil {
		return err
	}
	req := kmsg.NewPtrWriteShareGroupStateRequest()
	req.GroupID = key.Group
	rt := kmsg.NewWriteShareGroupStateRequestTopic()
	rt.TopicID = key.TopicID
	rp := kmsg.NewWriteShareGroupStateRequestTopicPartition()
	rp.Partition, rp.LeaderEpoch, rp.StateEpoch, rp.StartOffset = key.Partition, s.LeaderEpoch, s.StateEpoch, s.StartOffset
	for _, b := range s.Batches {
		wb := kmsg.NewWriteShareGroupStateRequestTopicPartitionStateBatch()
		wb.FirstOffset, wb.LastOffset, wb.DeliveryState, wb.DeliveryCount = b.FirstOffset, b.LastOffset, b.DeliveryState, b.DeliveryCount
		rp.StateBatches = append(rp.StateBatches, wb)
	}
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	kresp, err := p.request(ctx, leader, req)
	if err != nil {
		return err
	}
	resp := kresp.(*kmsg.WriteShareGroupStateResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return fmt.Errorf("%w: broker %d answered %d topics", ErrStateUnavailable, leader, len(resp.Topics))
	}
	return stateError(leader, resp.Topics[0].Partitions[0].ErrorCode)
}

// Initialize reads key's state epoch from leader and asks it to start key's state
// afresh at start under the next one.
func (p *Peers) Initialize(ctx context.Context, leader int32, key Key, start int64) error {
	var epoch int32
	prev, err := p.Read(ctx, leader, key, -1)
	if err != nil {
		return err
	}
	if prev != nil {
		s, err := DecodeSnapshot(prev)
		if err != nil {
			return err
		}
		epoch = s.StateEpoch
	}
	req := kmsg.NewPtrInitializeShareGroupStateRequest()
	req.GroupID = key.Group
	rt := kmsg.NewInitializeShareGroupStateRequestTopic()
	rt.TopicID = key.TopicID
	rp := kmsg.NewInitializeShareGroupStateRequestTopicPartition()
	rp.Partition, rp.StateEpoch, rp.StartOffset = key.Partition, epoch+1, start
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	kresp, err := p.request(ctx, leader, req)
	if err != nil {
		return err
	}
	resp := kresp.(*kmsg.InitializeShareGroupStateResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return fmt.Errorf("%w: broker %d answered %d topics", ErrStateUnavailable, leader, len(resp.Topics))
	}
	return stateError(leader, resp.Topics[0].Partitions[0].ErrorCode)
}

// Delete asks leader to drop key's state.
func (p *Peers) Delete(ctx context.Context, leader int32, key Key) error {
	req := kmsg.NewPtrDeleteShareGroupStateRequest()
	req.GroupID = key.Group
	rt := kmsg.NewDeleteShareGroupStateRequestTopic()
	rt.TopicID = key.TopicID
	rp := kmsg.NewDeleteShareGroupStateRequestTopicPartition()
	rp.Partition = key.Partition
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	kresp, err := p.request(ctx, leader, req)
	if err != nil {
		return err
	}
	resp := kresp.(*kmsg.DeleteShareGroupStateResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return fmt.Errorf("%w: broker %d answered %d topics", ErrStateUnavailable, leader, len(resp.Topics))
	}
	return stateError(leader, resp.Topics[0].Partitions[0].ErrorCode)
}

// stateError maps a coordinator's answer: moving or loading coordinators are
// retried (ErrStateUnavailable), fencing is final.
func stateError(leader int32, code int16) error {
	switch code {
	case 0:
		return nil
	case kerr.FencedLeaderEpoch.Code:
		return fmt.Errorf("%w (broker %d)", ErrFencedLeaderEpoch, leader)
	case kerr.FencedStateEpoch.Code:
		return fmt.Errorf("%w (broker %d)", ErrFencedStateEpoch, leader)
	case kerr.InvalidRequest.Code:
		return fmt.Errorf("%w: refused by broker %d", ErrInvalidRequest, leader)
	}
	return fmt.Errorf("%w: broker %d: %v", ErrStateUnavailable, leader, kerr.ErrorForCode(code))
}

// request sends req to broker leader itself. Transport errors are ErrStateUnavailable,
// to be retried; an authentication failure says so, since retrying will not mend it.
func (p *Peers) request(ctx context.Context, leader int32, req kmsg.Request) (kmsg.Response, error) {
	resp, err := p.Clients.Request(ctx, leader, req)
	switch {
	case err == nil:
		return resp, nil
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(err, interbroker.ErrClosed):
		return nil, fmt.Errorf("share: %w", err)
	case interbroker.IsAuthError(err):
		return nil, fmt.Errorf("%w: broker %d: inter-broker authentication failed: %v", ErrStateUnavailable, leader, err)
	}
	return nil, fmt.Errorf("%w: broker %d: %v", ErrStateUnavailable, leader, err)
}

// Close closes every client; requests after fail.
func (p *Peers) Close() { p.Clients.Close() }
