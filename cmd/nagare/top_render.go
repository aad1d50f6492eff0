package main

// The render half of `nagare top`: pure functions from the broker's views to the text of
// one screen, so a golden test can pin them. top.go fetches, refreshes and reads keys.

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/nagare-dev/nagare/internal/broker"
	"github.com/nagare-dev/nagare/internal/stats"
)

// topSort is the column `nagare top` sorts clients by, chosen by key press.
type topSort byte

const (
	sortTime     topSort = 't' // broker time
	sortRequests topSort = 'r' // requests per second
	sortBytes    topSort = 'b' // bytes in + out per second
	sortThrottle topSort = 'h' // throttle ms per second
)

func (s topSort) String() string {
	switch s {
	case sortRequests:
		return "requests/s"
	case sortBytes:
		return "bytes/s"
	case sortThrottle:
		return "throttle"
	}
	return "broker time"
}

// topScreen is what one refresh shows.
type topScreen struct {
	Addr   string
	Sort   topSort
	Width  int // columns; lines are cut to fit
	Height int // rows; clients past the screen are left out
	View   stats.ClientsView
	// IO, with --io, is the read path's histograms over the last interval (or since start
	// on the first screen); nil without --io.
	IO      *broker.IOView
	IOTotal bool // IO counts are totals since the broker started
	Err     error
}

// renderTop writes one screen of `nagare top`, plain text lines.
func renderTop(w io.Writer, s topScreen) {
	var b strings.Builder
	line := func(format string, args ...any) {
		text := fmt.Sprintf(format, args...)
		if s.Width > 0 && len(text) > s.Width {
			text = text[:s.Width]
		}
		b.WriteString(text)
		b.WriteByte('\n')
	}
	v := s.View
	var total stats.ClientView
	for _, c := range v.Clients {
		total.RequestRate += c.RequestRate
		total.BytesInPerSec += c.BytesInPerSec
		total.BytesOutPerSec += c.BytesOutPerSec
		total.BrokerTimePercent += c.BrokerTimePercent
		total.Connections += c.Connections
	}
	line("nagare top - %s - %s - sorted by %s (t time, r requests, b bytes, h throttle, q quit)",
		s.Addr, v.Time.Format("15:04:05"), s.Sort)
	line("clients: %d tracked (cap %d), %d connections; %s req/s, in %s/s, out %s/s, broker time %.1f%%",
		v.Tracked, v.MaxClients, total.Connections, rate(total.RequestRate),
		byteRate(total.BytesInPerSec), byteRate(total.BytesOutPerSec), total.BrokerTimePercent)
	if s.Err != nil {
		line("error: %v", s.Err)
	}
	line("")
	if s.IO != nil {
		renderIO(line, s.IO, s.IOTotal)
		w.Write([]byte(b.String()))
		return
	}
	line("%-24s %-12s %-18s %4s %6s %8s %9s %9s %8s  %s",
		"CLIENT ID", "PRINCIPAL", "SOFTWARE", "CONN", "TIME%", "REQ/S", "IN/S", "OUT/S", "THR MS/S", "API MIX")
	clients := sortClients(v.Clients, s.Sort)
	rows := len(clients)
	if s.Height > 0 {
		rows = min(rows, max(s.Height-5, 0))
	}
	for _, c := range clients[:rows] {
		software := c.SoftwareName
		if c.SoftwareVersion != "" {
			software += "/" + c.SoftwareVersion
		}
		id := c.ClientID
		if c.Other {
			id = "(other clients)"
		}
		line("%-24s %-12s %-18s %4d %6.1f %8s %9s %9s %8.0f  %s",
			cut(id, 24), cut(c.Principal, 12), cut(software, 18), c.Connections, c.BrokerTimePercent,
			rate(c.RequestRate), byteRate(c.BytesInPerSec), byteRate(c.BytesOutPerSec), c.ThrottleMsPerSec, apiMix(c))
	}
	if rows < len(clients) {
		line("... %d more", len(clients)-rows)
	}
	w.Write([]byte(b.String()))
}

