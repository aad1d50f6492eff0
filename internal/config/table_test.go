package config

import (
	"slices"
	"strings"
	"testing"
)

// TestTableDefaults checks every row against its own type and validator, so a typo in a
// default fails here rather than at a broker's start.
func TestTableDefaults(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range table {
		if seen[d.Name] {
			t.Errorf("%s: defined twice", d.Name)
		}
		seen[d.Name] = true
		if d.Kinds == 0 || d.Type == TypeUnknown {
			t.Errorf("%s: missing kind or type", d.Name)
		}
		if d.Doc == "" || strings.Contains(d.Doc, "\n") {
			t.Errorf("%s: doc must be one non-empty line", d.Name)
		}
		if d.Type == TypePassword && !d.Sensitive {
			t.Errorf("%s: PASSWORD configs must be sensitive", d.Name)
		}
		if d.NoDefault {
			if d.Default != "" {
				t.Errorf("%s: NoDefault with a default %q", d.Name, d.Default)
			}
			continue
		}
		v, err := d.parse(d.Default)
		if err != nil {
			t.Errorf("%s: default does not validate: %v", d.Name, err)
			continue
		}
		if v.text != d.Default {
			t.Errorf("%s: default %q is not canonical (Kafka prints %q)", d.Name, d.Default, v.text)
		}
	}
}

// TestTableSynonyms checks each topic config's broker synonyms exist, have a compatible
// type, and that their defaults give the topic's default.
func TestTableSynonyms(t *testing.T) {
	for _, d := range table {
		if d.Kinds&KindTopic == 0 {
			if len(d.Synonyms) != 0 {
				t.Errorf("%s: only topic configs have synonyms", d.Name)
			}
			continue
		}
		if len(d.Synonyms) == 0 && !strings.HasSuffix(d.Name, ".replication.throttled.replicas") {
			t.Errorf("%s: topic config without a broker synonym", d.Name)
		}
		if d.Kinds&KindBroker != 0 && !slices.Equal(d.Synonyms, []string{d.Name}) {
			t.Errorf("%s: a config that is both kinds is its own synonym, got %v", d.Name, d.Synonyms)
		}
		for _, n := range d.Synonyms {
			b := defs.broker[n]
			if b == nil {
				t.Errorf("%s: synonym %s is not a broker config", d.Name, n)
				continue
			}
			ok := b.Type == d.Type || (d.Type == TypeLong && b.Type == TypeInt && millisPer(n) != 1)
			if !ok {
				t.Errorf("%s (%s): synonym %s has type %s", d.Name, d.Type, n, b.Type)
			}
		}
	}
	for _, d := range table {
		if d.Fallback != "" {
			f := defs.broker[d.Fallback]
			if f == nil || f.Type != d.Type {
				t.Errorf("%s: fallback %s missing or of another type", d.Name, d.Fallback)
			}
		}
	}
	// With no broker settings, each topic config's value from its synonyms is its default.
	b := mustBroker(t, nil)
	for _, e := range DescribeTopic(b, nil) {
		d := defs.topic[e.Name]
		if e.Value == nil || *e.Value != d.Default {
			t.Errorf("%s: broker synonyms give %v, topic default is %q", e.Name, deref(e.Value), d.Default)
		}
	}
}

