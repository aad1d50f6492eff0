package stats

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// MaxLabelBytes bounds a label value taken from a client (client id, principal, group
// id): Kafka allows 32 KiB client ids, and every series repeats its labels in each scrape.
const MaxLabelBytes = 128

// LabelValue makes a client-chosen string safe as a Prometheus label value: invalid
// UTF-8 becomes U+FFFD and the result is cut to MaxLabelBytes on a rune boundary.
// client_golang panics on an invalid label value, and the registry turns that into an
// HTTP 500 for the whole of /metrics, so one bad client id would hide every metric.
// Distinct inputs may map to one value; callers merge them (one client entry, one
// group series) rather than export duplicate series, which fail a scrape as well.
func LabelValue(s string) string {
	if len(s) <= MaxLabelBytes && utf8.ValidString(s) {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= MaxLabelBytes {
		return s
	}
	cut := MaxLabelBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// Collector exports the aggregates to Prometheus, read at scrape time: nothing on the
// request path touches a Prometheus type.
func (s *Stats) Collector() prometheus.Collector { return (*collector)(s) }

type collector Stats

var (
	clientLabels = []string{"client_id", "principal"}

	descRequests = prometheus.NewDesc("nagare_requests_total",
		"Requests answered, by API and version (Kafka's RequestsPerSec).", []string{"api", "version"}, nil)
	descErrors = prometheus.NewDesc("nagare_request_errors_total",
		"Error codes in responses, by API and error, each partition or resource counting once; NONE is not counted (Kafka's ErrorsPerSec).",
		[]string{"api", "error"}, nil)
	descStage = prometheus.NewDesc("nagare_request_stage_seconds",
		"Time requests spent in each stage (Kafka's RequestQueueTimeMs, LocalTimeMs, RemoteTimeMs, ThrottleTimeMs, ResponseQueueTimeMs, ResponseSendTimeMs); see docs/ARCHITECTURE.md.",
		[]string{"api", "stage"}, nil)
	descDuration = prometheus.NewDesc("nagare_request_duration_seconds",
		"Time from a request's frame being read to its response being sent (Kafka's TotalTimeMs).", []string{"api"}, nil)
	descRequestSize = prometheus.NewDesc("nagare_request_size_bytes",
		"Size of request frames, size prefix included.", []string{"api"}, nil)
	descResponseSize = prometheus.NewDesc("nagare_response_size_bytes",
		"Size of responses sent, size prefix included.", []string{"api"}, nil)

	descClientRequests = prometheus.NewDesc("nagare_client_requests_total",
		"Requests answered per client and API.", append(clientLabels, "api"), nil)
	descClientIn = prometheus.NewDesc("nagare_client_received_bytes_total",
		"Bytes of request frames received per client.", clientLabels, nil)
	descClientOut = prometheus.NewDesc("nagare_client_sent_bytes_total",
		"Bytes of responses sent per client.", clientLabels, nil)
	descClientTime = prometheus.NewDesc("nagare_client_broker_time_seconds_total",
		"Broker time used per client (what request_percentage quotas meter; see docs/ARCHITECTURE.md).", clientLabels, nil)
	descClientThrottle = prometheus.NewDesc("nagare_client_throttle_seconds_total",
		"Throttle time given to each client's responses (KIP-219).", clientLabels, nil)
	descClientConns = prometheus.NewDesc("nagare_client_connections",
		"Open connections per client and listener, counted from each connection's first request.",
		append(clientLabels, "listener"), nil)
	descClientInfo = prometheus.NewDesc("nagare_client_info",
		"Client software name and version each client reported in ApiVersions (value 1).",
		append(clientLabels, "software_name", "software_version"), nil)
	descTracked = prometheus.NewDesc("nagare_clients_tracked",
		"Client entries tracked; clients beyond nagare_clients_max are counted as client_id=\"other\".", nil, nil)
	descMax    = prometheus.NewDesc("nagare_clients_max", "The cap on tracked clients (nagare.metrics.max.clients).", nil, nil)
	descFolded = prometheus.NewDesc("nagare_clients_folded_total",
		"Times a connection was counted as \"other\" because the client cap was reached.", nil, nil)
	descEvicted = prometheus.NewDesc("nagare_clients_evicted_total",
		"Idle client entries removed, freeing room under the cap.", nil, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRequests, descErrors, descStage, descDuration, descRequestSize,
		descResponseSize, descClientRequests, descClientIn, descClientOut, descClientTime, descClientThrottle,
		descClientConns, descClientInfo, descTracked, descMax, descFolded, descEvicted} {
		ch <- d
	}
}

// Collect also sweeps idle entries: a scrape is the one regular reader of the client
// table, and without it an idle client would stay exported until /v1/clients is read or
// the table fills.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := (*Stats)(c)
	s.collectAPIs(ch)
	s.mu.Lock()
	s.sweepLocked(s.cfg.Now(), false)
	clients := make([]*client, 0, len(s.clients)+1)
	for _, cl := range s.clients {
		clients = append(clients, cl)
	}
	s.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(descTracked, prometheus.GaugeValue, float64(len(clients)))
	ch <- prometheus.MustNewConstMetric(descMax, prometheus.GaugeValue, float64(s.cfg.MaxClients))
	ch <- prometheus.MustNewConstMetric(descFolded, prometheus.CounterValue, float64(s.folded.Load()))
	ch <- prometheus.MustNewConstMetric(descEvicted, prometheus.CounterValue, float64(s.evictions.Load()))
	if s.other.lastSeen.Load() != 0 || s.other.connections() > 0 {
		clients = append(clients, s.other)
	}
	for _, cl := range clients {
		s.collectClient(ch, cl)
	}
}

func (s *Stats) collectAPIs(ch chan<- prometheus.Metric) {
	for key := range s.apis {
		a := s.apis[key].Load()
		if a == nil {
			continue
		}
		name := s.cfg.APIName(int16(key))
		var versions [maxVersion + 1]uint64
		var stages [numStages]histogramSum
		var total, reqSize, respSize histogramSum
		for i := range a.stripes {
			st := &a.stripes[i]
			for v := range st.versions {
				versions[v] += st.versions[v].Load()
			}
			for j := range st.stages {
				stages[j].add(&st.stages[j])
			}
			total.add(&st.total)
			reqSize.add(&st.reqSize)
			respSize.add(&st.respSize)
		}
		for v, n := range versions {
			if n > 0 {
				ch <- prometheus.MustNewConstMetric(descRequests, prometheus.CounterValue, float64(n), name, strconv.Itoa(v))
			}
		}
		for slot := range a.errors {
			if n := a.errors[slot].Load(); n > 0 {
				label := "OTHER"
				if slot < numErrorSlots-1 {
					label = s.cfg.ErrorName(int16(slot + minErrorCode))
				}
				ch <- prometheus.MustNewConstMetric(descErrors, prometheus.CounterValue, float64(n), name, label)
			}
		}
		for i := range stages {
			ch <- stages[i].metric(descStage, durationBuckets, name, stageNames[i])
		}
		ch <- total.metric(descDuration, durationBuckets, name)
		ch <- reqSize.metric(descRequestSize, sizeBuckets, name)
		ch <- respSize.metric(descResponseSize, sizeBuckets, name)
	}
}

func (s *Stats) collectClient(ch chan<- prometheus.Metric, cl *client) {
	id, principal := cl.key.clientID, cl.key.principal
	for key := range cl.requests {
		if n := cl.requests[key].Load(); n > 0 {
			ch <- prometheus.MustNewConstMetric(descClientRequests, prometheus.CounterValue, float64(n),
				id, principal, s.cfg.APIName(int16(key)))
		}
	}
	ch <- prometheus.MustNewConstMetric(descClientIn, prometheus.CounterValue, float64(cl.bytesIn.Load()), id, principal)
	ch <- prometheus.MustNewConstMetric(descClientOut, prometheus.CounterValue, float64(cl.bytesOut.Load()), id, principal)
	ch <- prometheus.MustNewConstMetric(descClientTime, prometheus.CounterValue, float64(cl.brokerTime.Load())/1e9, id, principal)
	ch <- prometheus.MustNewConstMetric(descClientThrottle, prometheus.CounterValue, float64(cl.throttle.Load())/1e9, id, principal)
	for i := range cl.conns {
		ch <- prometheus.MustNewConstMetric(descClientConns, prometheus.GaugeValue, float64(cl.conns[i].Load()),
			id, principal, s.cfg.Listeners[i])
	}
	if sw := cl.software.Load(); sw != nil {
		ch <- prometheus.MustNewConstMetric(descClientInfo, prometheus.GaugeValue, 1, id, principal, sw.name, sw.version)
	}
}
