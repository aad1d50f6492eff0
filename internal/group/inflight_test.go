package group

// A commit awaiting the ISR holds no lock of its group: the group's other requests go
// on meanwhile, and what the log writes after the commit decides what is applied.

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nagare-dev/nagare/internal/partition"
)

// inflightFixture is broker 1 leading the offsets partition with two followers that
// fetch only when told, and a coordinator whose writes wait up to five seconds.
type inflightFixture struct {
	t    *testing.T
	part *partition.Partition
	c    *Coordinator
	tp   TopicPartition
}

func newInflightFixture(t *testing.T) *inflightFixture {
	f := newReplicaFixture(t, 1)
	x := &inflightFixture{t: t, part: f.replica(), c: f.coordinator(Settings{WriteTimeout: 5 * time.Second}),
		tp: TopicPartition{Topic: "orders", Partition: 0}}
	if _, err := fetchLoaded(t, x.c, "g"); err != nil {
		t.Fatal(err)
	}
	return x
}

// commitAsync commits offset for "g" (a simple commit) and delivers its error.
func (x *inflightFixture) commitAsync(offset int64) <-chan error {
	done := make(chan error, 1)
	go func() {
		done <- x.c.CommitOffsets(CommitRequest{MemberRef: MemberRef{GroupID: "g", Generation: -1},
			Offsets: []OffsetCommit{{TopicPartition: x.tp, Offset: offset, LeaderEpoch: -1}}})[0]
	}()
	return done
}

// commitAcknowledged commits offset and has the followers fetch it.
func (x *inflightFixture) commitAcknowledged(offset int64) {
	x.t.Helper()
	start := x.part.Log().LogEndOffset()
	done := x.commitAsync(offset)
	x.awaitLogEnd(start + 1)
	x.followersCatchUp()
	if err := awaitErr(x.t, done); err != nil {
		x.t.Fatalf("commit of %d: %v", offset, err)
	}
}

// awaitLogEnd waits until the leader's log ends at end: a write has been appended.
func (x *inflightFixture) awaitLogEnd(end int64) {
	x.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for x.part.Log().LogEndOffset() < end {
		if time.Now().After(deadline) {
			x.t.Fatalf("log end %d, want %d", x.part.Log().LogEndOffset(), end)
		}
		time.Sleep(time.Millisecond)
	}
}

// followersCatchUp has both followers fetch everything the leader has.
func (x *inflightFixture) followersCatchUp() {
	x.t.Helper()
	leo := x.part.Log().LogEndOffset()
	for _, id := range []int32{2, 3} {
		if err := x.part.FollowerFetched(id, leo, time.Now()); err != nil {
			x.t.Fatalf("follower %d fetch: %v", id, err)
		}
	}
}

func (x *inflightFixture) offsets() map[TopicPartition]CommittedOffset {
	x.t.Helper()
	got, err := x.c.FetchOffsets("g", nil)
	if err != nil {
		x.t.Fatal(err)
	}
	return got
}

func awaitErr(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("commit did not return")
		return nil
	}
}

// TestCommitWaitsWithoutGroupLock: while a commit waits for followers that have not
// fetched it, the group answers an offset fetch at once (with the offsets acknowledged
// so far); once they fetch, the commit is acknowledged and applied.
func TestCommitWaitsWithoutGroupLock(t *testing.T) {
	x := newInflightFixture(t)
	start := x.part.Log().LogEndOffset()
	done := x.commitAsync(7)
	x.awaitLogEnd(start + 1)

	began := time.Now()
	if got := x.offsets(); len(got) != 0 {
		t.Fatalf("offsets while the commit awaits the ISR: %v, want none", got)
	}
	if waited := time.Since(began); waited > time.Second {
		t.Fatalf("offset fetch waited %v behind a commit awaiting the ISR", waited)
	}
	select {
	case err := <-done:
		t.Fatalf("commit returned %v before the followers fetched it", err)
	default:
	}
	if !x.c.HasPendingOffsets("g", x.tp) {
		t.Fatal("no pending offset reported while the commit awaits the ISR (require_stable)")
	}

	x.followersCatchUp()
	if err := awaitErr(t, done); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if got := x.offsets()[x.tp]; got.Offset != 7 {
		t.Fatalf("offset after the commit: %+v, want 7", got)
	}
	if x.c.HasPendingOffsets("g", x.tp) {
		t.Fatal("a pending offset reported after the commit was acknowledged")
	}
}

