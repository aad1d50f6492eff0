package config

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNewBrokerErrors(t *testing.T) {
	tests := []struct {
		name   string
		static map[string]string
		want   []string // substrings of the error
	}{
		{"not a number", map[string]string{"num.partitions": "many"}, []string{"num.partitions", "not a number of type INT"}},
		{"out of range", map[string]string{"num.partitions": "0"}, []string{"num.partitions", "at least 1"}},
		{"enum", map[string]string{"ssl.client.auth": "always"}, []string{"ssl.client.auth", "one of: required, requested, none"}},
		{"bool", map[string]string{"auto.create.topics.enable": "yes"}, []string{"auto.create.topics.enable", "true or false"}},
		{"short overflow", map[string]string{"offsets.topic.replication.factor": "40000"}, []string{"SHORT"}},
		{"all problems reported", map[string]string{"num.partitions": "0", "log.segment.bytes": "1024"},
			[]string{"num.partitions", "log.segment.bytes", "at least 1048576"}},
		{"node.id and broker.id differ", map[string]string{"node.id": "1", "broker.id": "2"}, []string{"must match"}},
		{"listener without protocol", map[string]string{"listeners": "CLIENT://:9092"}, []string{"CLIENT has no security protocol"}},
		{"advertised not a listener", map[string]string{"advertised.listeners": "SSL://h:9093"}, []string{"SSL is not one of the listeners"}},
		{"advertised meta-address", map[string]string{"advertised.listeners": "PLAINTEXT://0.0.0.0:9092"}, []string{"meta-address"}},
		{"malformed listener", map[string]string{"listeners": "localhost:9092"}, []string{"listeners", "NAME://host:port"}},
		{"retention zero", map[string]string{"log.retention.ms": "0"}, []string{"-1 (unlimited) or at least 1"}},
		{"retention zero from minutes", map[string]string{"log.retention.minutes": "0"}, []string{"log.retention.ms"}},
		{"roll zero", map[string]string{"log.roll.ms": "0"}, []string{"log.roll.ms"}},
		{"compaction lag order", map[string]string{"log.cleaner.min.compaction.lag.ms": "10", "log.cleaner.max.compaction.lag.ms": "5"},
			[]string{"must not exceed"}},
		{"unsupported sasl", map[string]string{"sasl.enabled.mechanisms": "GSSAPI"}, []string{"unsupported element \"GSSAPI\""}},
		{"keystore JKS", map[string]string{"ssl.keystore.type": "JKS"}, []string{"ssl.keystore.type"}},
		{"super users", map[string]string{"super.users": "User:admin;admin"}, []string{"Type:name"}},
		{"empty log.dirs", map[string]string{"log.dirs": " "}, []string{"log.dirs", "must not be empty"}},
		{"unknown role", map[string]string{"process.roles": "broker,voter"}, []string{"process.roles", "invalid element \"voter\""}},
		{"voter without id", map[string]string{"controller.quorum.voters": "127.0.0.1:9093"}, []string{"controller.quorum.voters", "id@host:port"}},
		{"voter bad id", map[string]string{"controller.quorum.voters": "x@127.0.0.1:9093"}, []string{"node id \"x\""}},
		{"voter bad port", map[string]string{"controller.quorum.voters": "1@127.0.0.1:0"}, []string{"invalid port"}},
		{"voter repeated", map[string]string{"controller.quorum.voters": "1@h:1,1@h:2"}, []string{"voter id 1 is repeated"}},
		{"voters without roles", map[string]string{"controller.quorum.voters": "1@h:9093"}, []string{"process.roles is empty"}},
		{"roles without voters", withCluster(map[string]string{"controller.quorum.voters": ""}), []string{"voters must be listed"}},
		{"controller not a voter", withCluster(map[string]string{"node.id": "4"}), []string{"node.id 4 is not one of controller.quorum.voters"}},
		{"broker-only voter", withCluster(map[string]string{"process.roles": "broker"}), []string{"does not include controller"}},
		{"controller only with a client listener", withCluster(map[string]string{"process.roles": "controller"}), []string{"does not include broker"}},
		{"no controller listener names", withCluster(map[string]string{"controller.listener.names": ""}), []string{"controller.listener.names"}},
		{"no controller listener", withCluster(map[string]string{"listeners": "PLAINTEXT://127.0.0.1:9092"}), []string{"must include the controller listener CONTROLLER"}},
		{"no client listener", withCluster(map[string]string{"listeners": "CONTROLLER://127.0.0.1:9093"}), []string{"listener for Kafka clients"}},
		{"controller listener without roles", map[string]string{"listeners": "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093",
			"controller.listener.names": "CONTROLLER"}, []string{"process.roles is empty"}},
		{"inter-broker listener unknown", withCluster(map[string]string{"inter.broker.listener.name": "CONTROLLER"}), []string{"inter.broker.listener.name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewBroker(tt.static)
			if err == nil {
				t.Fatal("NewBroker succeeded")
			}
			if !errors.Is(err, ErrInvalidValue) {
				t.Errorf("%v is not ErrInvalidValue", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestNewBrokerUnknownKeysWarn(t *testing.T) {
	b := mustBroker(t, map[string]string{
		"zookeeper.connect": "localhost:2181",
		"retention.ms":      "1000",
		"num.partitions":    " 3 ",
	})
	w := b.Warnings()
	if len(w) != 2 {
		t.Fatalf("warnings %q, want 2", w)
	}
	if !strings.Contains(w[0], "retention.ms is a topic config") || !strings.Contains(w[0], "log.retention.ms") {
		t.Errorf("warning %q should point at log.retention.ms", w[0])
	}
	if !strings.Contains(w[1], "zookeeper.connect") {
		t.Errorf("warning %q should name the key", w[1])
	}
	if v, src, ok := b.Raw("zookeeper.connect"); !ok || v != "localhost:2181" || src != SourceStaticBroker {
		t.Errorf("unknown key not kept: %q %v %v", v, src, ok)
	}
	if b.Int("num.partitions") != 3 {
		t.Errorf("num.partitions = %d", b.Int("num.partitions"))
	}
}

func TestBrokerGetters(t *testing.T) {
	b := mustBroker(t, map[string]string{
		"log.dir":                 "/a",
		"broker.id":               "7",
		"log.cleanup.policy":      "compact, delete",
		"sasl.enabled.mechanisms": "PLAIN",
	})
	if got := b.Int("node.id"); got != 7 {
		t.Errorf("node.id falls back to broker.id: got %d", got)
	}
	if got := b.List("log.dirs"); !slices.Equal(got, []string{"/a"}) {
		t.Errorf("log.dirs falls back to log.dir: got %q", got)
	}
	if got := b.List("log.cleanup.policy"); !slices.Equal(got, []string{"compact", "delete"}) {
		t.Errorf("log.cleanup.policy = %q", got)
	}
	if got := b.String("log.cleanup.policy"); got != "compact,delete" {
		t.Errorf("String(log.cleanup.policy) = %q", got)
	}
	if !b.Bool("auto.create.topics.enable") || b.Bool("allow.everyone.if.no.acl.found") {
		t.Error("boolean defaults wrong")
	}
	if got := b.Double("log.cleaner.io.max.bytes.per.second"); got != math.MaxFloat64 {
		t.Errorf("Double default = %v", got)
	}
	if got := b.Long("log.flush.interval.ms"); got != math.MaxInt64 {
		t.Errorf("log.flush.interval.ms falls back to the scheduler interval: got %d", got)
	}
	if got := b.Duration("connections.max.idle.ms"); got != 10*time.Minute {
		t.Errorf("Duration(connections.max.idle.ms) = %v", got)
	}
	if got := b.Duration("quota.window.size.seconds"); got != time.Second {
		t.Errorf("Duration(quota.window.size.seconds) = %v", got)
	}
	if got := b.Duration("offsets.retention.minutes"); got != 7*24*time.Hour {
		t.Errorf("Duration(offsets.retention.minutes) = %v", got)
	}
	if got := b.Duration("log.flush.interval.ms"); got != math.MaxInt64 {
		t.Errorf("Long.MAX ms saturates: got %v", got)
	}
	if got := b.String("advertised.listeners"); got != "" {
		t.Errorf("unset advertised.listeners = %q", got)
	}
	if got := b.AdvertisedListeners(); len(got) != 1 || got[0].String() != "PLAINTEXT://127.0.0.1:9092" {
		t.Errorf("AdvertisedListeners falls back to listeners: %v", got)
	}
	if p, ok := b.SecurityProtocol("plaintext"); !ok || p != ProtocolPlaintext {
		t.Errorf("SecurityProtocol = %q %v", p, ok)
	}
	if b.IsSet("log.dirs") || !b.IsSet("log.dir") {
		t.Error("IsSet wrong")
	}
}

func TestBrokerGetterMisuse(t *testing.T) {
	b := mustBroker(t, nil)
	for name, f := range map[string]func(){
		"unknown name":   func() { b.Int("no.such.config") },
		"wrong type":     func() { b.Bool("num.partitions") },
		"not a duration": func() { b.Duration("num.partitions") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// TestRetentionSynonymPrecedence: log.retention.ms > .minutes > .hours, in every layer.
func TestRetentionSynonymPrecedence(t *testing.T) {
	tests := []struct {
		name   string
		static map[string]string
		dyn    map[string]string // cluster default
		want   int64
	}{
		{"default is 168 hours", nil, nil, 168 * 3600000},
		{"hours", map[string]string{"log.retention.hours": "1"}, nil, 3600000},
		{"minutes over hours", map[string]string{"log.retention.hours": "1", "log.retention.minutes": "5"}, nil, 300000},
		{"ms over both", map[string]string{"log.retention.hours": "1", "log.retention.minutes": "5", "log.retention.ms": "1234"}, nil, 1234},
		{"negative hours is unlimited", map[string]string{"log.retention.hours": "-1"}, nil, -1},
		{"negative ms is unlimited", map[string]string{"log.retention.ms": "-5"}, nil, -1},
		{"dynamic ms over static hours", map[string]string{"log.retention.hours": "1"}, map[string]string{"log.retention.ms": "999"}, 999},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := mustBroker(t, tt.static)
			if tt.dyn != nil {
				if err := b.SetDynamic(ScopeClusterDefault, tt.dyn); err != nil {
					t.Fatal(err)
				}
			}
			if got := b.Long("log.retention.ms"); got != tt.want {
				t.Errorf("Long(log.retention.ms) = %d, want %d", got, tt.want)
			}
			if got := ResolveTopic(b, nil).RetentionMs; got != tt.want {
				t.Errorf("topic RetentionMs = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestRollSynonyms(t *testing.T) {
	b := mustBroker(t, map[string]string{"log.roll.hours": "2", "log.roll.jitter.hours": "1"})
	if got := b.Duration("log.roll.ms"); got != 2*time.Hour {
		t.Errorf("log.roll.ms from hours = %v", got)
	}
	if got := b.Int("log.roll.hours"); got != 2 {
		t.Errorf("log.roll.hours is its own value: %d", got)
	}
	topic := ResolveTopic(b, nil)
	if topic.SegmentMs != 7200000 || topic.SegmentJitterMs != 3600000 {
		t.Errorf("segment.ms %d, segment.jitter.ms %d", topic.SegmentMs, topic.SegmentJitterMs)
	}
	b = mustBroker(t, map[string]string{"log.roll.hours": "2", "log.roll.ms": "60000"})
	if got := ResolveTopic(b, nil).SegmentMs; got != 60000 {
		t.Errorf("log.roll.ms wins over hours: %d", got)
	}
}

func TestSetDynamic(t *testing.T) {
	b := mustBroker(t, map[string]string{"message.max.bytes": "2000000"})
	errTests := []struct {
		name   string
		scope  Scope
		values map[string]string
		is     error
	}{
		{"unknown", ScopeBroker, map[string]string{"no.such": "1"}, ErrUnknownName},
		{"read-only", ScopeBroker, map[string]string{"num.partitions": "3"}, ErrReadOnly},
		{"read-only synonym", ScopeClusterDefault, map[string]string{"log.retention.hours": "3"}, ErrReadOnly},
		{"per-broker at cluster scope", ScopeClusterDefault, map[string]string{"listeners": "PLAINTEXT://:9092"}, ErrReadOnly},
		{"invalid value", ScopeClusterDefault, map[string]string{"message.max.bytes": "-1"}, ErrInvalidValue},
		{"cross-field", ScopeBroker, map[string]string{"log.retention.ms": "0"}, ErrInvalidValue},
	}
	for _, tt := range errTests {
		if err := b.SetDynamic(tt.scope, tt.values); !errors.Is(err, tt.is) {
			t.Errorf("%s: error %v, want %v", tt.name, err, tt.is)
		}
		if err := b.ValidateDynamic(tt.scope, tt.values); !errors.Is(err, tt.is) {
			t.Errorf("%s: ValidateDynamic error %v, want %v", tt.name, err, tt.is)
		}
	}
	if got := b.Int("message.max.bytes"); got != 2000000 {
		t.Fatalf("failed updates changed the config: %d", got)
	}

	// Per-broker beats cluster default beats static; replacing a scope removes its old keys.
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(b.SetDynamic(ScopeClusterDefault, map[string]string{"message.max.bytes": "3000000", "log.segment.bytes": "2097152"}))
	if b.Int("message.max.bytes") != 3000000 || b.Int("log.segment.bytes") != 2097152 {
		t.Error("cluster default not applied")
	}
	must(b.SetDynamic(ScopeBroker, map[string]string{"message.max.bytes": " 4000000 ", "listeners": "PLAINTEXT://127.0.0.1:9099"}))
	if b.Int("message.max.bytes") != 4000000 || b.Listeners()[0].Port != 9099 {
		t.Error("per-broker not applied over the cluster default")
	}
	if got := b.Dynamic(ScopeBroker)["message.max.bytes"]; got != "4000000" {
		t.Errorf("dynamic values are stored canonical: %q", got)
	}
	must(b.SetDynamic(ScopeBroker, nil))
	if b.Int("message.max.bytes") != 3000000 {
		t.Error("clearing per-broker should reveal the cluster default")
	}
	must(b.SetDynamic(ScopeClusterDefault, map[string]string{}))
	if b.Int("message.max.bytes") != 2000000 || b.Int("log.segment.bytes") != 1<<30 {
		t.Error("clearing the cluster default should reveal static and defaults")
	}
	if topic := ResolveTopic(b, nil); topic.MaxMessageBytes != 2000000 {
		t.Errorf("topic max.message.bytes from message.max.bytes = %d", topic.MaxMessageBytes)
	}
}

// TestConcurrentReaders runs readers against SetDynamic; under -race it checks that
// readers see whole snapshots and never race with the writer.
func TestConcurrentReaders(t *testing.T) {
	b := mustBroker(t, nil)
	const rounds = 300
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				// Both values are set in one SetDynamic, so a reader sees them match.
				topic := ResolveTopic(b, map[string]string{"retention.bytes": "5"})
				if topic.SegmentBytes != int(topic.RetentionMs) && topic.RetentionMs != 604800000 {
					t.Errorf("torn snapshot: segment.bytes %d, retention.ms %d", topic.SegmentBytes, topic.RetentionMs)
					return
				}
				_ = b.Int("message.max.bytes")
				_ = b.Describe()
				_ = DescribeTopic(b, nil)
			}
		}()
	}
	for i := range rounds {
		n := 1<<20 + i
		err := b.SetDynamic(ScopeClusterDefault, map[string]string{
			"log.segment.bytes": strconv.Itoa(n), "log.retention.ms": strconv.Itoa(n),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}

// withCluster returns a valid three-voter node 1's settings with overrides applied.
func withCluster(over map[string]string) map[string]string {
	props := map[string]string{
		"node.id":                   "1",
		"process.roles":             "broker,controller",
		"listeners":                 "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093",
		"controller.listener.names": "CONTROLLER",
		"controller.quorum.voters":  "1@127.0.0.1:9093,2@127.0.0.1:9193,3@127.0.0.1:9293",
	}
	for k, v := range over {
		props[k] = v
	}
	return props
}

func TestBrokerCluster(t *testing.T) {
	b, err := NewBroker(withCluster(nil))
	if err != nil {
		t.Fatal(err)
	}
	if ls := b.Listeners(); len(ls) != 1 || ls[0].Name != "PLAINTEXT" {
		t.Errorf("Listeners() = %v, want only PLAINTEXT (not the controller listener)", ls)
	}
	if l, ok := b.ControllerListener(); !ok || l.Port != 9093 {
		t.Errorf("ControllerListener() = %v, %v", l, ok)
	}
	if p, ok := b.SecurityProtocol("CONTROLLER"); !ok || p != ProtocolPlaintext {
		t.Errorf("unmapped controller listener's protocol = %q, %v; want PLAINTEXT", p, ok)
	}
	if v := b.Voters(); len(v) != 3 || v[2] != "127.0.0.1:9193" {
		t.Errorf("Voters() = %v", v)
	}
	if broker, controller := b.Roles(); !broker || !controller || !b.Clustered() {
		t.Errorf("Roles() = %v, %v; Clustered() = %v", broker, controller, b.Clustered())
	}
	only, err := NewBroker(withCluster(map[string]string{"node.id": "4", "process.roles": "broker"}))
	if err != nil {
		t.Fatalf("broker-only node: %v", err)
	}
	if broker, controller := only.Roles(); !broker || controller {
		t.Errorf("broker-only Roles() = %v, %v", broker, controller)
	}
	ctl, err := NewBroker(withCluster(map[string]string{"process.roles": "controller", "listeners": "CONTROLLER://127.0.0.1:9093"}))
	if err != nil {
		t.Fatalf("controller-only node: %v", err)
	}
	if broker, controller := ctl.Roles(); broker || !controller || len(ctl.Listeners()) != 0 {
		t.Errorf("controller-only Roles() = %v, %v; Listeners() = %v", broker, controller, ctl.Listeners())
	}
	single, err := NewBroker(nil)
	if err != nil {
		t.Fatal(err)
	}
	if single.Clustered() || len(single.Voters()) != 0 {
		t.Error("a node without cluster settings is clustered")
	}
	if _, ok := single.ControllerListener(); ok {
		t.Error("a node without cluster settings has a controller listener")
	}
}
