//go:build unix

package chaos

import (
	"context"
	"fmt"
	"strings"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Directions of a link, in toxiproxy's words: upstream carries what the connecting side
// sends (requests to the node behind the proxy), downstream what comes back.
const (
	upstream   = "upstream"
	downstream = "downstream"
)

// newProxyServer is toxiproxy's in-process registry of proxies; its HTTP API is never
// started, the test drives the proxies directly.
func newProxyServer() *toxiproxy.ApiServer {
	return toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
}

// link is one toxiproxy proxy in front of one listener of one node. Every node dials the
// others through their links (advertised.listeners and controller.quorum.voters name the
// proxies), so a toxic on a link acts on everything sent to that listener by anyone.
type link struct {
	name  string
	proxy *toxiproxy.Proxy
	cut   bool // a blackhole is on; heal then closes the connections that crossed it
}

// newLink starts a proxy on a free loopback port in front of target.
func newLink(server *toxiproxy.ApiServer, name, target string) (*link, error) {
	p := toxiproxy.NewProxy(server, name, "127.0.0.1:0", target)
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("proxy %s: %w", name, err)
	}
	return &link{name: name, proxy: p}, nil
}

// addr is the address the proxy listens on, which the cluster advertises.
func (l *link) addr() string { return l.proxy.Listen }

// blackhole drops every byte sent in the given directions, on existing connections and
// on new ones (which the proxy still accepts, as a partitioned host's kernel would not
// refuse them either), until heal. One direction makes a one-way partition.
func (l *link) blackhole(dirs ...string) error {
	for _, dir := range dirs {
		if err := l.addToxic("timeout", dir, `{"timeout": 0}`); err != nil {
			return err
		}
	}
	l.cut = true
	return nil
}

// slow adds latency (with jitter) in the given directions until heal.
func (l *link) slow(latencyMs, jitterMs int, dirs ...string) error {
	for _, dir := range dirs {
		if err := l.addToxic("latency", dir, fmt.Sprintf(`{"latency": %d, "jitter": %d}`, latencyMs, jitterMs)); err != nil {
			return err
		}
	}
	return nil
}

func (l *link) addToxic(kind, dir, attributes string) error {
	body := fmt.Sprintf(`{"name": %q, "type": %q, "stream": %q, "toxicity": 1.0, "attributes": %s}`,
		kind+"_"+dir, kind, dir, attributes)
	if _, err := l.proxy.Toxics.AddToxicJson(strings.NewReader(body)); err != nil {
		return fmt.Errorf("proxy %s: add %s %s: %w", l.name, kind, dir, err)
	}
	return nil
}

// heal removes every toxic. After a blackhole it also restarts the proxy on the same
// port, closing the connections that crossed it: bytes were dropped mid-stream, which
// TCP never does, so those streams cannot go on; the nodes see their peers reset and
// dial again, as after a partition long enough for TCP to give up.
func (l *link) heal() error {
	l.proxy.Toxics.ResetToxics(context.Background())
	if !l.cut {
		return nil
	}
	l.cut = false
	l.proxy.Stop()
	if err := l.proxy.Start(); err != nil {
		return fmt.Errorf("proxy %s: restart after a cut: %w", l.name, err)
	}
	return nil
}

func (l *link) close() { l.proxy.Stop() }