// TestKafkaSynonymOrder pins the precedence lists to Kafka's ServerTopicConfigSynonyms.
func TestKafkaSynonymOrder(t *testing.T) {
	tests := map[string][]string{
		"retention.ms":                    {"log.retention.ms", "log.retention.minutes", "log.retention.hours"},
		"segment.ms":                      {"log.roll.ms", "log.roll.hours"},
		"segment.jitter.ms":               {"log.roll.jitter.ms", "log.roll.jitter.hours"},
		"segment.bytes":                   {"log.segment.bytes"},
		"segment.index.bytes":             {"log.index.size.max.bytes"},
		"flush.messages":                  {"log.flush.interval.messages"},
		"flush.ms":                        {"log.flush.interval.ms", "log.flush.scheduler.interval.ms"},
		"retention.bytes":                 {"log.retention.bytes"},
		"max.message.bytes":               {"message.max.bytes"},
		"index.interval.bytes":            {"log.index.interval.bytes"},
		"delete.retention.ms":             {"log.cleaner.delete.retention.ms"},
		"min.compaction.lag.ms":           {"log.cleaner.min.compaction.lag.ms"},
		"max.compaction.lag.ms":           {"log.cleaner.max.compaction.lag.ms"},
		"file.delete.delay.ms":            {"log.segment.delete.delay.ms"},
		"min.cleanable.dirty.ratio":       {"log.cleaner.min.cleanable.ratio"},
		"cleanup.policy":                  {"log.cleanup.policy"},
		"min.insync.replicas":             {"min.insync.replicas"},
		"compression.type":                {"compression.type"},
		"preallocate":                     {"log.preallocate"},
		"message.timestamp.type":          {"log.message.timestamp.type"},
		"unclean.leader.election.enable":  {"unclean.leader.election.enable"},
		"message.timestamp.before.max.ms": {"log.message.timestamp.before.max.ms"},
		"message.timestamp.after.max.ms":  {"log.message.timestamp.after.max.ms"},
	}
	for name, want := range tests {
		d, ok := Lookup(KindTopic, name)
		if !ok || !slices.Equal(d.Synonyms, want) {
			t.Errorf("%s: synonyms %v, want %v", name, d.Synonyms, want)
		}
	}
}

// TestRequiredNames checks the configs other packages and Kafka tools rely on are present.
func TestRequiredNames(t *testing.T) {
	broker := []string{
		"node.id", "broker.id", "log.dirs", "log.dir", "listeners", "advertised.listeners",
		"listener.security.protocol.map", "auto.create.topics.enable", "num.partitions",
		"default.replication.factor", "delete.topic.enable", "message.max.bytes",
		"socket.request.max.bytes", "connections.max.idle.ms", "log.retention.check.interval.ms",
		"log.flush.interval.messages", "log.flush.interval.ms", "log.flush.scheduler.interval.ms",
		"log.flush.offset.checkpoint.interval.ms", "log.index.interval.bytes",
		"log.index.size.max.bytes", "log.message.timestamp.type", "log.cleaner.enable",
		"log.cleaner.threads", "log.cleaner.io.max.bytes.per.second", "log.cleaner.dedupe.buffer.size",
		"log.cleaner.delete.retention.ms", "log.cleaner.min.cleanable.ratio", "log.cleaner.backoff.ms",
		"offsets.topic.num.partitions", "offsets.topic.replication.factor", "offsets.retention.minutes",
		"group.initial.rebalance.delay.ms", "group.min.session.timeout.ms", "group.max.session.timeout.ms",
		"transaction.state.log.num.partitions", "transactional.id.expiration.ms", "min.insync.replicas",
		"compression.type", "quota.window.num", "quota.window.size.seconds", "sasl.enabled.mechanisms",
		"super.users", "allow.everyone.if.no.acl.found", "ssl.keystore.type", "ssl.keystore.location",
		"ssl.truststore.type", "ssl.truststore.location", "ssl.client.auth",
	}
	for _, n := range broker {
		if _, ok := Lookup(KindBroker, n); !ok {
			t.Errorf("broker config %s missing", n)
		}
	}
	if got := len(Definitions(KindTopic)); got < 23 {
		t.Errorf("%d topic configs, want at least the 23 the log and tools use", got)
	}
	if _, ok := Lookup(KindTopic, "log.retention.ms"); ok {
		t.Error("log.retention.ms must not be a topic config")
	}
}

func TestFamiliesAndChains(t *testing.T) {
	tests := map[string][]string{
		"log.retention.ms":      {"log.retention.ms", "log.retention.minutes", "log.retention.hours"},
		"log.retention.minutes": {"log.retention.minutes"},
		"log.roll.ms":           {"log.roll.ms", "log.roll.hours"},
		"log.flush.interval.ms": {"log.flush.interval.ms", "log.flush.scheduler.interval.ms"},
		"log.dirs":              {"log.dirs", "log.dir"},
		"node.id":               {"node.id", "broker.id"},
		"message.max.bytes":     {"message.max.bytes"},
	}
	for name, want := range tests {
		if got := defs.chains[name]; !slices.Equal(got, want) {
			t.Errorf("chain of %s = %v, want %v", name, got, want)
		}
	}
}

func mustBroker(t testing.TB, static map[string]string) *Broker {
	t.Helper()
	b, err := NewBroker(static)
	if err != nil {
		t.Fatalf("NewBroker(%v): %v", static, err)
	}
	return b
}

func deref(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}
