package share

import (
	"cmp"
	"slices"
)

// PartitionView is one loaded share-partition's in-flight state, for the broker's
// /v1/share-groups: the counts live only in the data leader's memory, which the
// group coordinator (and so DescribeShareGroupOffsets and `nagare group`) never sees.
type PartitionView struct {
	Group        string `json:"group"`
	Topic        string `json:"topic"`
	Partition    int32  `json:"partition"`
	StartOffset  int64  `json:"start_offset"`
	EndOffset    int64  `json:"end_offset"`
	InFlight     int    `json:"in_flight"`
	Available    int    `json:"available"`
	Acquired     int    `json:"acquired"`
	Acknowledged int    `json:"acknowledged"`
	Archived     int    `json:"archived"`
}

// Views returns every loaded share-partition's state, by group, topic and partition.
func (m *Manager) Views() []PartitionView {
	m.mu.Lock()
	parts := make([]*Partition, 0, len(m.parts))
	for _, sp := range m.parts {
		parts = append(parts, sp)
	}
	m.mu.Unlock()
	out := make([]PartitionView, 0, len(parts))
	for _, sp := range parts {
		s := sp.Stats()
		out = append(out, PartitionView{Group: sp.key.Group, Topic: sp.topic, Partition: sp.key.Partition,
			StartOffset: s.StartOffset, EndOffset: s.EndOffset, InFlight: int(s.EndOffset - s.StartOffset),
			Available: s.Counts[Available], Acquired: s.Counts[Acquired], Acknowledged: s.Counts[Acknowledged], Archived: s.Counts[Archived]})
	}
	slices.SortFunc(out, func(a, b PartitionView) int {
		return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return out
}
