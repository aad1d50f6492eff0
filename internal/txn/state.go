package txn

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// State is a transaction's state, numbered as Kafka's TransactionState (and as
// __transaction_state stores it).
type State int8

// Kafka's transaction states. PrepareEpochFence is never written: Nagare computes the
// fenced epoch and writes the PrepareAbort that carries it in one step.
const (
	Empty State = iota
	Ongoing
	PrepareCommit
	PrepareAbort
	CompleteCommit
	CompleteAbort
	Dead
	PrepareEpochFence
)

var stateNames = [...]string{"Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort", "Dead", "PrepareEpochFence"}

// String is the state's name as DescribeTransactions and ListTransactions spell it.
func (s State) String() string {
	if int(s) < len(stateNames) && s >= 0 {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", int8(s))
}

// ParseState reads a state name as ListTransactions filters carry it.
func ParseState(name string) (State, bool) {
	for i, n := range stateNames {
		if n == name {
			return State(i), true
		}
	}
	return 0, false
}

// validPrevious is Kafka's TransactionState.validPreviousStates: a transition from any
// other state is a bug, refused rather than written.
var validPrevious = map[State][]State{
	Empty:          {Empty, CompleteCommit, CompleteAbort},
	Ongoing:        {Ongoing, Empty, CompleteCommit, CompleteAbort},
	PrepareCommit:  {Ongoing},
	PrepareAbort:   {Ongoing, PrepareEpochFence},
	CompleteCommit: {PrepareCommit},
	CompleteAbort:  {PrepareAbort},
	Dead:           {Empty, CompleteCommit, CompleteAbort},
}

// canMove says whether from → to is one of Kafka's transitions.
func canMove(from, to State) bool { return slices.Contains(validPrevious[to], from) }

// noProducerEpoch is Kafka's RecordBatch.NO_PRODUCER_EPOCH; noProducerID its id twin.
const (
	noProducerEpoch int16 = -1
	noProducerID    int64 = -1
)

// epochExhausted is Kafka's TransactionMetadata.isEpochExhausted: the last epoch is kept
// for fencing, so an id whose epoch reaches MaxInt16-1 moves to a new producer id.
func epochExhausted(epoch int16) bool { return epoch >= math.MaxInt16-1 }

// TopicPartition names a partition in a transaction.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func compareTP(a, b TopicPartition) int {
	return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
}

// txnState is what __transaction_state records about one transactional id: a value,
// so a transition is computed on a copy, written, and only then made current.
type txnState struct {
	producerID         int64
	previousProducerID int64 // the id before the last rotation (KIP-360 retries)
	producerEpoch      int16
	lastProducerEpoch  int16 // the epoch before the last bump; not persisted (as Kafka's v0 records)
	timeout            time.Duration
	state              State
	partitions         []TopicPartition // sorted; empty outside a transaction
	startTime          time.Time        // when the transaction began; zero outside one
	updateTime         time.Time
}

// hasPartition reports whether tp is in the transaction.
func (s *txnState) hasPartition(tp TopicPartition) bool {
	_, ok := slices.BinarySearchFunc(s.partitions, tp, compareTP)
	return ok
}

// withPartitions returns the sorted union of s's partitions and add.
func (s *txnState) withPartitions(add []TopicPartition) []TopicPartition {
	out := slices.Clone(s.partitions)
	for _, tp := range add {
		if i, ok := slices.BinarySearchFunc(out, tp, compareTP); !ok {
			out = slices.Insert(out, i, tp)
		}
	}
	return out
}

// transaction is one transactional id's coordinator state. Its mutex is held across
// the write of each transition but the completion (whose write completing guards
// instead, complete.go), so the log holds the id's states in the order they happened
// and no request sees a state that is not yet durable.
type transaction struct {
	id string

	mu  sync.Mutex
	cur txnState // guarded by mu
	// completing is set while the markers of cur (PrepareCommit or PrepareAbort) and
	// then its completion record are being written: no other transition may start
	// (the completion record is written without mu held); guarded by mu. idle is closed when it is cleared, so requests that
	// would answer CONCURRENT_TRANSACTIONS can wait for it (park.go); guarded by mu.
	completing bool
	idle       chan struct{}
	// removed is set when the id was expired or its shard unloaded: a holder of a
	// stale pointer looks the id up again. Guarded by mu.
	removed bool
}

// startCompleting marks t as completing; t.mu is held.
func (t *transaction) startCompleting() {
	if !t.completing {
		t.completing, t.idle = true, make(chan struct{})
	}
}

// stopCompleting clears completing and wakes the requests parked on it; t.mu is held.
func (t *transaction) stopCompleting() {
	if t.completing {
		t.completing = false
		close(t.idle)
	}
}