// sortClients orders clients by the chosen column, busiest first; ties by broker time,
// then client id, so the screen does not jump.
func sortClients(clients []stats.ClientView, by topSort) []stats.ClientView {
	key := func(c stats.ClientView) float64 {
		switch by {
		case sortRequests:
			return c.RequestRate
		case sortBytes:
			return c.BytesInPerSec + c.BytesOutPerSec
		case sortThrottle:
			return c.ThrottleMsPerSec
		}
		return c.BrokerTimePercent
	}
	out := slices.Clone(clients)
	slices.SortStableFunc(out, func(a, b stats.ClientView) int {
		if c := cmp.Compare(key(b), key(a)); c != 0 {
			return c
		}
		if c := cmp.Compare(b.BrokerTimeSeconds, a.BrokerTimeSeconds); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(a.ClientID, b.ClientID), cmp.Compare(a.Principal, b.Principal))
	})
	return out
}

// apiMix is a client's three busiest APIs with their share of its requests.
func apiMix(c stats.ClientView) string {
	if c.RequestRate <= 0 {
		return "-"
	}
	type share struct {
		api  string
		rate float64
	}
	var shares []share
	for api, r := range c.RequestsPerSec {
		shares = append(shares, share{api, r})
	}
	slices.SortFunc(shares, func(a, b share) int {
		return cmp.Or(cmp.Compare(b.rate, a.rate), cmp.Compare(a.api, b.api))
	})
	var parts []string
	for _, s := range shares[:min(3, len(shares))] {
		parts = append(parts, fmt.Sprintf("%s %.0f%%", s.api, s.rate/c.RequestRate*100))
	}
	return strings.Join(parts, " ")
}

// renderIO draws the read path's log2 µs histograms the way SystemTap's @hist_log does.
func renderIO(line func(string, ...any), view *broker.IOView, total bool) {
	span := "over the last interval"
	if total {
		span = "since the broker started"
	}
	warm := "off"
	if view.Warmup {
		warm = "on"
	}
	line("read path: residency check %s, warm-up %s; log2 histograms in µs, %s", view.Method, warm, span)
	for _, name := range []string{"sendfile", "residency_check", "warmup", "warmup_queue"} {
		h, ok := view.Histogram[name]
		if !ok {
			continue
		}
		var count, peak uint64
		for _, n := range h.Buckets {
			count += n
			peak = max(peak, n)
		}
		line("")
		line("%s: %d calls", name, count)
		if count == 0 {
			continue
		}
		line("%10s |%-40s %s", "µs", "", "count")
		first := slices.IndexFunc(h.Buckets, func(n uint64) bool { return n > 0 })
		for i := first; i < len(h.Buckets); i++ {
			bar := int((h.Buckets[i]*40 + peak - 1) / peak)
			line("%10s |%-40s %d", bucketLabel(i), strings.Repeat("@", bar), h.Buckets[i])
		}
	}
}

// bucketLabel is the lower bound of log2 bucket i in µs: 0, 1, 2, 4, ...
func bucketLabel(i int) string {
	if i == 0 {
		return "0"
	}
	return fmt.Sprint(uint64(1) << uint(i-1))
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "~"
}

func rate(r float64) string {
	switch {
	case r >= 1e6:
		return fmt.Sprintf("%.1fM", r/1e6)
	case r >= 1e4:
		return fmt.Sprintf("%.1fk", r/1e3)
	}
	return fmt.Sprintf("%.0f", r)
}

func byteRate(r float64) string {
	switch {
	case r >= 1<<30:
		return fmt.Sprintf("%.1fGiB", r/(1<<30))
	case r >= 1<<20:
		return fmt.Sprintf("%.1fMiB", r/(1<<20))
	case r >= 1<<10:
		return fmt.Sprintf("%.1fKiB", r/(1<<10))
	}
	return fmt.Sprintf("%.0fB", r)
}
