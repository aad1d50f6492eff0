package txn

// abortTimedOut is Kafka's abortTimedOutTransactions: an ongoing transaction older than
// its timeout is aborted with the producer's epoch bumped, so the producer, if it is
// still there, is fenced rather than committing a transaction the coordinator gave up.
func (c *Coordinator) abortTimedOut() {
	shards, _ := c.loaded()
	now := c.now()
	for _, s := range shards {
		for _, t := range s.all() {
			t.mu.Lock()
			cur := t.cur
			if !t.removed && !t.completing && cur.state == Ongoing && now.Sub(cur.startTime) > cur.timeout {
				next := fenceEpoch(cur, now)
				if err := s.writeState(t.id, &next, now); err != nil {
					c.logger.Warn("aborting a timed-out transaction", "transactional_id", t.id, "err", err)
				} else {
					c.logger.Info("aborting a timed-out transaction", "transactional_id", t.id,
						"producer_id", cur.producerID, "epoch", next.producerEpoch, "age", now.Sub(cur.startTime))
					t.cur = next
					c.startCompletionLocked(s, t)
				}
			}
			t.mu.Unlock()
		}
	}
}

// expireIDs is Kafka's removeExpiredTransactionalIds: an id with no transaction in
// flight and no activity for transactional.id.expiration.ms is tombstoned and
// forgotten; its next InitProducerId starts afresh with a new producer id.
func (c *Coordinator) expireIDs() {
	shards, _ := c.loaded()
	now := c.now()
	for _, s := range shards {
		for _, t := range s.all() {
			t.mu.Lock()
			cur := t.cur
			idle := cur.state == Empty || cur.state == CompleteCommit || cur.state == CompleteAbort
			if !t.removed && !t.completing && idle && now.Sub(cur.updateTime) >= c.cfg.Settings.IDExpiration {
				if err := s.writeState(t.id, nil, now); err != nil {
					c.logger.Warn("expiring a transactional id", "transactional_id", t.id, "err", err)
				} else {
					t.removed = true
					s.remove(t)
					c.logger.Info("expired transactional id", "transactional_id", t.id, "idle", now.Sub(cur.updateTime))
				}
			}
			t.mu.Unlock()
		}
	}
}
