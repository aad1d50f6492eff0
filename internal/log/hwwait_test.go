package log

import "testing"

func isDone(w *HighWatermarkWait) bool {
	select {
	case <-w.Done():
		return true
	default:
		return false
	}
}

// A high watermark wait ends when the high watermark reaches its offset, not at an append
// or a step short of it; Wake and Close end every wait; Stop forgets a wait.
func TestWaitForHighWatermark(t *testing.T) {
	l := openTestLog(t, t.TempDir(), smallConfig(), true)
	appendN(t, l, 1, 1, 10, 0) // high watermark 1
	if w := l.WaitForHighWatermark(1); !isDone(w) {
		t.Fatal("a wait the high watermark already covers is not done")
	}
	for range 9 {
		if _, err := l.Append(testBatch(1, 10, 0), AppendOptions{LeaderEpoch: -1}); err != nil {
			t.Fatal(err)
		}
	}
	at5, at8, stopped := l.WaitForHighWatermark(5), l.WaitForHighWatermark(8), l.WaitForHighWatermark(3)
	stopped.Stop()
	if _, err := l.Append(testBatch(1, 10, 0), AppendOptions{LeaderEpoch: -1}); err != nil {
		t.Fatal(err)
	}
	l.AdvanceHighWatermark(4)
	if isDone(at5) || isDone(at8) || isDone(stopped) {
		t.Fatal("a wait ended by an append or a step short of its offset, or after Stop")
	}
	l.AdvanceHighWatermark(6)
	if !isDone(at5) || isDone(at8) {
		t.Fatalf("at high watermark 6: wait for 5 done %t (want true), for 8 done %t (want false)", isDone(at5), isDone(at8))
	}
	l.Wake()
	if !isDone(at8) {
		t.Fatal("Wake left a wait")
	}
	last := l.WaitForHighWatermark(100)
	if len(l.hwWaiters) != 1 {
		t.Fatalf("%d waits registered, want 1 (done and stopped ones are dropped)", len(l.hwWaiters))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if !isDone(last) || !isDone(l.WaitForHighWatermark(100)) {
		t.Fatal("a wait outlived Close")
	}
}