// TestOffsetDeleteDuringCommitWait: an OffsetDelete written after a commit that still
// awaits the ISR removes it: the commit is acknowledged (it is in the log, before the
// tombstone) and not applied, as loading the log again would not apply it either.
func TestOffsetDeleteDuringCommitWait(t *testing.T) {
	x := newInflightFixture(t)
	x.commitAcknowledged(3)

	start := x.part.Log().LogEndOffset()
	done := x.commitAsync(7)
	x.awaitLogEnd(start + 1)
	deleted := make(chan error, 1)
	go func() {
		errs, err := x.c.DeleteOffsets("g", []TopicPartition{x.tp})
		if err == nil {
			err = errors.Join(errs...)
		}
		deleted <- err
	}()
	x.awaitLogEnd(start + 2) // the tombstone, written under the group's lock
	x.followersCatchUp()
	if err := awaitErr(t, deleted); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if err := awaitErr(t, done); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if got, ok := x.offsets()[x.tp]; ok {
		t.Fatalf("offset after a delete written behind the commit: %+v, want none", got)
	}
}

// TestCommitTimeoutLeavesOffsets: a commit whose followers never fetch it fails with
// COORDINATOR_NOT_AVAILABLE and leaves the acknowledged offset in place.
func TestCommitTimeoutLeavesOffsets(t *testing.T) {
	f := newReplicaFixture(t, 1)
	p := f.replica()
	c := f.coordinator(Settings{WriteTimeout: 500 * time.Millisecond})
	x := &inflightFixture{t: t, part: p, c: c, tp: TopicPartition{Topic: "orders", Partition: 0}}
	if _, err := fetchLoaded(t, c, "g"); err != nil {
		t.Fatal(err)
	}
	x.commitAcknowledged(3)
	if err := awaitErr(t, x.commitAsync(9)); !errors.Is(err, ErrCoordinatorNotAvailable) {
		t.Fatalf("commit no follower fetched: %v, want COORDINATOR_NOT_AVAILABLE", err)
	}
	if got := x.offsets()[x.tp]; got.Offset != 3 {
		t.Fatalf("offset after a failed commit: %+v, want 3", got)
	}
}

// TestFailedJoinKeepsGroupWithCommitInFlight: a failed ConsumerGroupHeartbeat or
// ShareGroupHeartbeat must not drop (or turn into a share group) a group whose only
// content is a commit awaiting the ISR, or the acknowledged offset is missing from
// memory while the log, replayed by the next leader, has it.
func TestFailedJoinKeepsGroupWithCommitInFlight(t *testing.T) {
	for name, join := range map[string]func(*Coordinator) error{
		"consumer": func(c *Coordinator) error {
			_, err := c.ConsumerHeartbeat(ConsumerHeartbeatRequest{GroupID: "g", MemberID: "stale", MemberEpoch: 5})
			if !errors.Is(err, ErrUnknownMemberID) {
				return fmt.Errorf("heartbeat of an unknown member: %v, want UNKNOWN_MEMBER_ID", err)
			}
			return nil
		},
		"share": func(c *Coordinator) error {
			if _, err := c.ShareHeartbeat(ShareHeartbeatRequest{GroupID: "g", MemberID: "m", MemberEpoch: 5}); err == nil {
				return errors.New("a share join to a group with a commit in flight succeeded")
			}
			return nil
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newReplicaFixture(t, 1)
			x := &inflightFixture{t: t, part: f.replica(), c: f.coordinator(Settings{WriteTimeout: 5 * time.Second}),
				tp: TopicPartition{Topic: "orders", Partition: 0}}
			if _, err := fetchLoaded(t, x.c, "g"); err != nil {
				t.Fatal(err)
			}
			start := x.part.Log().LogEndOffset()
			done := x.commitAsync(7) // creates "g"
			x.awaitLogEnd(start + 1)
			if err := join(x.c); err != nil {
				t.Fatal(err)
			}
			x.followersCatchUp()
			if err := awaitErr(t, done); err != nil {
				t.Fatalf("commit: %v", err)
			}
			got := x.offsets()[x.tp]
			fromLog, err := fetchLoaded(t, f.coordinator(Settings{WriteTimeout: 5 * time.Second}), "g")
			if err != nil {
				t.Fatal(err)
			}
			if got != fromLog[x.tp] || got.Offset != 7 {
				t.Fatalf("in memory %+v, replaying the log %+v; want offset 7 in both", got, fromLog[x.tp])
			}
		})
	}
}

