package txn

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/coordinator"
	"github.com/nagare-dev/nagare/internal/log"
	"github.com/nagare-dev/nagare/internal/partition"
)

// shardState is where a led state partition is in its life.
type shardState int8

const (
	shardLoading  shardState = iota // replaying the log: COORDINATOR_LOAD_IN_PROGRESS
	shardLoaded                     // serving
	shardFailed                     // the log did not decode: COORDINATOR_NOT_AVAILABLE
	shardUnloaded                   // no longer led here: NOT_COORDINATOR
)

// storage is where a shard's records go and come from: its partition, or a test's memory.
type storage interface {
	// write appends one batch and returns once the ISR has it (acks=all).
	write(batch []byte, now time.Time) error
	// replay calls fn with every record from the log start to the log end.
	replay(ctx context.Context, fn func(offset int64, r record) error) error
}

// shard is one __transaction_state partition this broker leads and its transactional
// ids. Its leader epoch is the coordinator epoch markers carry.
type shard struct {
	coord       *Coordinator
	index       int32
	part        *partition.Partition // nil in tests
	store       storage
	leaderEpoch int32
	ctx         context.Context // ends when the shard is unloaded: stops loading and markers
	cancel      context.CancelFunc

	writer stateWriter // group-commits the records of concurrent transitions

	mu    sync.RWMutex
	state shardState              // guarded by mu
	err   error                   // guarded by mu
	txns  map[string]*transaction // guarded by mu
}

// Ready says whether the shard serves requests, and if not, the error to answer with.
func (s *shard) Ready() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	switch s.state {
	case shardLoaded:
		return nil
	case shardLoading:
		return ErrLoadInProgress
	case shardFailed:
		return fmt.Errorf("%w: %v", ErrCoordinatorNotAvailable, s.err)
	default:
		return ErrNotCoordinator
	}
}

// get returns the transaction of id, or nil when the shard has none.
func (s *shard) get(id string) (*transaction, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.state != shardLoaded {
		return nil, ErrNotCoordinator
	}
	return s.txns[id], nil
}

// add puts t under its id unless one is there already; it returns the one that is.
func (s *shard) add(t *transaction) (*transaction, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != shardLoaded {
		return nil, ErrNotCoordinator
	}
	if cur := s.txns[t.id]; cur != nil {
		return cur, nil
	}
	s.txns[t.id] = t
	return t, nil
}

// remove drops t if it is still the transaction under its id; t's lock is held.
func (s *shard) remove(t *transaction) {
	s.mu.Lock()
	if s.txns[t.id] == t {
		delete(s.txns, t.id)
	}
	s.mu.Unlock()
}

func (s *shard) all() []*transaction {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*transaction, 0, len(s.txns))
	for _, t := range s.txns {
		out = append(out, t)
	}
	return out
}

// unload stops serving: loading and marker retries stop, and holders of its
// transactions find them removed.
func (s *shard) unload() {
	s.cancel()
	s.mu.Lock()
	s.state = shardUnloaded
	txns := s.txns
	s.txns = map[string]*transaction{}
	s.mu.Unlock()
	for _, t := range txns {
		t.mu.Lock()
		t.removed = true
		t.stopCompleting() // parked requests look again and find NOT_COORDINATOR
		t.mu.Unlock()
	}
}

// writeState persists one transition (a nil state: a tombstone) before it takes effect.
func (s *shard) writeState(id string, st *txnState, now time.Time) error {
	r := record{key: stateKey(id)}
	if st != nil {
		r.value = stateValue(*st)
	}
	if err := s.writeRecords([]record{r}, now); err != nil {
		return storageError(err)
	}
	return nil
}

// storageError turns a failed write into what Kafka's coordinator answers.
func storageError(err error) error {
	switch {
	case errors.Is(err, ErrNotCoordinator), errors.Is(err, ErrCoordinatorNotAvailable):
		return err
	case errors.Is(err, log.ErrClosed), errors.Is(err, partition.ErrNotLeader):
		return fmt.Errorf("%w: %v", ErrNotCoordinator, err)
	default:
		return fmt.Errorf("%w: writing %s: %v", ErrCoordinatorNotAvailable, StateTopic, err)
	}
}

