package server

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's Prometheus collectors. They exist even when no registry is
// configured, so the hot path never checks for nil.
type metrics struct {
	accepted *prometheus.CounterVec
	open     *prometheus.GaugeVec
	rejected *prometheus.CounterVec
	received *prometheus.CounterVec
	sent     *prometheus.CounterVec
	panics   *prometheus.CounterVec
	muted    *prometheus.CounterVec
	// authFailed counts failed authentications (SASL, TLS client certificates).
	authFailed *prometheus.CounterVec
	// throttled counts connections refused by the ConnectionGate (KIP-612).
	throttled *prometheus.CounterVec
}

// CountHandlerPanic counts a panic recovered off the connection's reader, in a goroutine
// its handler started (api.Config.OnPanic), with those the readers recover, in
// handler_panics_total.
func (s *Server) CountHandlerPanic(listener string) { s.metrics.panics.WithLabelValues(listener).Inc() }

// Reasons a frame is rejected, the values of the "reason" label.
const (
	rejectTooLarge = "too_large" // size above MaxRequestBytes
	rejectTooSmall = "too_small" // negative, or below the smallest request header
)

func newMetrics() *metrics {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "nagare", Subsystem: "server", Name: name, Help: help,
		}, labels)
	}
	return &metrics{
		accepted: counter("connections_accepted_total", "Connections accepted.", "listener"),
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "nagare", Subsystem: "server", Name: "connections_open",
			Help: "Connections currently open.",
		}, []string{"listener"}),
		rejected: counter("frames_rejected_total",
			"Request frames whose size was out of range; each closed its connection.", "listener", "reason"),
		received: counter("received_bytes_total", "Bytes of request frames read, size prefixes included.", "listener"),
		sent:     counter("sent_bytes_total", "Bytes of responses written, size prefixes included.", "listener"),
		panics:   counter("handler_panics_total", "Panics recovered from handlers; each closed its connection.", "listener"),
		muted: counter("throttle_mute_seconds_total",
			"Seconds of throttle (KIP-219) asked of connections: time they were left unread.", "listener"),
		authFailed: counter("authentication_failures_total",
			"Failed authentications, by listener and mechanism (a SASL mechanism, or TLS for client certificates).", "listener", "mechanism"),
		throttled: counter("connections_throttled_total",
			"Connections refused for their IP's connection_creation_rate (KIP-612), closed after the throttle.", "listener"),
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.accepted, m.open, m.rejected, m.received, m.sent, m.panics, m.muted, m.authFailed, m.throttled}
}

// register adds the collectors to r, all or none. A nil r registers nothing.
func (m *metrics) register(r *prometheus.Registry) error {
	if r == nil {
		return nil
	}
	for i, c := range m.collectors() {
		if err := r.Register(c); err != nil {
			for _, done := range m.collectors()[:i] {
				r.Unregister(done)
			}
			return fmt.Errorf("server: register metrics: %w", err)
		}
	}
	return nil
}

// unregister removes the collectors from r, so that a later Server may use the same
// registry (a broker restarted in one process, tests).
func (m *metrics) unregister(r *prometheus.Registry) {
	if r == nil {
		return
	}
	for _, c := range m.collectors() {
		r.Unregister(c)
	}
}

// listenerMetrics are one listener's children of the vectors, resolved once so that
// connections update them without label lookups.
type listenerMetrics struct {
	accepted         prometheus.Counter
	open             prometheus.Gauge
	rejectedTooLarge prometheus.Counter
	rejectedTooSmall prometheus.Counter
	received         prometheus.Counter
	sent             prometheus.Counter
	panics           prometheus.Counter
	muted            prometheus.Counter
	throttled        prometheus.Counter
}

func (m *metrics) forListener(name string) *listenerMetrics {
	for _, mechanism := range authMechanisms {
		m.authFailed.WithLabelValues(name, mechanism)
	}
	return &listenerMetrics{
		accepted:         m.accepted.WithLabelValues(name),
		open:             m.open.WithLabelValues(name),
		rejectedTooLarge: m.rejected.WithLabelValues(name, rejectTooLarge),
		rejectedTooSmall: m.rejected.WithLabelValues(name, rejectTooSmall),
		received:         m.received.WithLabelValues(name),
		sent:             m.sent.WithLabelValues(name),
		panics:           m.panics.WithLabelValues(name),
		muted:            m.muted.WithLabelValues(name),
		throttled:        m.throttled.WithLabelValues(name),
	}
}

// countRejected counts a frame refused by checkFrameSize.
func (lm *listenerMetrics) countRejected(err error) {
	var sizeErr *frameSizeError
	if !errors.As(err, &sizeErr) {
		return
	}
	if sizeErr.size > sizeErr.max {
		lm.rejectedTooLarge.Inc()
	} else {
		lm.rejectedTooSmall.Inc()
	}
}

// CountAuthFailure counts one failed authentication on the named listener; mechanism is
// the SASL mechanism (PLAIN, SCRAM-SHA-256, ...) or "TLS" for a refused client
// certificate. It is for the security code, off the request path.
func (s *Server) CountAuthFailure(listener, mechanism string) {
	s.metrics.authFailed.WithLabelValues(listener, mechanism).Inc()
}

// authMechanisms are the mechanisms whose failure counters exist from the start (at 0),
// so dashboards and alerts see the series before the first failure.
var authMechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "TLS"}
