package log

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// A follower's log takes the leader's batches as they are: the same offsets, epochs and
// bytes, its epoch history built from the batches, and refuses a batch that does not
// start at its log end.
func TestAppendAsFollowerKeepsLeaderOffsetsAndEpochs(t *testing.T) {
	leader := openTestLog(t, filepath.Join(t.TempDir(), "leader"), smallConfig(), true)
	defer leader.Close()
	follower := openTestLog(t, filepath.Join(t.TempDir(), "follower"), smallConfig(), true)
	defer follower.Close()
	for i, epoch := range []int32{0, 0, 2, 2, 5} {
		leader.AssignEpoch(epoch)
		if _, err := leader.Append(testBatch(3, 50, int64(i)), AppendOptions{LeaderEpoch: epoch}); err != nil {
			t.Fatal(err)
		}
	}
	raw, _, err := leader.ReadBytes(0, ReadOptions{MaxBytes: 1 << 20, MaxOffset: leader.LogEndOffset()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := follower.AppendAsFollower(raw[BatchHeaderSize:]); err == nil {
		t.Fatal("a cut batch was appended")
	}
	// Two fetches: the first three batches, then the rest.
	first := 0
	for range 3 {
		h := ParseBatchHeader(raw[first:])
		first += h.Size()
	}
	if _, err := follower.AppendAsFollower(raw[first:]); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("batch past the log end: %v, want ErrOffsetOutOfRange", err)
	}
	for _, part := range [][]byte{raw[:first], raw[first:]} {
		if _, err := follower.AppendAsFollower(append([]byte(nil), part...)); err != nil {
			t.Fatal(err)
		}
	}
	if follower.LogEndOffset() != leader.LogEndOffset() {
		t.Fatalf("follower log end %d, leader %d", follower.LogEndOffset(), leader.LogEndOffset())
	}
	got, _, err := follower.ReadBytes(0, ReadOptions{MaxBytes: 1 << 20, MaxOffset: follower.LogEndOffset()})
	if err != nil || string(got) != string(raw) {
		t.Fatalf("follower bytes differ from the leader's (err %v)", err)
	}
	if l, f := leader.EpochHistory(), follower.EpochHistory(); len(l) != len(f) || l[len(l)-1] != f[len(f)-1] {
		t.Fatalf("epoch history: leader %v, follower %v", l, f)
	}
	if follower.HighWatermark() != 0 {
		t.Fatalf("a follower append moved the high watermark to %d", follower.HighWatermark())
	}
	if CompleteBatches(raw[:len(raw)-1]) == nil || len(CompleteBatches(raw[:len(raw)-1])) >= len(raw) {
		t.Fatal("CompleteBatches kept a partial batch")
	}
}

// The high watermark only moves up, never past the log end, and wakes long polls.
func TestAdvanceHighWatermark(t *testing.T) {
	l := openTestLog(t, t.TempDir(), smallConfig(), true)
	defer l.Close()
	for range 4 {
		if _, err := l.Append(testBatch(5, 10, 0), AppendOptions{LeaderEpoch: 0}); err != nil {
			t.Fatal(err)
		}
	}
	wake := l.WaitForAppend()
	if !l.AdvanceHighWatermark(7) || l.HighWatermark() != 7 {
		t.Fatalf("high watermark %d, want 7", l.HighWatermark())
	}
	select {
	case <-wake:
	default:
		t.Fatal("moving the high watermark did not wake the waiter")
	}
	if l.AdvanceHighWatermark(3) || l.HighWatermark() != 7 {
		t.Fatalf("high watermark moved back to %d", l.HighWatermark())
	}
	if !l.AdvanceHighWatermark(100) || l.HighWatermark() != 20 {
		t.Fatalf("high watermark %d, want the log end 20", l.HighWatermark())
	}
}

func BenchmarkAppendAsFollower(b *testing.B) {
	l := openTestLog(b, b.TempDir(), DefaultConfig(), true)
	defer l.Close()
	batch := testBatch(10, 100, time.Now().UnixMilli()) // a recent timestamp: segment.ms never rolls
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		setBaseOffset(batch, l.LogEndOffset())
		if _, err := l.AppendAsFollower(batch); err != nil {
			b.Fatal(err)
		}
	}
}
