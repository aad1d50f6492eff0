package metadata

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// DefaultProducerIDBlockSize is how many producer IDs a node takes per AllocateProducerIDs
// record, as Kafka's controller hands out blocks of 1000: one metadata record per thousand
// InitProducerId requests, and at most a thousand IDs left unused when the node stops.
const DefaultProducerIDBlockSize = 1000

// producerIDAttempts bounds how often one call proposes a block that another proposer's
// block makes stale before it is applied. Each such rejection means another proposer got a
// block, so the quorum is making progress; the bound only stops an unlucky caller from
// waiting without end: it gets ErrProducerIDsUnavailable, which clients retry.
const producerIDAttempts = 5

// ProducerIDAllocator hands out producer IDs for InitProducerId that no node has handed out
// before and none will again, even across restarts: it takes blocks of IDs through the
// metadata log (AllocateProducerIDs) and serves IDs from its current block in memory. IDs
// left in a block when the node stops are never used, as in Kafka. The IDs of one allocator
// increase; several allocators (several nodes) get disjoint blocks, so their IDs are unique
// but interleave block by block.
//
// It is safe for concurrent use. Calls take turns: InitProducerId comes once per producer,
// so this is no hot path, and taking turns makes the caller that empties the block propose
// one new block rather than every waiting caller proposing its own.
type ProducerIDAllocator struct {
	quorum    producerIDQuorum
	nodeID    int32
	blockSize int64

	// lock holds a value while a call reads or changes the block: a one-slot channel rather
	// than a sync.Mutex, so that a caller queued behind a slow proposal still returns when
	// its ctx ends.
	lock chan struct{}
	next int64 // guarded by lock; the next ID to hand out
	end  int64 // guarded by lock; the end of the current block, exclusive; next == end when used up
}

// producerIDQuorum is what the allocator needs of a Store. Tests substitute one that loses
// races on demand, which a single real Store cannot be made to do reliably.
type producerIDQuorum interface {
	Image() *Image
	Propose(ctx context.Context, rec Record) (uint64, error)
}

// NewProducerIDAllocator returns an allocator that proposes blocks of blockSize IDs for
// nodeID to store (DefaultProducerIDBlockSize when blockSize is not positive). It holds no
// block until the first call, so creating it costs nothing and proposes nothing. A broker
// makes one and shares it: each allocator holds its own block.
func NewProducerIDAllocator(store *Store, nodeID int32, blockSize int64) *ProducerIDAllocator {
	return newProducerIDAllocator(store, nodeID, blockSize)
}

func newProducerIDAllocator(quorum producerIDQuorum, nodeID int32, blockSize int64) *ProducerIDAllocator {
	if blockSize <= 0 {
		blockSize = DefaultProducerIDBlockSize
	}
	return &ProducerIDAllocator{quorum: quorum, nodeID: nodeID, blockSize: blockSize, lock: make(chan struct{}, 1)}
}

// NextProducerID returns a producer ID never handed out before. When the current block is
// used up it proposes the next one and waits until the quorum applied it, so it fails where
// Propose fails (ErrNotController when leadership was lost mid-proposal, ErrClosed, ctx's error),
// and with ErrProducerIDsUnavailable after losing the race for a block too often.
func (a *ProducerIDAllocator) NextProducerID(ctx context.Context) (int64, error) {
	select {
	case a.lock <- struct{}{}:
	case <-ctx.Done():
		return 0, fmt.Errorf("metadata: waiting for a producer ID: %w", ctx.Err())
	}
	defer func() { <-a.lock }()
	if a.next == a.end {
		if err := a.takeBlockLocked(ctx); err != nil {
			return 0, err
		}
	}
	id := a.next
	a.next++
	return id, nil
}

// staleStartWait bounds how long a refused block waits for this node's Image to show the
// block that beat it: a proposal forwarded to the leader is refused there, before this
// node has applied the winning record (a node just restarted may be replaying its log).
const staleStartWait = 2 * time.Second

// awaitNewStart waits until this node's Image has moved past start, so that the next
// attempt proposes from the new start; false if it does not within staleStartWait.
func (a *ProducerIDAllocator) awaitNewStart(ctx context.Context, start int64) bool {
	deadline := time.Now().Add(staleStartWait)
	for a.quorum.Image().NextProducerID() == start {
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(10 * time.Millisecond):
		}
	}
	return true
}

// takeBlockLocked proposes the block that starts at the Image's NextProducerID and, once the
// quorum accepts it, makes it the current block. A block is used only after its record was
// applied: one whose outcome is unknown (ctx ended, leadership lost) is abandoned, which
// wastes its IDs if it was applied after all but never hands one out twice.
//
// The Image read here may be stale (another proposer's block is in flight, or the log is
// still replaying); then the FSM rejects the block (ErrInvalidRecord) and the Image has
// moved on by the time Propose returns, so the next attempt reads the new start.
func (a *ProducerIDAllocator) takeBlockLocked(ctx context.Context) error {
	var err error
	for range producerIDAttempts {
		start := a.quorum.Image().NextProducerID()
		count := min(a.blockSize, math.MaxInt64-start)
		if count == 0 {
			return fmt.Errorf("metadata: all producer IDs up to %d have been handed out", start)
		}
		_, err = a.quorum.Propose(ctx, AllocateProducerIDs{NodeID: a.nodeID, Start: start, Count: count})
		if err == nil {
			a.next, a.end = start, start+count
			return nil
		}
		if !errors.Is(err, ErrInvalidRecord) || !a.awaitNewStart(ctx, start) {
			return err // refused for another reason than a lost race: retrying cannot help
		}
	}
	return fmt.Errorf("%w: lost the race for a block %d times in a row (last: %v)", ErrProducerIDsUnavailable, producerIDAttempts, err)
}
