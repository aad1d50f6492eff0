package stats

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

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
	descTotal = prometheus.NewDesc("nagare_request_total_seconds",
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
	for _, d := range []*prometheus.Desc{descRequests, descErrors, descStage, descTotal, descRequestSize,
		descResponseSize, descClientRequests, descClientIn, descClientOut, descClientTime, descClientThrottle,
		descClientConns, descClientInfo, descTracked, descMax, descFolded, descEvicted} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := (*Stats)(c)
	s.collectAPIs(ch)
	s.mu.Lock()
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
		for v := range a.versions {
			if n := a.versions[v].Load(); n > 0 {
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
		for i := range a.stages {
			ch <- a.stages[i].metric(descStage, durationBuckets, name, stageNames[i])
		}
		ch <- a.total.metric(descTotal, durationBuckets, name)
		ch <- a.reqSize.metric(descRequestSize, sizeBuckets, name)
		ch <- a.respSize.metric(descResponseSize, sizeBuckets, name)
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
