package readpath

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the pool's counters and histograms, updated without locks.
type metrics struct {
	residency   Histogram    // duration of each residency check
	warmup      Histogram    // duration of each chunk load
	queueWait   Histogram    // Warm to its first chunk's start
	resident    atomic.Int64 // checks that found the range resident
	cold        atomic.Int64 // checks that did not
	checkErrors atomic.Int64 // checks that failed (counted resident)
	jobs        atomic.Int64 // Warm calls
	chunks      atomic.Int64 // chunks loaded
	bytes       atomic.Int64 // bytes loaded
	loadErrors  atomic.Int64 // chunk loads that failed
	busy        atomic.Int64 // workers loading now
}

// Stats is a snapshot of the pool's counters.
type Stats struct {
	ResidentChecks, ColdChecks, CheckErrors int64
	Jobs, Chunks, Bytes, LoadErrors         int64
}

// Stats returns the pool's counters.
func (p *Pool) Stats() Stats {
	m := &p.metrics
	return Stats{
		ResidentChecks: m.resident.Load(), ColdChecks: m.cold.Load(), CheckErrors: m.checkErrors.Load(),
		Jobs: m.jobs.Load(), Chunks: m.chunks.Load(), Bytes: m.bytes.Load(), LoadErrors: m.loadErrors.Load(),
	}
}

// ResidencyLatency is the histogram of residency check durations.
func (p *Pool) ResidencyLatency() *Histogram { return &p.metrics.residency }

// WarmUpLatency is the histogram of chunk load durations: slow buckets are disk reads
// that happened here instead of in a connection writer's sendfile.
func (p *Pool) WarmUpLatency() *Histogram { return &p.metrics.warmup }

// QueueWait is the histogram of how long warm-up jobs waited for their first worker.
func (p *Pool) QueueWait() *Histogram { return &p.metrics.queueWait }

// ExportSendFile adds the server's sendfile histogram to what Collector exports and
// SendFileLatency returns, so the read path's view is in one place.
func (p *Pool) ExportSendFile(h *Histogram) { p.sendfile.Store(h) }

// SendFileLatency is the histogram given to ExportSendFile, or nil.
func (p *Pool) SendFileLatency() *Histogram { return p.sendfile.Load() }

// exportedBuckets is how many log2 buckets are exported: up to 2^33 µs (about 2.4 hours);
// longer durations land in +Inf.
const exportedBuckets = 34

// Collector exports the pool's metrics (and the sendfile histogram) to Prometheus.
// Histograms keep their log2 buckets: the bounds are 1, 2, 4, ... microseconds, in
// seconds as Prometheus expects.
func (p *Pool) Collector() prometheus.Collector { return (*collector)(p) }

type collector Pool

var (
	descSendfile = prometheus.NewDesc("nagare_readpath_sendfile_duration_seconds",
		"Duration of each sendfile(2) call writing a file range to a socket, excluding waits for socket space.", nil, nil)
	descResidency = prometheus.NewDesc("nagare_readpath_residency_check_duration_seconds",
		"Duration of each page cache residency check of a fetch's file range.", nil, nil)
	descWarmup = prometheus.NewDesc("nagare_readpath_warmup_duration_seconds",
		"Duration of each warm-up chunk load (sendfile to /dev/null).", nil, nil)
	descQueueWait = prometheus.NewDesc("nagare_readpath_warmup_queue_wait_seconds",
		"Time from a warm-up job's submission to its first chunk's start.", nil, nil)
	descMethod = prometheus.NewDesc("nagare_readpath_residency_method",
		"The residency check the start-up feature test chose (value 1), and whether warm-up is on.", []string{"method", "warmup"}, nil)
	descWorkers = prometheus.NewDesc("nagare_readpath_warmup_threads", "Size of the warm-up pool.", nil, nil)
	descBusy    = prometheus.NewDesc("nagare_readpath_warmup_busy_threads", "Warm-up workers loading a chunk now.", nil, nil)
	descChecks  = prometheus.NewDesc("nagare_readpath_residency_checks_total",
		"Residency checks by result: resident, cold, or error (counted resident).", []string{"result"}, nil)
	descJobs       = prometheus.NewDesc("nagare_readpath_warmup_jobs_total", "Fetches that queued cold ranges for warm-up.", nil, nil)
	descBytes      = prometheus.NewDesc("nagare_readpath_warmup_bytes_total", "Bytes loaded into the page cache by warm-up.", nil, nil)
	descLoadErrors = prometheus.NewDesc("nagare_readpath_warmup_errors_total", "Warm-up chunk loads that failed.", nil, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSendfile, descResidency, descWarmup, descQueueWait, descMethod,
		descWorkers, descBusy, descChecks, descJobs, descBytes, descLoadErrors} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	p := (*Pool)(c)
	m := &p.metrics
	if h := p.sendfile.Load(); h != nil {
		ch <- constHistogram(descSendfile, h)
	}
	ch <- constHistogram(descResidency, &m.residency)
	ch <- constHistogram(descWarmup, &m.warmup)
	ch <- constHistogram(descQueueWait, &m.queueWait)
	warmup := "off"
	if p.enabled {
		warmup = "on"
	}
	ch <- prometheus.MustNewConstMetric(descMethod, prometheus.GaugeValue, 1, string(p.method), warmup)
	ch <- prometheus.MustNewConstMetric(descWorkers, prometheus.GaugeValue, float64(p.workers))
	ch <- prometheus.MustNewConstMetric(descBusy, prometheus.GaugeValue, float64(m.busy.Load()))
	ch <- prometheus.MustNewConstMetric(descChecks, prometheus.CounterValue, float64(m.resident.Load()), "resident")
	ch <- prometheus.MustNewConstMetric(descChecks, prometheus.CounterValue, float64(m.cold.Load()), "cold")
	ch <- prometheus.MustNewConstMetric(descChecks, prometheus.CounterValue, float64(m.checkErrors.Load()), "error")
	ch <- prometheus.MustNewConstMetric(descJobs, prometheus.CounterValue, float64(m.jobs.Load()))
	ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, float64(m.bytes.Load()))
	ch <- prometheus.MustNewConstMetric(descLoadErrors, prometheus.CounterValue, float64(m.loadErrors.Load()))
}

// constHistogram converts a log2 Histogram into a Prometheus histogram with cumulative
// buckets at 2^i microseconds.
func constHistogram(desc *prometheus.Desc, h *Histogram) prometheus.Metric {
	counts := h.Snapshot()
	buckets := make(map[float64]uint64, exportedBuckets)
	var cumulative, total uint64
	for i, n := range counts {
		total += n
		if i < exportedBuckets {
			cumulative += n
			buckets[HistogramUpperBound(i).Seconds()] = cumulative
		}
	}
	return prometheus.MustNewConstHistogram(desc, total, h.Sum().Seconds(), buckets)
}
