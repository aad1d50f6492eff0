package interbroker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/metadata"
)

// Errors of Clients.Request before anything is sent.
var (
	ErrNotRegistered = errors.New("interbroker: broker is not registered")
	ErrClosed        = errors.New("interbroker: clients closed")
)

// Clients is a pool of franz-go clients, one per broker, each seeded with only that
// broker's registered inter-broker address so that a request goes to that broker itself
// (no metadata round trip, never another broker) and is not retried by franz-go: the
// callers (transaction markers, share-group state) have their own retry rounds. A client
// is made on first use, made anew when the broker's address changes, and kept until
// Close.
type Clients struct {
	image    func() *metadata.Image
	clientID string
	opts     []kgo.Opt

	mu      sync.Mutex
	clients map[int32]*pooled // guarded by mu; by node id
	closed  bool              // guarded by mu
}

type pooled struct {
	addr string
	cl   *kgo.Client
}

// NewClients makes a pool; opts (KgoOpts: TLS, SASL) are added to every client.
func NewClients(image func() *metadata.Image, clientID string, opts []kgo.Opt) *Clients {
	return &Clients{image: image, clientID: clientID, opts: opts, clients: map[int32]*pooled{}}
}

// Request sends req to broker nodeID and returns its response.
func (c *Clients) Request(ctx context.Context, nodeID int32, req kmsg.Request) (kmsg.Response, error) {
	cl, err := c.client(nodeID)
	if err != nil {
		return nil, err
	}
	return cl.SeedBrokers()[0].Request(ctx, req)
}

// client returns the client for a broker at its current address.
func (c *Clients) client(nodeID int32) (*kgo.Client, error) {
	b, ok := c.image().Broker(nodeID)
	if !ok {
		return nil, fmt.Errorf("%w: %d", ErrNotRegistered, nodeID)
	}
	addr := net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if p := c.clients[nodeID]; p != nil {
		if p.addr == addr {
			return p.cl, nil
		}
		p.cl.Close()
		delete(c.clients, nodeID)
	}
	opts := append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.ClientID(c.clientID), kgo.RequestRetries(0)}, c.opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("interbroker: client for broker %d at %s: %w", nodeID, addr, err)
	}
	c.clients[nodeID] = &pooled{addr: addr, cl: cl}
	return cl, nil
}

// Close closes every client; requests after it fail with ErrClosed.
func (c *Clients) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for id, p := range c.clients {
		p.cl.Close()
		delete(c.clients, id)
	}
}
