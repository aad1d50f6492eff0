package txn

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// idIn returns a transactional id (prefix and a number) that lives in state partition
// index of count.
func idIn(t *testing.T, index int32, count int, prefix string) string {
	t.Helper()
	for i := range 1000 {
		if id := fmt.Sprintf("%s%d", prefix, i); PartitionFor(id, count) == index {
			return id
		}
	}
	t.Fatalf("no id with prefix %q in partition %d of %d", prefix, index, count)
	return ""
}

// beginTxn gives id a producer id and opens a transaction on t-0.
func beginTxn(t *testing.T, c *Coordinator, id string) ProducerIDAndEpoch {
	t.Helper()
	pe, err := c.InitProducerID(ctx, InitRequest{TransactionalID: id, Timeout: time.Minute, ProducerID: -1, ProducerEpoch: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddPartitions(ctx, id, pe.ID, pe.Epoch, []TopicPartition{{"t", 0}}); err != nil {
		t.Fatal(err)
	}
	return pe
}

// commitOne runs one transaction of id through EndTxn (commit); its completion follows.
func commitOne(t *testing.T, c *Coordinator, id string) {
	t.Helper()
	pe := beginTxn(t, c, id)
	if err := c.EndTxn(ctx, id, pe.ID, pe.Epoch, true); err != nil {
		t.Fatal(err)
	}
}

// TestShardCompletionsDoNotWaitForEachOther: while the completion write of one state
// partition waits for replication (held here), transactions of another partition
// complete, one after another. Before, one completer goroutine wrote the shards one
// after another, so every other shard's completions waited for the held write (up to
// the write timeout, 30 s, when a partition's followers lag).
func TestShardCompletionsDoNotWaitForEachOther(t *testing.T) {
	const bound = 2 * time.Second // a few milliseconds unless it waits for the held write
	slow, fast := &memStore{}, &memStore{}
	c := newTestCoordinatorShards(t, []*memStore{slow, fast}, time.Now, Settings{})
	slowID, fastID := idIn(t, 0, 2, "slow"), idIn(t, 1, 2, "fast")
	_, gate := beginAndCommit(t, c, slow, slowID)

	for round := range 2 { // the second round needs the shard's writer again
		start := time.Now()
		commitOne(t, c, fastID)
		for stateOf(t, c, fastID).State != CompleteCommit {
			if time.Since(start) > bound {
				t.Fatalf("round %d: %s (partition 1) not completed within %v while partition 0's completion write is held",
					round, fastID, bound)
			}
			time.Sleep(time.Millisecond)
		}
		t.Logf("round %d: partition 1 completed in %v", round, time.Since(start))
	}
	if st := stateOf(t, c, slowID).State; st != PrepareCommit {
		t.Fatalf("%s is %s while its completion write is held, want PrepareCommit", slowID, st)
	}
	close(gate)
	waitFor(t, func() bool { return stateOf(t, c, slowID).State == CompleteCommit })
	if n := completeRecords(t, slow, slowID); n != 1 {
		t.Fatalf("%d CompleteCommit records for %s, want 1", n, slowID)
	}
	if n := completeRecords(t, fast, fastID); n != 2 {
		t.Fatalf("%d CompleteCommit records for %s, want 2", n, fastID)
	}
}

// TestCompletionWriteRetried: a completion write that fails (not NOT_COORDINATOR) is
// tried again after the marker backoff; the transaction stays PrepareCommit until the
// retry lands, and ends with one CompleteCommit record.
func TestCompletionWriteRetried(t *testing.T) {
	store := &memStore{}
	c := newTestCoordinatorWith(t, store, time.Now, Settings{MarkerBackoff: 10 * time.Millisecond})
	_, gate := beginAndCommit(t, c, store, "r")
	retry := make(chan struct{})
	store.mu.Lock()
	store.fail = errors.New("not enough replicas")
	retryIndex := store.writes // beginAndCommit returned once the held write had begun
	store.gates[retryIndex] = retry
	store.mu.Unlock()
	t.Cleanup(func() {
		select {
		case <-retry:
		default:
			close(retry)
		}
	})
	close(gate) // the held write fails
	waitFor(t, func() bool {
		store.mu.Lock()
		defer store.mu.Unlock()
		return store.writes > retryIndex
	})
	if st := stateOf(t, c, "r").State; st != PrepareCommit {
		t.Fatalf("state %s after the failed write, want PrepareCommit", st)
	}
	store.mu.Lock()
	store.fail = nil
	store.mu.Unlock()
	close(retry)
	waitFor(t, func() bool { return stateOf(t, c, "r").State == CompleteCommit })
	if n := completeRecords(t, store, "r"); n != 1 {
		t.Fatalf("%d CompleteCommit records, want 1", n)
	}
}
