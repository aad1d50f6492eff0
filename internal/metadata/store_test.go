package metadata

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// testTimeout bounds every wait on the quorum; start-up takes a few hundred milliseconds.
const testTimeout = 20 * time.Second

func testConfig(t testing.TB, dir string) Config {
	return Config{
		DataDir: dir,
		NodeID:  1,
		Logger:  slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
}

// openReady opens a Store on dir, waits until it is ready, and closes it when the test ends.
func openReady(t testing.TB, cfg Config) *Store {
	t.Helper()
	start := time.Now()
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := s.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("open + ready in %v", time.Since(start).Round(time.Millisecond))
	return s
}

func propose(t testing.TB, s *Store, rec Record) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	index, err := s.Propose(ctx, rec)
	if err != nil {
		t.Fatalf("propose %#v: %v", rec, err)
	}
	return index
}

// proposeSample proposes brokers, topics and configs touching every record type, and returns
// the surviving topic's ID.
func proposeSample(t testing.TB, s *Store) TopicID {
	keep, gone := NewTopicID(), NewTopicID()
	for _, rec := range []Record{
		RegisterBroker{NodeID: 1, Host: "localhost", Port: 9092, Rack: "r1"},
		CreateTopic{Name: "orders", TopicID: keep, Partitions: []PartitionAssignment{assignment(0, 1)},
			Configs: map[string]string{"retention.ms": "60000", "cleanup.policy": "delete"}},
		CreateTopic{Name: "scratch", TopicID: gone, Partitions: []PartitionAssignment{assignment(0, 1)}},
		CreatePartitions{TopicID: keep, New: []PartitionAssignment{assignment(1, 1), assignment(2, 1)}},
		AlterTopicConfigs{TopicID: keep, Set: map[string]string{"segment.bytes": "1048576"}, Delete: []string{"cleanup.policy"}},
		AlterBrokerConfigs{NodeID: ClusterDefault, Set: map[string]string{"log.retention.ms": "1000"}},
		AlterBrokerConfigs{NodeID: 1, Set: map[string]string{"num.io.threads": "4"}},
		DeleteTopic{TopicID: gone},
		AllocateProducerIDs{NodeID: 1, Start: 0, Count: DefaultProducerIDBlockSize},
		SetClusterID{ID: newClusterID()},
	} {
		propose(t, s, rec)
	}
	return keep
}

func TestStoreProposeAndRead(t *testing.T) {
	s := openReady(t, testConfig(t, t.TempDir()))
	if !s.IsLeader() {
		t.Fatal("a lone voter is not the leader once ready")
	}
	changed, cancel := s.Watch()
	defer cancel()

	propose(t, s, RegisterBroker{NodeID: 1, Host: "localhost", Port: 9092})
	id := NewTopicID()
	index := propose(t, s, CreateTopic{Name: "orders", TopicID: id, Partitions: []PartitionAssignment{assignment(0, 1)}})
	img := s.Image()
	if img.Index() < index {
		t.Fatalf("Image index %d is behind the proposal's %d", img.Index(), index)
	}
	if topic, ok := img.TopicByName("orders"); !ok || topic.ID != id {
		t.Fatalf("orders = %+v, %v", topic, ok)
	}
	select {
	case <-changed:
	default:
		t.Fatal("no Watch signal after a change")
	}

	// Validation errors reach the proposer and change nothing.
	_, err := s.Propose(context.Background(), CreateTopic{Name: "orders", TopicID: NewTopicID(), Partitions: []PartitionAssignment{assignment(0, 1)}})
	if !errors.Is(err, ErrTopicExists) {
		t.Fatalf("duplicate topic: %v", err)
	}
	_, err = s.Propose(context.Background(), DeleteTopic{TopicID: NewTopicID()})
	if !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("delete unknown topic: %v", err)
	}
	if s.Image() != img {
		t.Fatal("rejected proposals changed the Image")
	}

	// A context that ends first returns its error.
	ctx, cancelCtx := context.WithCancel(context.Background())
	cancelCtx()
	if _, err := s.Propose(ctx, DeleteTopic{TopicID: id}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
}

