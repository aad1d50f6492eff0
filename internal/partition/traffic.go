package partition

import "sync/atomic"

// traffic counts what passed through a partition, for the per-partition metrics (Kafka's
// BytesInPerSec, MessagesInPerSec, BytesOutPerSec per topic): atomic adds on the hot
// path, read by a Prometheus collector at scrape time.
type traffic struct {
	bytesIn   atomic.Int64 // record batch bytes appended
	recordsIn atomic.Int64 // records appended
	bytesOut  atomic.Int64 // record bytes sent to fetches
}

// Traffic is a partition's counters since it was opened on this broker.
type Traffic struct {
	BytesIn, RecordsIn, BytesOut int64
}

// CountFetched counts record bytes sent to a consumer from this partition.
func (p *Partition) CountFetched(bytes int64) { p.traffic.bytesOut.Add(bytes) }

// Traffic returns the partition's counters.
func (p *Partition) Traffic() Traffic {
	return Traffic{BytesIn: p.traffic.bytesIn.Load(), RecordsIn: p.traffic.recordsIn.Load(), BytesOut: p.traffic.bytesOut.Load()}
}

func (p *Partition) countAppended(bytes, records int) {
	p.traffic.bytesIn.Add(int64(bytes))
	p.traffic.recordsIn.Add(int64(records))
}
