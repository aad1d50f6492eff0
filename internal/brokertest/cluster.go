package brokertest

import (
	"context"
	"fmt"
	"maps"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/broker"
)

// WithControllers makes the first k nodes of a StartCluster controller-only
// (process.roles=controller: quorum voters with no Kafka listener) and the others
// broker-only, as a Kafka cluster with dedicated controllers.
func WithControllers(k int) Option { return func(b *Broker) { b.controllers = k } }

// WithClientListener gives every broker of a StartCluster one more PLAINTEXT listener,
// named name, on a random loopback port (ListenerAddr finds it).
func WithClientListener(name string) Option {
	return func(b *Broker) { b.clientListeners = append(b.clientListeners, strings.ToUpper(name)) }
}

// WithSecurityProtocol makes the one listener of every broker of a StartCluster (the
// first, which clients and the other brokers use) speak protocol (SSL, SASL_PLAINTEXT or
// SASL_SSL) instead of PLAINTEXT; it is named after the protocol. The test supplies the
// TLS files and SASL settings as properties.
func WithSecurityProtocol(protocol string) Option {
	return func(b *Broker) { b.protocol = strings.ToUpper(protocol) }
}

// WithControllerProtocol makes the CONTROLLER listener of every node of a StartCluster
// speak protocol (SSL) instead of PLAINTEXT. The test supplies the TLS files as
// properties (listener.name.controller.ssl.*, per node with WithNodeProperties).
func WithControllerProtocol(protocol string) Option {
	return func(b *Broker) { b.controllerProtocol = strings.ToUpper(protocol) }
}

// clusterListeners is a cluster node's listeners config and its protocol map.
func clusterListeners(b *Broker, controllerPort int) (listeners, protocols string) {
	main := "PLAINTEXT"
	if b.protocol != "" {
		main = b.protocol
	}
	listeners = fmt.Sprintf("%s://127.0.0.1:0,CONTROLLER://127.0.0.1:%d", main, controllerPort)
	controller := "PLAINTEXT"
	if b.controllerProtocol != "" {
		controller = b.controllerProtocol
	}
	protocols = fmt.Sprintf("%s:%s,CONTROLLER:%s", main, main, controller)
	for _, name := range b.clientListeners {
		listeners += fmt.Sprintf(",%s://127.0.0.1:0", name)
		protocols += fmt.Sprintf(",%s:PLAINTEXT", name)
	}
	return listeners, protocols
}

// StartCluster starts n brokers in-process as one cluster: node.id 1..n, each with its own
// data dir, a PLAINTEXT listener on a random loopback port and a CONTROLLER listener on a
// port picked free beforehand, process.roles=broker,controller and controller.quorum.voters
// listing all of them (with WithControllers, the first k are controller-only voters and
// the rest broker-only). They start concurrently (each waits for the quorum to form) and
// stop at cleanup; opts apply to every broker.
func StartCluster(t testing.TB, n int, opts ...Option) []*Broker {
	t.Helper()
	probe := Broker{props: map[string]string{}}
	for _, o := range opts {
		o(&probe)
	}
	voterCount := n
	if probe.controllers > 0 {
		voterCount = probe.controllers
	}
	ports := make([]int, n)
	var voters []string
	// Every port stays held until all are picked: a port closed at once could be handed
	// out again to the next pick (seen as raft's "duplicate address in configuration").
	held := make([]net.Listener, n)
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		held[i] = ln
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	for _, ln := range held {
		ln.Close()
	}
	for i := range n {
		if i < voterCount {
			voters = append(voters, fmt.Sprintf("%d@127.0.0.1:%d", i+1, ports[i]))
		}
	}
	brokers := make([]*Broker, n)
	for i := range n {
		b := &Broker{t: t, props: map[string]string{}}
		for _, o := range opts {
			o(b)
		}
		b.props["node.id"] = fmt.Sprint(i + 1)
		if b.nodeProps != nil {
			maps.Copy(b.props, b.nodeProps(i+1))
		}
		b.props["process.roles"] = "broker,controller"
		b.props["listeners"], b.props["listener.security.protocol.map"] = clusterListeners(b, ports[i])
		switch {
		case b.controllers > 0 && i < b.controllers:
			b.props["process.roles"] = "controller"
			b.props["listeners"] = fmt.Sprintf("CONTROLLER://127.0.0.1:%d", ports[i])
		case b.controllers > 0:
			b.props["process.roles"] = "broker"
		}
		b.props["controller.listener.names"] = "CONTROLLER"
		b.props["controller.quorum.voters"] = strings.Join(voters, ",")
		b.dataDir = t.TempDir()
		brokers[i] = b
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, b := range brokers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg := broker.Config{Properties: b.props, DataDir: b.dataDir, Logger: b.logger(), AddScram: b.addScram}
			b.Broker, errs[i] = broker.Start(ctx, cfg)
		}()
	}
	wg.Wait()
	for _, b := range brokers {
		t.Cleanup(b.Stop)
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("start broker %d: %v", i+1, err)
		}
	}
	waitAllUnfenced(t, brokers)
	return brokers
}

// waitAllUnfenced waits until every broker of the cluster lists every broker unfenced
// (DescribeCluster), since each broker applies the metadata log on its own: a test that
// creates a topic on a broker that has not yet seen the last registration would find
// too few brokers to place its replicas on. DescribeCluster, unlike Metadata, is never
// answered from franz-go's metadata cache.
func waitAllUnfenced(t testing.TB, brokers []*Broker) {
	t.Helper()
	var nodes []*Broker
	for _, b := range brokers {
		if b.protocol != "" && b.protocol != "PLAINTEXT" {
			return // the test brings its own secured clients and waits itself
		}
		if b.IsBroker() {
			nodes = append(nodes, b)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, b := range nodes {
		cl := b.Client()
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			// The seed is this broker alone; a request through the client could go to any.
			raw, err := cl.SeedBrokers()[0].Request(ctx, kmsg.NewPtrDescribeClusterRequest())
			cancel()
			if resp, ok := raw.(*kmsg.DescribeClusterResponse); err == nil && ok && len(resp.Brokers) == len(nodes) {
				break
			}
			if time.Now().After(deadline) {
				cl.Close()
				t.Fatalf("broker %s does not list all %d brokers: %v %+v", b.Addr(), len(nodes), err, raw)
			}
			time.Sleep(10 * time.Millisecond)
		}
		cl.Close()
	}
}

// Kill stops a broker the way a crash does, as far as the cluster can tell: no controlled
// shutdown, so its leaderships stay until the controller fences it for its silence.
// Restart starts it again on the same data dir.
func (b *Broker) Kill() {
	if b.Broker == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Broker.Halt(ctx); err != nil {
		b.t.Errorf("halt broker: %v", err)
	}
	b.Broker = nil
}
