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

	"github.com/nagare-dev/nagare/internal/broker"
)

// StartCluster starts n brokers in-process as one cluster: node.id 1..n, each with its own
// data dir, a PLAINTEXT listener on a random loopback port and a CONTROLLER listener on a
// port picked free beforehand, process.roles=broker,controller and controller.quorum.voters
// listing all of them. They start concurrently (each waits for the quorum to form) and stop
// at cleanup; opts apply to every broker.
func StartCluster(t testing.TB, n int, opts ...Option) []*Broker {
	t.Helper()
	ports := make([]int, n)
	var voters []string
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		voters = append(voters, fmt.Sprintf("%d@127.0.0.1:%d", i+1, ports[i]))
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
		b.props["listeners"] = fmt.Sprintf("PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:%d", ports[i])
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
			cfg := broker.Config{Properties: b.props, DataDir: b.dataDir, Logger: testLogger()}
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
	return brokers
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
