package config

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// synString prints synonyms compactly, e.g. "STATIC_BROKER_CONFIG:log.retention.hours=1".
func synString(syns []Synonym) string {
	var parts []string
	for _, s := range syns {
		parts = append(parts, fmt.Sprintf("%s:%s=%s", s.Source, s.Name, deref(s.Value)))
	}
	return strings.Join(parts, " ")
}

func find(t *testing.T, entries []Entry, name string) Entry {
	t.Helper()
	i := slices.IndexFunc(entries, func(e Entry) bool { return e.Name == name })
	if i < 0 {
		t.Fatalf("no entry %s", name)
	}
	return entries[i]
}

func TestDescribeTopic(t *testing.T) {
	b := mustBroker(t, map[string]string{"log.retention.hours": "1", "log.retention.ms": "7200000", "message.max.bytes": "2000000"})
	if err := b.SetDynamic(ScopeClusterDefault, map[string]string{"log.retention.ms": "60000"}); err != nil {
		t.Fatal(err)
	}
	if err := b.SetDynamic(ScopeBroker, map[string]string{"message.max.bytes": "3000000"}); err != nil {
		t.Fatal(err)
	}
	entries := DescribeTopic(b, map[string]string{"cleanup.policy": "compact , delete", "max.message.bytes": "500"})
	if !slices.IsSortedFunc(entries, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) }) {
		t.Error("entries not sorted by name")
	}
	if len(entries) != len(Definitions(KindTopic)) {
		t.Errorf("%d entries, want every topic config", len(entries))
	}
	tests := []struct {
		name, value string
		source      Source
		synonyms    string
	}{
		{"retention.ms", "60000", SourceDynamicDefaultBroker,
			"DYNAMIC_DEFAULT_BROKER_CONFIG:log.retention.ms=60000 STATIC_BROKER_CONFIG:log.retention.ms=7200000 " +
				"STATIC_BROKER_CONFIG:log.retention.hours=1 DEFAULT_CONFIG:log.retention.hours=168"},
		{"max.message.bytes", "500", SourceDynamicTopic,
			"DYNAMIC_TOPIC_CONFIG:max.message.bytes=500 DYNAMIC_BROKER_CONFIG:message.max.bytes=3000000 " +
				"STATIC_BROKER_CONFIG:message.max.bytes=2000000 DEFAULT_CONFIG:message.max.bytes=1048588"},
		{"cleanup.policy", "compact,delete", SourceDynamicTopic,
			"DYNAMIC_TOPIC_CONFIG:cleanup.policy=compact,delete DEFAULT_CONFIG:log.cleanup.policy=delete"},
		{"segment.ms", "604800000", SourceDefault, "DEFAULT_CONFIG:log.roll.hours=168"},
		{"flush.ms", "9223372036854775807", SourceDefault, "DEFAULT_CONFIG:log.flush.scheduler.interval.ms=9223372036854775807"},
		{"min.insync.replicas", "1", SourceDefault, "DEFAULT_CONFIG:min.insync.replicas=1"},
	}
	for _, tt := range tests {
		e := find(t, entries, tt.name)
		if deref(e.Value) != tt.value || e.Source != tt.source || synString(e.Synonyms) != tt.synonyms {
			t.Errorf("%s:\n got %s %s [%s]\nwant %s %s [%s]", tt.name,
				deref(e.Value), e.Source, synString(e.Synonyms), tt.value, tt.source, tt.synonyms)
		}
		if e.ReadOnly || e.Sensitive || e.Doc == "" || e.Type == TypeUnknown {
			t.Errorf("%s: flags %+v", tt.name, e)
		}
	}
}

func TestDescribeTopicHoursOnly(t *testing.T) {
	e := find(t, DescribeTopic(mustBroker(t, map[string]string{"log.retention.hours": "1"}), nil), "retention.ms")
	if deref(e.Value) != "3600000" || e.Source != SourceStaticBroker ||
		synString(e.Synonyms) != "STATIC_BROKER_CONFIG:log.retention.hours=1 DEFAULT_CONFIG:log.retention.hours=168" {
		t.Errorf("got %s %s [%s]", deref(e.Value), e.Source, synString(e.Synonyms))
	}
}

func TestDescribeBroker(t *testing.T) {
	b := mustBroker(t, map[string]string{"log.retention.hours": "1", "ssl.key.password": "secret", "num.partitions": "3"})
	if err := b.SetDynamic(ScopeClusterDefault, map[string]string{"log.retention.ms": "60000"}); err != nil {
		t.Fatal(err)
	}
	entries := b.Describe()
	if len(entries) != len(Definitions(KindBroker)) {
		t.Errorf("%d entries, want every broker config", len(entries))
	}
	tests := []struct {
		name, value string
		source      Source
		readOnly    bool
		synonyms    string
	}{
		// A config's own value; synonyms from its own name on, as Kafka's configSynonyms does.
		{"log.retention.ms", "60000", SourceDynamicDefaultBroker, false,
			"DYNAMIC_DEFAULT_BROKER_CONFIG:log.retention.ms=60000 STATIC_BROKER_CONFIG:log.retention.hours=1 DEFAULT_CONFIG:log.retention.hours=168"},
		{"log.retention.hours", "1", SourceStaticBroker, true,
			"STATIC_BROKER_CONFIG:log.retention.hours=1 DEFAULT_CONFIG:log.retention.hours=168"},
		{"log.retention.minutes", "<nil>", SourceDefault, true, ""},
		{"log.roll.ms", "<nil>", SourceDefault, false, ""},
		{"num.partitions", "3", SourceStaticBroker, true, "STATIC_BROKER_CONFIG:num.partitions=3 DEFAULT_CONFIG:num.partitions=1"},
		{"ssl.key.password", "<nil>", SourceStaticBroker, false, "STATIC_BROKER_CONFIG:ssl.key.password=<nil>"},
		{"message.max.bytes", "1048588", SourceDefault, false, "DEFAULT_CONFIG:message.max.bytes=1048588"},
	}
	for _, tt := range tests {
		e := find(t, entries, tt.name)
		if deref(e.Value) != tt.value || e.Source != tt.source || e.ReadOnly != tt.readOnly || synString(e.Synonyms) != tt.synonyms {
			t.Errorf("%s:\n got %s %s ro=%v [%s]\nwant %s %s ro=%v [%s]", tt.name,
				deref(e.Value), e.Source, e.ReadOnly, synString(e.Synonyms), tt.value, tt.source, tt.readOnly, tt.synonyms)
		}
	}
	if e := find(t, entries, "ssl.key.password"); !e.Sensitive || e.Type != TypePassword {
		t.Errorf("password entry %+v", e)
	}

	defaults := b.DescribeClusterDefaults()
	if len(defaults) != 1 || defaults[0].Name != "log.retention.ms" || deref(defaults[0].Value) != "60000" ||
		synString(defaults[0].Synonyms) != "DYNAMIC_DEFAULT_BROKER_CONFIG:log.retention.ms=60000" {
		t.Errorf("cluster defaults %+v", defaults)
	}
}
