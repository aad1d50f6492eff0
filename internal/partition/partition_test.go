package partition

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nagare-dev/nagare/internal/config"
	"github.com/nagare-dev/nagare/internal/log"
	"github.com/nagare-dev/nagare/internal/metadata"
)

type fixture struct {
	t    *testing.T
	meta *metadata.Store
	logs *log.Manager
	reg  *Registry
	conf *config.Broker
}

func newFixture(t *testing.T) *fixture {
	dir := t.TempDir()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	conf, err := config.NewBroker(nil)
	if err != nil {
		t.Fatal(err)
	}
	logs, err := log.OpenManager(log.ManagerConfig{Dir: dir, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	meta, err := metadata.Open(metadata.Config{DataDir: dir, NodeID: 1, BindAddr: "127.0.0.1:0", Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := meta.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := meta.Propose(ctx, metadata.RegisterBroker{NodeID: 1, Host: "127.0.0.1", Port: 9092}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, meta: meta, logs: logs, conf: conf, reg: NewRegistry(1, logs, conf, logger)}
	t.Cleanup(func() {
		meta.Close()
		logs.Close()
	})
	return f
}

func (f *fixture) propose(rec metadata.Record) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := f.meta.Propose(ctx, rec); err != nil {
		f.t.Fatalf("propose %T: %v", rec, err)
	}
	if err := f.reg.Sync(f.meta.Image()); err != nil {
		f.t.Fatalf("sync: %v", err)
	}
}

func createRecord(name string, partitions int32, configs map[string]string) metadata.CreateTopic {
	rec := metadata.CreateTopic{Name: name, TopicID: metadata.NewTopicID(), Configs: configs}
	for p := int32(0); p < partitions; p++ {
		rec.Partitions = append(rec.Partitions, metadata.PartitionAssignment{Partition: p, Replicas: []int32{1}, Leader: 1, ISR: []int32{1}})
	}
	return rec
}

func batch(ts int64) []byte {
	rec := []byte{0, 0, 0, 1, 0, 0}
	body := append(binary.AppendVarint(nil, int64(len(rec))), rec...)
	b := make([]byte, 61, 61+len(body))
	binary.BigEndian.PutUint32(b[8:], uint32(49+len(body)))
	b[16] = 2
	binary.BigEndian.PutUint64(b[27:], uint64(ts))
	binary.BigEndian.PutUint64(b[35:], uint64(ts))
	// No producer: id, epoch and sequence -1 (zeros would be producer 0's sequence 0,
	// which idempotence de-duplicates).
	binary.BigEndian.PutUint64(b[43:], ^uint64(0))
	binary.BigEndian.PutUint16(b[51:], 0xffff)
	binary.BigEndian.PutUint32(b[53:], 0xffffffff)
	binary.BigEndian.PutUint32(b[57:], 1)
	b = append(b, body...)
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

func TestSyncCreatesConfiguresAndDeletes(t *testing.T) {
	f := newFixture(t)
	rec := createRecord("orders", 3, map[string]string{"retention.ms": "1000"})
	f.propose(rec)
	p, ok := f.reg.Get("orders", 2)
	if !ok || len(f.reg.All()) != 3 {
		t.Fatalf("partitions after create: %d", len(f.reg.All()))
	}
	if got := p.Log().Config().RetentionTime; got != time.Second {
		t.Fatalf("retention.ms override not applied: %v", got)
	}
	if _, err := p.Append(batch(time.Now().UnixMilli()), 1, time.Now()); err != nil {
		t.Fatal(err)
	}
	if p.Log().HighWatermark() != 1 {
		t.Fatalf("high watermark %d after one record on a single replica", p.Log().HighWatermark())
	}
	f.propose(metadata.AlterTopicConfigs{TopicID: rec.TopicID, Set: map[string]string{"retention.ms": "5000"}})
	if got := p.Log().Config().RetentionTime; got != 5*time.Second {
		t.Fatalf("altered retention.ms not applied: %v", got)
	}
	f.propose(metadata.DeleteTopic{TopicID: rec.TopicID})
	if len(f.reg.All()) != 0 || len(f.logs.Logs()) != 0 {
		t.Fatalf("after delete: %d partitions, %d logs", len(f.reg.All()), len(f.logs.Logs()))
	}
}

// TestRecreatedTopicStartsEmpty: a log left on disk by an older topic of the same name
// (say the broker was down when it was deleted) must not surface in the new topic.
func TestRecreatedTopicStartsEmpty(t *testing.T) {
	f := newFixture(t)
	old := createRecord("events", 1, nil)
	f.propose(old)
	p, _ := f.reg.Get("events", 0)
	if _, err := p.Append(batch(time.Now().UnixMilli()), 1, time.Now()); err != nil {
		t.Fatal(err)
	}
	// A fresh registry sees the old log on disk, then a new topic of the same name.
	fresh := NewRegistry(1, f.logs, f.conf, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := f.meta.Propose(ctx, metadata.DeleteTopic{TopicID: old.TopicID}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.meta.Propose(ctx, createRecord("events", 1, nil)); err != nil {
		t.Fatal(err)
	}
	if err := fresh.Sync(f.meta.Image()); err != nil {
		t.Fatal(err)
	}
	p, _ = fresh.Get("events", 0)
	if p.Log().LogEndOffset() != 0 {
		t.Fatalf("re-created topic inherited %d records", p.Log().LogEndOffset())
	}
}

func TestAppendRules(t *testing.T) {
	f := newFixture(t)
	f.propose(createRecord("strict", 1, map[string]string{
		"min.insync.replicas": "2", "message.timestamp.before.max.ms": "60000", "message.timestamp.after.max.ms": "60000"}))
	p, _ := f.reg.Get("strict", 0)
	now := time.Now()
	if _, err := p.Append(batch(now.UnixMilli()), -1, now); !errors.Is(err, ErrNotEnoughReplicas) {
		t.Fatalf("acks=all with 1 of min.insync.replicas=2: %v", err)
	}
	if _, err := p.Append(batch(now.UnixMilli()), 1, now); err != nil {
		t.Fatalf("acks=1 ignores min.insync.replicas: %v", err)
	}
	if _, err := p.Append(batch(now.Add(-time.Hour).UnixMilli()), 1, now); !errors.Is(err, ErrInvalidTimestamp) {
		t.Fatalf("old timestamp: %v", err)
	}
	if _, err := p.Append(batch(now.Add(time.Hour).UnixMilli()), 1, now); !errors.Is(err, ErrInvalidTimestamp) {
		t.Fatalf("future timestamp: %v", err)
	}
}

func TestLogConfigFollowsCleanupPolicy(t *testing.T) {
	conf, _ := config.NewBroker(nil)
	compact := config.ResolveTopic(conf, map[string]string{"cleanup.policy": "compact", "retention.ms": "1000"})
	if c := LogConfig(compact); c.RetentionTime >= 0 || c.RetentionBytes >= 0 || !c.Compacted {
		t.Fatalf("compact-only topic must not expire by time or size: %+v", c)
	}
	both := config.ResolveTopic(conf, map[string]string{"cleanup.policy": "compact,delete", "retention.ms": "1000"})
	if c := LogConfig(both); c.RetentionTime != time.Second || !c.Compacted {
		t.Fatalf("compact,delete: %+v", c)
	}
}

// TestSyncFollowsAssignment: a broker opens logs only for partitions whose replicas
// include it, leads only those the metadata says it leads (a follower refuses appends
// and records no leader epoch of its own), records an epoch's start only on becoming
// leader, and closes, not deletes, logs of partitions assigned elsewhere.
func TestSyncFollowsAssignment(t *testing.T) {
	f := newFixture(t)
	f.propose(metadata.RegisterBroker{NodeID: 2, Host: "127.0.0.1", Port: 9093})
	rec := metadata.CreateTopic{Name: "spread", TopicID: metadata.NewTopicID(), Partitions: []metadata.PartitionAssignment{
		{Partition: 0, Replicas: []int32{1}, Leader: 1, ISR: []int32{1}},
		{Partition: 1, Replicas: []int32{2}, Leader: 2, ISR: []int32{2}},
		{Partition: 2, Replicas: []int32{2, 1}, Leader: 2, LeaderEpoch: 3, ISR: []int32{2, 1}},
	}}
	f.propose(rec)
	if _, ok := f.reg.Get("spread", 1); ok {
		t.Fatal("partition 1 is assigned to broker 2 only, but broker 1 holds it")
	}
	if _, ok := f.logs.Get(log.TopicPartition{Topic: "spread", Partition: 1}); ok {
		t.Fatal("a log was created for a partition assigned elsewhere")
	}
	led, _ := f.reg.Get("spread", 0)
	if !led.IsLeader() || led.Leader() != 1 || led.Log().LatestEpoch() != 0 {
		t.Fatalf("partition 0: leader %v (%d), latest epoch %d", led.IsLeader(), led.Leader(), led.Log().LatestEpoch())
	}
	follower, ok := f.reg.Get("spread", 2)
	if !ok || follower.IsLeader() || follower.Leader() != 2 || follower.LeaderEpoch() != 3 {
		t.Fatalf("partition 2: held %v, leader %v (%d), epoch %d", ok, follower.IsLeader(), follower.Leader(), follower.LeaderEpoch())
	}
	if _, err := follower.Append(batch(time.Now().UnixMilli()), 1, time.Now()); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("append on a follower: %v, want ErrNotLeader", err)
	}
	if e := follower.Log().LatestEpoch(); e != log.UndefinedEpoch {
		t.Fatalf("a follower recorded leader epoch %d", e)
	}

	// Leadership moves here and away again (no metadata record moves it yet).
	topic, _ := f.meta.Image().TopicByName("spread")
	moves := []struct {
		leader, epoch int32
		leads         bool
		latest        int32
	}{{1, 4, true, 4}, {2, 5, false, 4}, {1, 6, true, 6}}
	for _, m := range moves {
		a := metadata.PartitionAssignment{Partition: 2, Replicas: []int32{2, 1}, Leader: m.leader, LeaderEpoch: m.epoch, ISR: []int32{2, 1}}
		p, err := f.reg.ensure(follower, topic, a, follower.Config())
		if err != nil {
			t.Fatal(err)
		}
		if p != follower || p.IsLeader() != m.leads || p.Log().LatestEpoch() != m.latest {
			t.Fatalf("leader %d epoch %d: leads %v, latest epoch %d; want %v, %d", m.leader, m.epoch, p.IsLeader(), p.Log().LatestEpoch(), m.leads, m.latest)
		}
	}

	// Another node id over the same data dir: nothing is assigned to it, and the topic
	// still exists, so the logs are closed and kept.
	other := NewRegistry(3, f.logs, f.conf, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := other.Sync(f.meta.Image()); err != nil {
		t.Fatal(err)
	}
	if len(other.All()) != 0 || len(f.logs.Logs()) != 0 {
		t.Fatalf("node 3: %d partitions, %d open logs; want none", len(other.All()), len(f.logs.Logs()))
	}
	for _, p := range []int{0, 2} {
		if _, err := os.Stat(filepath.Join(led.Log().Dir(), "..", fmt.Sprintf("spread-%d", p))); err != nil {
			t.Fatalf("closed partition's directory: %v", err)
		}
	}
	if _, err := led.Append(batch(time.Now().UnixMilli()), 1, time.Now()); err == nil {
		t.Fatal("append to a closed log succeeded")
	}
}