func TestStoreConcurrentProposals(t *testing.T) {
	s := openReady(t, testConfig(t, t.TempDir()))
	propose(t, s, RegisterBroker{NodeID: 1, Host: "localhost", Port: 9092})
	const writers, each = 4, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				propose(t, s, CreateTopic{Name: fmt.Sprintf("w%d-%d", w, i), TopicID: NewTopicID(), Partitions: []PartitionAssignment{assignment(0, 1)}})
			}
		})
	}
	// Readers run alongside, without locks.
	done := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			img := s.Image()
			if len(img.Topics()) != img.TopicCount() {
				t.Error("Topics() and TopicCount() disagree within one Image")
				return
			}
		}
	})
	for s.Image().TopicCount() < writers*each {
		time.Sleep(time.Millisecond)
		if t.Failed() {
			break
		}
	}
	close(done)
	wg.Wait()
}

func TestStoreReopen(t *testing.T) {
	dir := t.TempDir()
	s := openReady(t, testConfig(t, dir))
	keep := proposeSample(t, s)
	want := dumpImage(t, s.Image())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openReady(t, testConfig(t, dir))
	if got := dumpImage(t, s.Image()); got != want {
		t.Fatalf("reopened Image differs:\nbefore %s\nafter %s", want, got)
	}
	if topic, ok := s.Image().TopicByID(keep); !ok || topic.Name != "orders" || len(topic.Partitions) != 3 {
		t.Fatalf("orders after reopen: %+v", topic)
	}
	// With BindAddr port 0 the address changed; the quorum configuration follows it.
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		t.Fatal(err)
	}
	if servers := f.Configuration().Servers; len(servers) != 1 || string(servers[0].Address) != s.Addr() || servers[0].ID != "1" {
		t.Fatalf("quorum configuration %+v, want node 1 at %s", servers, s.Addr())
	}
	// The reopened store keeps accepting proposals, numbered after the old ones.
	before := s.Image().Index()
	if index := propose(t, s, RegisterBroker{NodeID: 2, Host: "h", Port: 1}); index <= before {
		t.Fatalf("new record index %d, not after %d", index, before)
	}
}

