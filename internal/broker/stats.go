package broker

import (
	"fmt"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nagare-dev/nagare/internal/api"
	"github.com/nagare-dev/nagare/internal/group"
	"github.com/nagare-dev/nagare/internal/partition"
	"github.com/nagare-dev/nagare/internal/stats"
)

// openStats builds the request and client accounting (internal/stats) unless
// nagare.metrics.enable is false, and exports it. It runs before the HTTP endpoint
// starts, so /v1/clients never sees it change.
func (b *Broker) openStats() error {
	if !b.conf.Bool("nagare.metrics.enable") {
		return nil
	}
	var listeners []string
	for _, l := range b.conf.Listeners() {
		listeners = append(listeners, l.Name)
	}
	b.stats = stats.New(stats.Config{
		MaxClients: b.conf.Int("nagare.metrics.max.clients"),
		Listeners:  listeners,
		APIName:    api.APIName,
		ErrorName:  api.ErrorName,
	})
	if err := b.registry.Register(b.stats.Collector()); err != nil {
		return fmt.Errorf("broker: register request metrics: %w", err)
	}
	return nil
}

// Stats is the broker's request and client accounting, or nil when
// nagare.metrics.enable is false.
func (b *Broker) Stats() *stats.Stats { return b.stats }

// exportTopics publishes the per-partition and per-group metrics, read from the
// partition registry and the group coordinator at scrape time.
func (b *Broker) exportTopics() error {
	c := &topicCollector{partitions: b.partitions, groups: b.groups, maxGroups: b.conf.Int("nagare.metrics.max.groups")}
	if err := b.registry.Register(c); err != nil {
		return fmt.Errorf("broker: register topic metrics: %w", err)
	}
	return nil
}

// topicCollector exports per-partition traffic and log figures and consumer group lag.
// Everything is computed when scraped: the hot path only adds to the partitions' atomic
// counters.
type topicCollector struct {
	partitions *partition.Registry
	groups     *group.Coordinator
	maxGroups  int // groups whose lag is exported (nagare.metrics.max.groups)
}

var (
	partitionLabels   = []string{"topic", "partition"}
	descPartBytesIn   = prometheus.NewDesc("nagare_partition_received_bytes_total", "Record batch bytes appended to the partition (Kafka's BytesInPerSec).", partitionLabels, nil)
	descPartRecordsIn = prometheus.NewDesc("nagare_partition_received_records_total", "Records appended to the partition (Kafka's MessagesInPerSec).", partitionLabels, nil)
	descPartBytesOut  = prometheus.NewDesc("nagare_partition_sent_bytes_total", "Record bytes sent to fetches from the partition (Kafka's BytesOutPerSec).", partitionLabels, nil)
	descPartSize      = prometheus.NewDesc("nagare_partition_log_size_bytes", "Bytes of the partition's segment files.", partitionLabels, nil)
	descPartEnd       = prometheus.NewDesc("nagare_partition_log_end_offset", "The partition's log end offset.", partitionLabels, nil)
	descPartStart     = prometheus.NewDesc("nagare_partition_log_start_offset", "The partition's log start offset.", partitionLabels, nil)
	descPartHW        = prometheus.NewDesc("nagare_partition_high_watermark", "The partition's high watermark.", partitionLabels, nil)
	descPartSegments  = prometheus.NewDesc("nagare_partition_log_segments", "Segments of the partition's log.", partitionLabels, nil)
	// Group lag is per group and topic, not per partition: group ids are the clients'
	// choice, and a series per partition of every group's topics is unbounded.
	groupLabels       = []string{"group", "topic"}
	descGroupLag      = prometheus.NewDesc("nagare_group_lag_records", "Records between a group's committed offsets and the high watermarks, summed over the topic's partitions the group committed; computed when scraped.", groupLabels, nil)
	descGroupMaxLag   = prometheus.NewDesc("nagare_group_max_lag_records", "The largest lag of one partition of the topic, for the group.", groupLabels, nil)
	descGroupsOmitted = prometheus.NewDesc("nagare_group_lag_omitted_groups", "Groups whose lag this scrape left out: beyond nagare.metrics.max.groups, by group id order.", nil, nil)
)

func (c *topicCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPartBytesIn, descPartRecordsIn, descPartBytesOut, descPartSize,
		descPartEnd, descPartStart, descPartHW, descPartSegments, descGroupLag, descGroupMaxLag, descGroupsOmitted} {
		ch <- d
	}
}

func (c *topicCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.partitions.All() {
		labels := []string{p.Topic(), strconv.Itoa(int(p.Index()))}
		t, l := p.Traffic(), p.Log()
		ch <- prometheus.MustNewConstMetric(descPartBytesIn, prometheus.CounterValue, float64(t.BytesIn), labels...)
		ch <- prometheus.MustNewConstMetric(descPartRecordsIn, prometheus.CounterValue, float64(t.RecordsIn), labels...)
		ch <- prometheus.MustNewConstMetric(descPartBytesOut, prometheus.CounterValue, float64(t.BytesOut), labels...)
		ch <- prometheus.MustNewConstMetric(descPartSize, prometheus.GaugeValue, float64(l.Size()), labels...)
		ch <- prometheus.MustNewConstMetric(descPartEnd, prometheus.GaugeValue, float64(l.LogEndOffset()), labels...)
		ch <- prometheus.MustNewConstMetric(descPartStart, prometheus.GaugeValue, float64(l.LogStartOffset()), labels...)
		ch <- prometheus.MustNewConstMetric(descPartHW, prometheus.GaugeValue, float64(l.HighWatermark()), labels...)
		ch <- prometheus.MustNewConstMetric(descPartSegments, prometheus.GaugeValue, float64(l.NumSegments()), labels...)
	}
	c.collectLag(ch)
}

// collectLag reports the lag of the first maxGroups groups by id (a stable choice, so
// series do not come and go as lags change) and how many were left out. Groups still
// loading are skipped until they load. Label values go through stats.LabelValue; groups
// that sanitise to one id are added together, as duplicate series would fail the scrape.
func (c *topicCollector) collectLag(ch chan<- prometheus.Metric) {
	groups, _ := c.groups.ListGroups(nil, nil) // sorted by id; ErrLoadInProgress: report what is loaded
	omitted := max(len(groups)-c.maxGroups, 0)
	groups = groups[:len(groups)-omitted]
	type groupTopic struct{ group, topic string }
	type lag struct{ sum, max int64 }
	lags := map[groupTopic]*lag{}
	for _, g := range groups {
		offsets, err := c.groups.FetchOffsets(g.GroupID, nil)
		if err != nil {
			continue
		}
		for tp, committed := range offsets {
			p, ok := c.partitions.Get(tp.Topic, tp.Partition)
			if !ok || committed.Offset < 0 {
				continue
			}
			k := groupTopic{stats.LabelValue(g.GroupID), stats.LabelValue(tp.Topic)}
			l := lags[k]
			if l == nil {
				l = &lag{}
				lags[k] = l
			}
			n := max(p.Log().HighWatermark()-committed.Offset, 0)
			l.sum += n
			l.max = max(l.max, n)
		}
	}
	for k, l := range lags {
		ch <- prometheus.MustNewConstMetric(descGroupLag, prometheus.GaugeValue, float64(l.sum), k.group, k.topic)
		ch <- prometheus.MustNewConstMetric(descGroupMaxLag, prometheus.GaugeValue, float64(l.max), k.group, k.topic)
	}
	ch <- prometheus.MustNewConstMetric(descGroupsOmitted, prometheus.GaugeValue, float64(omitted))
}