// TestExpirySkipsPartitionWithCommitInFlight: an old offset past its retention is not
// expired while a newer commit of its partition awaits the ISR, or the tombstone
// written behind the commit would remove an acknowledged offset (Kafka's
// getExpiredOffsets skips partitions with pending commits).
func TestExpirySkipsPartitionWithCommitInFlight(t *testing.T) {
	f := newReplicaFixture(t, 1)
	x := &inflightFixture{t: t, part: f.replica(),
		c:  f.coordinator(Settings{WriteTimeout: 5 * time.Second, OffsetsRetention: 50 * time.Millisecond}),
		tp: TopicPartition{Topic: "orders", Partition: 0}}
	if _, err := fetchLoaded(t, x.c, "g"); err != nil {
		t.Fatal(err)
	}
	x.commitAcknowledged(3)
	time.Sleep(100 * time.Millisecond) // offset 3 is past its retention
	start := x.part.Log().LogEndOffset()
	done := x.commitAsync(7) // a fresh commit
	x.awaitLogEnd(start + 1)
	expired := make(chan struct{})
	go func() { x.c.expireOffsets(); close(expired) }()
	// Either the expiry writes a tombstone behind the commit (and waits for the ISR
	// under the group's lock), or it has nothing to do.
	for deadline := time.Now().Add(5 * time.Second); x.part.Log().LogEndOffset() < start+2; {
		select {
		case <-expired:
		default:
			if time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
				continue
			}
			t.Fatal("expiry neither returned nor wrote")
		}
		break
	}
	x.followersCatchUp()
	<-expired
	if err := awaitErr(t, done); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if got, ok := x.offsets()[x.tp]; !ok || got.Offset != 7 {
		t.Fatalf("offset after an acknowledged commit of 7: %+v (present %v)", got, ok)
	}
}

// TestShareGroupHasNoCommittedOffsets: OffsetCommit and OffsetDelete to a share group's
// id get GROUP_ID_NOT_FOUND and OffsetFetch finds nothing, as Kafka's ShareGroup
// answers; a share group's progress lives in __share_group_state.
func TestShareGroupHasNoCommittedOffsets(t *testing.T) {
	x := newInflightFixture(t)
	if _, err := x.c.ShareHeartbeat(ShareHeartbeatRequest{GroupID: "g", MemberID: "m", MemberEpoch: 0,
		SubscribedTopics: []string{"orders"}}); err != nil {
		t.Fatalf("share join: %v", err)
	}
	if err := awaitErr(t, x.commitAsync(7)); !errors.Is(err, ErrGroupIDNotFound) {
		t.Fatalf("commit to a share group: %v, want GROUP_ID_NOT_FOUND", err)
	}
	if _, err := x.c.DeleteOffsets("g", []TopicPartition{x.tp}); !errors.Is(err, ErrGroupIDNotFound) {
		t.Fatalf("offset delete of a share group: %v, want GROUP_ID_NOT_FOUND", err)
	}
	if got := x.offsets(); len(got) != 0 {
		t.Fatalf("offsets of a share group: %v, want none", got)
	}
}