func TestStoreSnapshotRestore(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.TrailingLogs = 1 // so that the snapshot, not the log, must carry the state
	s := openReady(t, cfg)
	keep := proposeSample(t, s)
	if err := s.raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	snapIndex := s.Image().Index()
	propose(t, s, AlterTopicConfigs{TopicID: keep, Set: map[string]string{"after.snapshot": "yes"}})
	want := dumpImage(t, s.Image())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	snaps, _ := filepath.Glob(filepath.Join(dir, DirName, "snapshots", "*", "state.bin"))
	if len(snaps) != 1 {
		t.Fatalf("snapshots on disk: %v", snaps)
	}

	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// NewRaft restores the snapshot before Open returns; the log after it replays once the
	// node leads.
	if got := s.Image().Index(); got != snapIndex {
		t.Fatalf("Image index right after Open = %d, want the snapshot's %d", got, snapIndex)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := s.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if got := dumpImage(t, s.Image()); got != want {
		t.Fatalf("restored Image differs:\nbefore %s\nafter %s", want, got)
	}
}

func TestStoreEnsureClusterID(t *testing.T) {
	dir := t.TempDir()
	s := openReady(t, testConfig(t, dir))
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	// Racing first calls all get the one ID that was applied.
	ids := make([]string, 4)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			id, err := s.EnsureClusterID(ctx)
			if err != nil {
				t.Error(err)
			}
			ids[i] = id
		})
	}
	wg.Wait()
	id := ids[0]
	for _, other := range ids {
		if other != id {
			t.Fatalf("racing EnsureClusterID calls returned %q", ids)
		}
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(id)
	if len(id) != 22 || err != nil || len(raw) != 16 || id[0] == '-' {
		t.Fatalf("cluster ID %q is not Kafka's form (%d bytes, %v)", id, len(raw), err)
	}
	if got := s.Image().ClusterID(); got != id {
		t.Fatalf("Image has %q, EnsureClusterID returned %q", got, id)
	}
	// Once set, asking again proposes nothing.
	index := s.Image().Index()
	if again, err := s.EnsureClusterID(ctx); again != id || err != nil || s.Image().Index() != index {
		t.Fatalf("second call = %q, %v (index %d → %d)", again, err, index, s.Image().Index())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openReady(t, testConfig(t, dir))
	if got := s.Image().ClusterID(); got != id {
		t.Fatalf("cluster ID after reopen %q, was %q", got, id)
	}
	if again, err := s.EnsureClusterID(ctx); again != id || err != nil {
		t.Fatalf("EnsureClusterID after reopen = %q, %v; want %q", again, err, id)
	}
	s.Close()
	if _, err := s.EnsureClusterID(ctx); err != nil && !errors.Is(err, ErrClosed) {
		t.Fatalf("EnsureClusterID after Close: %v", err)
	}
}

func TestStoreWatch(t *testing.T) {
	s := openReady(t, testConfig(t, t.TempDir()))
	a, cancelA := s.Watch()
	b, _ := s.Watch()
	propose(t, s, RegisterBroker{NodeID: 1, Host: "h", Port: 1})
	propose(t, s, RegisterBroker{NodeID: 2, Host: "h", Port: 1})
	for _, ch := range []<-chan struct{}{a, b} {
		if _, ok := <-ch; !ok {
			t.Fatal("closed instead of signalled")
		}
		select {
		case <-ch:
			t.Fatal("signals did not coalesce")
		default:
		}
	}
	cancelA()
	cancelA()
	if _, ok := <-a; ok {
		t.Fatal("cancel did not close the channel")
	}
	s.Close()
	if _, ok := <-b; ok {
		t.Fatal("Close did not close the channel")
	}
	if c, _ := s.Watch(); c != nil {
		if _, ok := <-c; ok {
			t.Fatal("Watch after Close returned an open channel")
		}
	}
}

func TestStoreClose(t *testing.T) {
	before := runtime.NumGoroutine()
	s := openReady(t, testConfig(t, t.TempDir()))
	propose(t, s, RegisterBroker{NodeID: 1, Host: "h", Port: 1})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Propose(context.Background(), RegisterBroker{NodeID: 2, Host: "h", Port: 1}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Propose after Close: %v", err)
	}
	if err := s.WaitReady(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("WaitReady after Close: %v", err)
	}
	// Every goroutine raft, the transport and the store started has ended.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before Open, %d after Close:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStoreRefusesOtherNode(t *testing.T) {
	dir := t.TempDir()
	s := openReady(t, testConfig(t, dir))
	s.Close()
	cfg := testConfig(t, dir)
	cfg.NodeID = 2
	if s, err := Open(cfg); !errors.Is(err, ErrNodeIDMismatch) {
		if err == nil {
			s.Close()
		}
		t.Fatalf("Open as node 2 = %v, want ErrNodeIDMismatch", err)
	}
}

func TestStoreRefusesSecondOpen(t *testing.T) {
	dir := t.TempDir()
	openReady(t, testConfig(t, dir))
	if s, err := Open(testConfig(t, dir)); err == nil || !strings.Contains(err.Error(), "in use") {
		if err == nil {
			s.Close()
		}
		t.Fatalf("second Open of one directory = %v, want an in-use error", err)
	}
}

// TestStoreHaltsOnUnknownRecord writes a record of a type this version does not know, as a
// newer version would, and checks that the store reports it at once and after a restart.
func TestStoreHaltsOnUnknownRecord(t *testing.T) {
	dir := t.TempDir()
	s := openReady(t, testConfig(t, dir))
	propose(t, s, RegisterBroker{NodeID: 1, Host: "h", Port: 1})
	future := s.raft.Apply([]byte{200, 0, '{', '}'}, testTimeout)
	if err := future.Error(); err != nil {
		t.Fatal(err)
	}
	if err, _ := future.Response().(error); !errors.Is(err, ErrUnknownRecord) {
		t.Fatalf("apply of an unknown record returned %v", future.Response())
	}
	if _, err := s.Propose(context.Background(), RegisterBroker{NodeID: 2, Host: "h", Port: 1}); !errors.Is(err, ErrUnknownRecord) {
		t.Fatalf("Propose on a halted store: %v", err)
	}
	if err := s.raft.Snapshot().Error(); err == nil {
		t.Fatal("a halted store took a snapshot")
	}
	s.Close()

	s, err := Open(testConfig(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := s.WaitReady(ctx); !errors.Is(err, ErrUnknownRecord) {
		t.Fatalf("WaitReady after replaying an unknown record: %v", err)
	}
	if _, ok := s.Image().Broker(1); !ok || s.Err() == nil {
		t.Fatal("the records before the unknown one are not applied, or Err is unset")
	}
}

// TestStoreStartupTime reports how long a fresh and a reopened store take to open and to
// become ready; most of it is the randomised wait of one heartbeat timeout before the lone
// voter elects itself.
func TestStoreStartupTime(t *testing.T) {
	dir := t.TempDir()
	for _, phase := range []string{"fresh", "reopen", "reopen again"} {
		start := time.Now()
		s, err := Open(testConfig(t, dir))
		if err != nil {
			t.Fatal(err)
		}
		opened := time.Since(start)
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		err = s.WaitReady(ctx)
		cancel()
		ready := time.Since(start)
		if err == nil {
			propose(t, s, RegisterBroker{NodeID: 1, Host: "h", Port: 1})
		}
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: Open returned in %v, ready in %v", phase, opened.Round(time.Millisecond), ready.Round(time.Millisecond))
		if ready > 5*time.Second {
			t.Errorf("%s start took %v", phase, ready)
		}
	}
}

// crashDirEnv names the data directory of the child process of TestStoreCrash.
const crashDirEnv = "NAGARE_METADATA_CRASH_DIR"

// TestStoreCrash proposes records in a child process, kills it with SIGKILL while it is
// still proposing, and checks that every record the child saw acknowledged is there after
// reopening. The child snapshots part way, so the kill may also land during a snapshot.
func TestStoreCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	const killAfter = 60
	acked := make(map[string]string) // topic name → ID text
	killed := false
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		var name, id string
		if _, err := fmt.Sscanf(lines.Text(), "acked %s %s", &name, &id); err != nil {
			continue
		}
		acked[name] = id
		if len(acked) == killAfter && !killed {
			killed = cmd.Process.Kill() == nil // SIGKILL; lines already in the pipe still count
		}
	}
	waitErr := cmd.Wait()
	if !killed {
		t.Fatalf("child ended before %d acknowledgements (%d): %v\n%s", killAfter, len(acked), waitErr, stderr.String())
	}
	t.Logf("child killed after %d acknowledged records", len(acked))

	s := openReady(t, testConfig(t, dir))
	img := s.Image()
	for name, id := range acked {
		topic, ok := img.TopicByName(name)
		if !ok {
			t.Errorf("acknowledged topic %s is missing after the crash", name)
			continue
		}
		if topic.ID.String() != id {
			t.Errorf("topic %s has ID %v after the crash, was %s", name, topic.ID, id)
		}
	}
	if img.TopicCount() < len(acked) {
		t.Errorf("%d topics after the crash, %d acknowledged", img.TopicCount(), len(acked))
	}
}

// TestCrashChild is the child process of TestStoreCrash; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("only runs as TestStoreCrash's child")
	}
	cfg := testConfig(t, dir)
	cfg.TrailingLogs = 10 // so that recovery needs the snapshot and the log after it
	s := openReady(t, cfg)
	propose(t, s, RegisterBroker{NodeID: 1, Host: "h", Port: 1})
	var mu sync.Mutex // one line per write, and a snapshot started once
	count := 0
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				id := NewTopicID()
				name := fmt.Sprintf("w%d-%04d", w, i)
				if _, err := s.Propose(context.Background(), CreateTopic{Name: name, TopicID: id, Partitions: []PartitionAssignment{assignment(0, 1)}}); err != nil {
					fmt.Fprintln(os.Stderr, "propose:", err)
					return
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "acked %s %s\n", name, id)
				count++
				if count == 20 {
					go s.raft.Snapshot()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait() // until killed
}
