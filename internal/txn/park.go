package txn

import (
	"context"
	"errors"
	"time"
)

// A request that finds its id's previous transaction still completing (markers being
// written, CompleteCommit not yet durable) would answer CONCURRENT_TRANSACTIONS, and
// clients back off before retrying (franz-go and Kafka's Java client: 20 ms). The
// completion usually takes well under a millisecond, so the request waits for it here,
// up to Settings.ConcurrentWait, and then runs as the client's retry would have. What
// the client sees is the answer it would have got from that retry, only sooner; a
// completion that takes longer (a remote leader that is down) is still answered
// CONCURRENT_TRANSACTIONS.

// maxParks bounds how often one request waits for completions.
const maxParks = 2

// parkable reports whether err is CONCURRENT_TRANSACTIONS caused by a completion in
// flight, and returns the channel that closes when it ends; t.mu is held.
func parkable(t *transaction, err error) (chan struct{}, bool) {
	if !t.completing || !errors.Is(err, ErrConcurrentTransactions) {
		return nil, false
	}
	return t.idle, true
}

// park waits until idle closes, ctx ends or the wait bound passes; it reports whether
// the completion ended, so the request should run again.
func (c *Coordinator) park(ctx context.Context, idle chan struct{}) bool {
	wait := c.cfg.Settings.ConcurrentWait
	if wait < 0 {
		return false
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-idle:
		return true
	case <-timer.C:
	case <-ctx.Done():
	case <-c.stop:
	}
	return false
}
