package stats

import (
	"slices"
	"time"
)

// totals is one client entry's counters at a sample.
type totals struct {
	requests   [MaxAPIKey + 1]uint64
	bytesIn    uint64
	bytesOut   uint64
	brokerTime int64
	throttle   int64
}

func (c *client) totals() totals {
	t := totals{
		bytesIn: c.bytesIn.Load(), bytesOut: c.bytesOut.Load(),
		brokerTime: c.brokerTime.Load(), throttle: c.throttle.Load(),
	}
	for i := range c.requests {
		t.requests[i] = c.requests[i].Load()
	}
	return t
}

// sample is the state of the rate computation, guarded by Stats.mu.
type sample struct {
	at    time.Time
	prev  map[*client]*totals
	views *ClientsView // the last computed view
}

// ClientView is one client entry as /v1/clients serves it: totals since the entry was
// created and rates over the last sample interval.
type ClientView struct {
	ClientID        string `json:"client_id"`
	Principal       string `json:"principal"`
	SoftwareName    string `json:"software_name,omitempty"`
	SoftwareVersion string `json:"software_version,omitempty"`
	// Other is set on the entry that counts every client beyond the cap.
	Other       bool `json:"other,omitempty"`
	Connections int  `json:"connections"`

	// RequestsPerSec is requests per second by API name; RequestRate is their sum.
	RequestsPerSec    map[string]float64 `json:"requests_per_sec"`
	RequestRate       float64            `json:"requests_per_sec_total"`
	BytesInPerSec     float64            `json:"bytes_in_per_sec"`
	BytesOutPerSec    float64            `json:"bytes_out_per_sec"`
	BrokerTimePercent float64            `json:"broker_time_percent"` // of one thread, as request_percentage
	ThrottleMsPerSec  float64            `json:"throttle_ms_per_sec"` // throttle given per second

	Requests          uint64  `json:"requests_total"`
	BytesIn           uint64  `json:"bytes_in_total"`
	BytesOut          uint64  `json:"bytes_out_total"`
	BrokerTimeSeconds float64 `json:"broker_time_seconds_total"`
	ThrottleSeconds   float64 `json:"throttle_seconds_total"`
}

// ClientsView is the per-client view, busiest by broker time first.
type ClientsView struct {
	Time            time.Time    `json:"time"`
	IntervalSeconds float64      `json:"interval_seconds"`
	Tracked         int          `json:"tracked"`
	MaxClients      int          `json:"max_clients"`
	Clients         []ClientView `json:"clients"`
}

// Sample computes the rates since the previous sample and sweeps idle entries; Clients
// does it when the last sample is older than SampleInterval.
func (s *Stats) Sample() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sampleNowLocked()
}

func (s *Stats) sampleNowLocked() {
	now := s.cfg.Now()
	s.sweepLocked(now, false)
	s.sample.views = s.sampleLocked(now)
}

// Clients returns the per-client view: totals, and rates over the interval between the
// last two samples. Sampling is driven by its readers (/v1/clients, nagare top): a new
// sample is taken when the last is older than SampleInterval, so nothing runs in the
// background and concurrent readers share one sample.
func (s *Stats) Clients() ClientsView {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sample.views == nil || s.cfg.Now().Sub(s.sample.at) >= s.cfg.SampleInterval {
		s.sampleNowLocked()
	}
	v := *s.sample.views
	v.Clients = slices.Clone(v.Clients)
	return v
}

func (s *Stats) sampleLocked(now time.Time) *ClientsView {
	var interval time.Duration
	if !s.sample.at.IsZero() {
		interval = now.Sub(s.sample.at)
	}
	prev := s.sample.prev
	next := make(map[*client]*totals, len(s.clients)+1)
	view := &ClientsView{Time: now, IntervalSeconds: interval.Seconds(), Tracked: len(s.clients), MaxClients: s.cfg.MaxClients}
	add := func(cl *client, other bool) {
		t := cl.totals()
		next[cl] = &t
		var p totals
		if old := prev[cl]; old != nil {
			p = *old
		}
		if other && t == (totals{}) && cl.connections() == 0 {
			return // nothing folded yet: leave "other" out
		}
		view.Clients = append(view.Clients, s.clientView(cl, &t, &p, interval, other))
	}
	for _, cl := range s.clients {
		add(cl, false)
	}
	add(s.other, true)
	s.sample.at, s.sample.prev = now, next
	slices.SortFunc(view.Clients, func(a, b ClientView) int {
		switch {
		case a.BrokerTimePercent != b.BrokerTimePercent:
			if a.BrokerTimePercent > b.BrokerTimePercent {
				return -1
			}
			return 1
		case a.BrokerTimeSeconds != b.BrokerTimeSeconds:
			if a.BrokerTimeSeconds > b.BrokerTimeSeconds {
				return -1
			}
			return 1
		case a.ClientID != b.ClientID:
			if a.ClientID < b.ClientID {
				return -1
			}
			return 1
		case a.Principal < b.Principal:
			return -1
		case a.Principal > b.Principal:
			return 1
		}
		return 0
	})
	return view
}

func (s *Stats) clientView(cl *client, t, p *totals, interval time.Duration, other bool) ClientView {
	v := ClientView{
		ClientID: cl.key.clientID, Principal: cl.key.principal, Other: other,
		Connections:    cl.connections(),
		RequestsPerSec: map[string]float64{},
		BytesIn:        t.bytesIn, BytesOut: t.bytesOut,
		BrokerTimeSeconds: time.Duration(t.brokerTime).Seconds(),
		ThrottleSeconds:   time.Duration(t.throttle).Seconds(),
	}
	if sw := cl.software.Load(); sw != nil {
		v.SoftwareName, v.SoftwareVersion = sw.name, sw.version
	}
	secs := interval.Seconds()
	for key, n := range t.requests {
		v.Requests += n
		if secs > 0 && n > p.requests[key] {
			v.RequestsPerSec[s.cfg.APIName(int16(key))] = float64(n-p.requests[key]) / secs
		}
	}
	if secs > 0 {
		for _, r := range v.RequestsPerSec {
			v.RequestRate += r
		}
		v.BytesInPerSec = float64(t.bytesIn-p.bytesIn) / secs
		v.BytesOutPerSec = float64(t.bytesOut-p.bytesOut) / secs
		v.BrokerTimePercent = float64(t.brokerTime-p.brokerTime) / float64(interval) * 100
		v.ThrottleMsPerSec = float64(t.throttle-p.throttle) / float64(time.Millisecond) / secs
	}
	return v
}