// loadLocked starts replaying a newly led partition and returns its shard. Called by
// Shards.Apply with its lock held, so Close cannot begin waiting for loaders before
// this one is counted.
func (c *Coordinator) loadLocked(index int32, led coordinator.Leader) *shard {
	return c.loadStore(index, &partitionStore{part: led.Partition, timeout: c.cfg.Settings.WriteTimeout}, led.Partition, led.Epoch)
}

// loadStore starts replaying store and returns its shard, loading until the log has
// been read. Transactions found mid-completion are completed.
func (c *Coordinator) loadStore(index int32, store storage, p *partition.Partition, epoch int32) *shard {
	ctx, cancel := context.WithCancel(context.Background())
	s := &shard{coord: c, index: index, part: p, store: store, leaderEpoch: epoch, ctx: ctx, cancel: cancel,
		state: shardLoading, txns: map[string]*transaction{}}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		start := time.Now()
		txns, err := s.readAll()
		s.mu.Lock()
		if s.state != shardLoading {
			s.mu.Unlock()
			return
		}
		if err != nil {
			s.state, s.err = shardFailed, err
			s.mu.Unlock()
			c.logger.Error("loading transaction state failed", "partition", index, "err", err)
			return
		}
		loaded := make([]*transaction, 0, len(txns)) // txns is shared once published
		for _, t := range txns {
			loaded = append(loaded, t)
		}
		s.txns, s.state = txns, shardLoaded
		s.mu.Unlock()
		c.logger.Info("became transaction coordinator", "partition", index, "epoch", epoch, "ids", len(loaded), "took", time.Since(start))
		for _, t := range loaded {
			t.mu.Lock()
			if st := t.cur.state; st == PrepareCommit || st == PrepareAbort {
				c.startCompletionLocked(s, t) // the previous coordinator did not finish it
			}
			t.mu.Unlock()
		}
	}()
	return s
}

// readAll replays the partition: the last record of each id wins, a tombstone removes.
func (s *shard) readAll() (map[string]*transaction, error) {
	states := map[string]*txnState{}
	err := s.store.replay(s.ctx, func(offset int64, r record) error {
		id, err := decodeKey(r.key)
		if err != nil {
			return fmt.Errorf("%w: key at offset %d: %v", ErrCorruptRecord, offset, err)
		}
		if r.value == nil {
			delete(states, id)
			return nil
		}
		st, err := decodeState(r.value)
		if err != nil {
			return fmt.Errorf("%w: value at offset %d: %v", ErrCorruptRecord, offset, err)
		}
		states[id] = &st
		return nil
	})
	if err != nil {
		return nil, err
	}
	txns := make(map[string]*transaction, len(states))
	for id, st := range states {
		txns[id] = &transaction{id: id, cur: *st}
	}
	return txns, nil
}

// partitionStore is a shard's storage on its __transaction_state partition.
type partitionStore struct {
	part    *partition.Partition
	timeout time.Duration
}

// write appends with acks=all semantics: min.insync.replicas is checked by the append,
// then the high watermark must cover the batch before the transition counts.
func (ps *partitionStore) write(batch []byte, now time.Time) error {
	epoch := ps.part.LeaderEpoch()
	res, err := ps.part.Append(batch, -1, now)
	if err != nil {
		return err
	}
	return awaitReplicated(ps.part, epoch, res.LastOffset, ps.timeout)
}

// replay reads from the log start to the log end: the new leader's log is the one its
// followers will match, so records past its high watermark count too (as Kafka loads).
func (ps *partitionStore) replay(ctx context.Context, fn func(offset int64, r record) error) error {
	return coordinator.Replay(ctx, ps.part, ps.part.Log().LogEndOffset(), ErrCorruptRecord, func(b kmsg.RecordBatch) error {
		return decodeBatch(b, fn)
	})
}
