package config

import (
	"slices"
	"strings"
)

// Entry is one config in a DescribeConfigs response, in plain Go types: the api layer
// copies the fields onto kmsg's response one for one, deriving v0's IsDefault from Source.
type Entry struct {
	Name      string
	Value     *string // nil when the config is sensitive or unset with a null default
	Source    Source  // where Value came from: the first synonym's source, else DEFAULT_CONFIG
	ReadOnly  bool
	Sensitive bool
	Type      Type
	Doc       string
	// Synonyms lists every place a value for this config is set, highest precedence first:
	// the topic override, then broker synonyms per-broker dynamic, cluster-default dynamic,
	// static, and finally defaults (DescribeConfigs v1+ with include_synonyms).
	Synonyms []Synonym
}

// Synonym is one source of a config's value.
type Synonym struct {
	Name   string
	Value  *string // nil when sensitive
	Source Source
}

// DescribeTopic returns every topic config of a topic with the given overrides on broker b,
// sorted by name, as Kafka's DescribeConfigs for a TOPIC resource does.
//
// Differs from Kafka: Kafka drops the broker synonyms listed before the first-precedence
// name (its ConfigHelper.configSynonyms keeps synonyms from log.retention.ms on), so with
// only log.retention.hours=1 in server.properties Kafka describes retention.ms=3600000 as
// DEFAULT_CONFIG with no synonyms. Nagare lists log.retention.hours=1 as
// STATIC_BROKER_CONFIG and reports that source, which is where the value came from.
func DescribeTopic(b *Broker, overrides map[string]string) []Entry {
	s := b.snap.Load()
	names := make([]string, 0, len(defs.topic))
	for name := range defs.topic {
		names = append(names, name)
	}
	slices.Sort(names)
	out := make([]Entry, 0, len(names))
	for _, name := range names {
		d := defs.topic[name]
		var syns []Synonym
		val := s.topicBase[name].text
		if raw, ok := overrides[name]; ok {
			v, err := d.parse(raw)
			text := v.text
			if err != nil {
				text = strings.TrimSpace(raw) // describe what is stored, even if invalid
			}
			val = text
			syns = append(syns, Synonym{Name: name, Value: ptr(text), Source: SourceDynamicTopic})
		}
		syns = append(syns, s.brokerSynonyms(d.Synonyms, d.Sensitive)...)
		out = append(out, entry(d, val, true, syns, false))
	}
	return out
}

// Describe returns every broker config of this broker, sorted by name, as Kafka's
// DescribeConfigs for a BROKER resource named by this broker's id does: each value is the
// config's own (log.retention.ms stays null when only log.retention.hours is set), with its
// synonyms in precedence order.
func (b *Broker) Describe() []Entry {
	s := b.snap.Load()
	out := make([]Entry, 0, len(defs.broker))
	for _, d := range Definitions(KindBroker) {
		syns := s.ownSynonyms(d.Name, d.Sensitive)
		var val string
		has := false
		if len(syns) > 0 && syns[0].Name == d.Name {
			val, has = s.text(d.Name, syns[0].Source), true
		}
		out = append(out, entry(defs.broker[d.Name], val, has, syns, d.Update == ReadOnly))
	}
	return out
}

// DescribeClusterDefaults returns the cluster-default dynamic broker configs, as Kafka's
// DescribeConfigs for a BROKER resource with an empty name does: only the configs set at
// that scope, each with only its cluster-default synonyms.
func (b *Broker) DescribeClusterDefaults() []Entry {
	s := b.snap.Load()
	var out []Entry
	for _, d := range Definitions(KindBroker) {
		text, ok := s.dynDefault[d.Name]
		if !ok {
			continue
		}
		var syns []Synonym
		for _, syn := range s.ownSynonyms(d.Name, d.Sensitive) {
			if syn.Source == SourceDynamicDefaultBroker {
				syns = append(syns, syn)
			}
		}
		out = append(out, entry(defs.broker[d.Name], text, true, syns, d.Update == ReadOnly))
	}
	return out
}

// entry builds an Entry; has says whether val is set (false: a null value).
func entry(d *Definition, val string, has bool, syns []Synonym, readOnly bool) Entry {
	e := Entry{
		Name:      d.Name,
		Source:    SourceDefault,
		ReadOnly:  readOnly,
		Sensitive: d.Sensitive,
		Type:      d.Type,
		Doc:       d.Doc,
		Synonyms:  syns,
	}
	if has && !d.Sensitive {
		e.Value = ptr(val)
	}
	if len(syns) > 0 {
		e.Source = syns[0].Source
	}
	return e
}

// brokerSynonyms lists where each of names is set, layer by layer (per-broker dynamic,
// cluster-default dynamic, static, default) and, within a layer, in names' order: Kafka's
// ConfigHelper.configSynonyms. Defaults appear only for names whose default is not null.
func (s *snapshot) brokerSynonyms(names []string, sensitive bool) []Synonym {
	var out []Synonym
	for _, l := range s.layers() {
		for _, n := range names {
			if _, ok := l.values[n]; ok {
				out = append(out, synonym(n, s.text(n, l.source), l.source, sensitive))
			}
		}
	}
	for _, n := range names {
		if v, ok := defs.defaults[n]; ok {
			out = append(out, synonym(n, v.text, SourceDefault, sensitive))
		}
	}
	return out
}

// ownSynonyms lists a broker config's synonyms from its own name on, as Kafka does when
// describing a broker config: its family in every layer, minus the entries before the first
// one for this name.
func (s *snapshot) ownSynonyms(name string, sensitive bool) []Synonym {
	family := defs.families[name]
	if family == nil {
		family = []string{name}
	}
	all := s.brokerSynonyms(family, sensitive)
	for i, syn := range all {
		if syn.Name == name {
			return all[i:]
		}
	}
	return nil
}

// text returns name's canonical text in the layer with the given source.
func (s *snapshot) text(name string, src Source) string {
	for _, l := range s.layers() {
		if l.source == src {
			return l.values[name]
		}
	}
	return defs.defaults[name].text
}

func synonym(name, text string, src Source, sensitive bool) Synonym {
	syn := Synonym{Name: name, Source: src}
	if !sensitive {
		syn.Value = ptr(text)
	}
	return syn
}

func ptr(s string) *string { return &s }
