package log

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nagare-dev/nagare/internal/compress"
)

// TestCleanerCrashDuringSwap stops the cleaner at each step of a swap, of the first and
// of a later group, copies the directory as a crash would leave it, and checks that
// recovery yields a valid log with every key's latest value.
func TestCleanerCrashDuringSwap(t *testing.T) {
	for _, step := range []string{"cleaned", "swap", "deleted", "renamed"} {
		for _, occurrence := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/%d", step, occurrence), func(t *testing.T) {
				l := openTestLog(t, t.TempDir(), compactedConfig(), true)
				m := fillUpdates(t, l, 30, 30, 6, batchOpts{codec: compress.Snappy, ts: testNow.UnixMilli(), pid: -1})
				appendKV(t, l, m, batchOpts{ts: testNow.UnixMilli(), pid: -1}, tomb("key-3"), tomb("key-4"))
				l.Roll()
				appendKV(t, l, m, batchOpts{ts: testNow.UnixMilli(), pid: -1}, rec("key-5", "in the active segment"))
				leo := l.LogEndOffset()
				hits := 0
				c := newCleaner(quietLogger(), nil, 1<<20)
				c.fault = func(s string) bool {
					if s == step {
						hits++
					}
					return hits == occurrence
				}
				if _, err := runClean(l, c, testNow); !errors.Is(err, errSimulatedCrash) {
					t.Fatalf("clean: %v, want the simulated crash", err)
				}
				dir := crashCopy(t, l.dir)
				l.Close()

				r := openTestLog(t, dir, compactedConfig(), false)
				defer r.Close()
				left, _ := filepath.Glob(filepath.Join(dir, "*.*.*")) // .cleaned, .swap
				if len(left) > 0 {
					t.Fatalf("recovery left %v", left)
				}
				if r.LogEndOffset() != leo {
					t.Fatalf("log end offset %d after recovery, was %d", r.LogEndOffset(), leo)
				}
				r.SetHighWatermark(r.LogEndOffset())
				_, recs := consume(t, r)
				checkModel(t, recs, m)
				// The recovered log cleans on and takes appends.
				appendKV(t, r, m, batchOpts{ts: testNow.UnixMilli(), pid: -1}, rec("key-1", "after"))
				r.Roll()
				cleanLog(t, r, nil, testNow)
				_, recs = consume(t, r)
				checkModel(t, recs, m)
			})
		}
	}
}

// TestManagerCleansInBackground: the Manager's cleaner compacts a log on its own, keeps
// the cleaner checkpoint, and a crash afterwards recovers the compacted log even though
// the Manager reopens it with a non-compacted default config (the checkpoint file says
// it has offset gaps).
func TestManagerCleansInBackground(t *testing.T) {
	dir := t.TempDir()
	m, err := OpenManager(ManagerConfig{Dir: dir, Defaults: smallConfig(), Logger: quietLogger(),
		CleanerEnable: true, CleanerBackoff: 5 * time.Millisecond, CleanerDedupeBufferSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	tp := TopicPartition{"compacted", 0}
	l, _ := m.GetOrCreate(tp, compactedConfig())
	model := fillUpdates(t, l, 30, 40, 8, batchOpts{ts: testNow.UnixMilli(), pid: -1})
	l.Roll()
	leo := l.LogEndOffset()
	var cp map[TopicPartition]int64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cp, err = readCheckpoint(filepath.Join(dir, cleanerCheckpointFile)); err == nil && cp[tp] == l.activeSegment().baseOffset {
			break
		}
	}
	if cp[tp] != l.activeSegment().baseOffset || l.cleanerCheckpoint.Load() != cp[tp] {
		t.Fatalf("the background cleaner did not clean the log: checkpoint file %v, %v", cp, err)
	}
	crashed := t.TempDir()
	if err := os.CopyFS(crashed, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	for _, d := range []string{crashed, dir} { // after a crash, and after a clean stop
		m2, err := OpenManager(ManagerConfig{Dir: d, Defaults: smallConfig(), Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		l2, _ := m2.Get(tp)
		if l2.LogEndOffset() != leo || l2.cleanerCheckpoint.Load() != cp[tp] {
			t.Fatalf("%s: log end offset %d (want %d), checkpoint %d", d, l2.LogEndOffset(), leo, l2.cleanerCheckpoint.Load())
		}
		l2.SetHighWatermark(l2.LogEndOffset())
		_, recs := consume(t, l2)
		checkModel(t, recs, model)
		if err := m2.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCleanerRandomized appends random keys, values, tombstones and keyless records
// with random codecs and producers, rolls and cleans at random with time moving on, and
// checks after every clean that a consumer replaying the log gets the model state and
// that the clean section holds each key at most once.
func TestCleanerRandomized(t *testing.T) {
	seeds := 6
	if testing.Short() {
		seeds = 2
	}
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 99))
			cfg := compactedConfig()
			cfg.SegmentBytes = 2<<10 + rng.IntN(6<<10)
			cfg.IndexIntervalBytes = 64 + rng.IntN(512)
			l := openTestLog(t, t.TempDir(), cfg, true)
			defer l.Close()
			m := model{}
			seqs := map[int64]int32{}
			now := testNow
			c := newCleaner(quietLogger(), nil, int64(16+rng.IntN(80))*offsetMapEntrySize)
			check := func() {
				t.Helper()
				_, recs := consume(t, l)
				checkModel(t, recs, m)
				seen := map[string]bool{}
				for _, r := range recs {
					if r.offset >= l.cleanerCheckpoint.Load() {
						break
					}
					if !r.hasKey || seen[r.key] {
						t.Fatalf("clean section holds %q twice or keyless at %d", r.key, r.offset)
					}
					seen[r.key] = true
				}
			}
			for op := 0; op < 400; op++ {
				switch p := rng.IntN(100); {
				case p < 70:
					var recs []kv
					for j := 0; j < 1+rng.IntN(6); j++ {
						key := fmt.Sprintf("k%02d", rng.IntN(30))
						switch q := rng.IntN(100); {
						case q < 3:
							recs = append(recs, kv{value: []byte("keyless")})
						case q < 15:
							recs = append(recs, tomb(key))
						default:
							recs = append(recs, rec(key, fmt.Sprintf("v%d-%s", op, strings.Repeat("z", rng.IntN(40)))))
						}
					}
					pid, seq := int64(-1), int32(-1)
					if rng.IntN(4) == 0 {
						pid = int64(rng.IntN(3))
						seq = seqs[pid] // idempotent producers number their records
						seqs[pid] += int32(len(recs))
					}
					appendKV(t, l, m, batchOpts{codec: compress.Codec(rng.IntN(5)), ts: now.UnixMilli(), pid: pid, sequence: seq}, recs...)
				case p < 80:
					l.Roll()
				default:
					now = now.Add(time.Duration(rng.IntN(40)) * time.Minute)
					cleanLog(t, l, c, now)
					check()
				}
			}
			// Clean everything, then again past every delete horizon: only live keys remain.
			l.Roll()
			for i := 0; i < 30 && l.cleanableSection(now).dirtyBytes > 0; i++ {
				cleanLog(t, l, c, now)
			}
			now = now.Add(2 * time.Hour)
			appendKV(t, l, m, batchOpts{ts: now.UnixMilli(), pid: -1}, rec("last", "x"))
			l.Roll()
			l.cleanerCheckpoint.Store(0)
			cleanLog(t, l, newCleaner(quietLogger(), nil, 1<<20), now)
			check()
			_, recs := consume(t, l)
			if len(recs) != len(m) {
				t.Fatalf("%d records for %d live keys", len(recs), len(m))
			}
		})
	}
}
