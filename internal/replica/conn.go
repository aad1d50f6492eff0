package replica

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/interbroker"
)

// leaderConn is a fetcher's one connection to its leader: requests are written and
// their responses read on the fetcher's own goroutine, one at a time, as Kafka's
// ReplicaFetcherThread does through its NetworkClient. It replaced a franz-go client
// (kgo.Broker.Request): that path handed each request to a writer goroutine and each
// response to a reader goroutine and back, three goroutine wake-ups per round trip on a
// replication critical path that takes two round trips per acks=all commit, and it
// allocated (and zeroed) a new buffer of the response's size, up to
// replica.fetch.response.max.bytes, for every fetch. Here the request and response
// buffers are reused: a response's record batches point into rbuf and are valid only
// until the next fetch, which is after the fetcher has appended them.
type leaderConn struct {
	conn      net.Conn
	ctx       context.Context // the fetcher's: canceled, no request starts
	stop      func() bool     // unregisters the close-on-cancel hook
	format    *kmsg.RequestFormatter
	versions  map[int16]int16 // the leader's max version per API key (ApiVersions)
	corr      int32
	wbuf      []byte
	rbuf      []byte
	hdr       [8]byte       // a response's size and correlation id; a field so it is not allocated per read
	overhead  time.Duration // added to a request's own wait for its read deadline
	maxRetain int           // rbuf larger than this is dropped after use
	// authenticate runs the inter-broker SASL exchange (none on PLAINTEXT and SSL);
	// reauthAt is when the session must be renewed on this connection (KIP-368), zero
	// when the leader set no lifetime.
	authenticate func() error
	reauthAt     time.Time
}

// requestOverhead is how long past its own wait (MaxWaitMillis) a response may take
// before the connection is given up, as kgo's RequestTimeoutOverhead default.
const requestOverhead = 10 * time.Second

// dialLeader connects to addr on the inter-broker listener (TLS per ib), asks for the
// leader's API versions and authenticates (SASL per ib), as a Kafka client does.
// Canceling ctx closes the connection, ending any request in flight.
func dialLeader(ctx context.Context, ib *interbroker.Settings, addr, clientID string, maxRetain int) (*leaderConn, error) {
	nc, err := ib.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	c := &leaderConn{conn: nc, ctx: ctx, format: kmsg.NewRequestFormatter(kmsg.FormatterClientID(clientID)),
		overhead: requestOverhead, maxRetain: maxRetain}
	c.stop = context.AfterFunc(ctx, func() { nc.Close() })
	if err := c.apiVersions(); err != nil {
		c.close()
		return nil, err
	}
	c.authenticate = func() error { return c.saslAuthenticate(ctx, ib, addr) }
	if err := c.authenticate(); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// apiVersions learns the leader's max version of each API.
func (c *leaderConn) apiVersions() error {
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName, req.ClientSoftwareVersion = "nagare-replica-fetcher", "1"
	resp := kmsg.NewPtrApiVersionsResponse()
	if err := c.roundTrip(req, resp, 0); err != nil {
		return fmt.Errorf("api versions: %w", err)
	}
	if resp.ErrorCode != 0 {
		return fmt.Errorf("api versions: %w", kerr.ErrorForCode(resp.ErrorCode))
	}
	c.versions = make(map[int16]int16, len(resp.ApiKeys))
	for _, k := range resp.ApiKeys {
		c.versions[k.ApiKey] = k.MaxVersion
	}
	return nil
}

// saslAuthenticate runs the SASL exchange on this connection and notes when to renew
// it: at 85% of the lifetime the leader granted, as Kafka's clients re-authenticate
// early, so the leader never closes a fetcher's connection for an expired session.
func (c *leaderConn) saslAuthenticate(ctx context.Context, ib *interbroker.Settings, addr string) error {
	start := time.Now()
	rt := func(req kmsg.Request, resp kmsg.Response) error { return c.roundTrip(req, resp, 0) }
	lifetime, err := ib.Authenticate(ctx, rt, addr)
	if err != nil {
		return err
	}
	c.reauthAt = time.Time{}
	if lifetime > 0 {
		c.reauthAt = start.Add(lifetime * 85 / 100)
	}
	return nil
}

func (c *leaderConn) close() {
	c.stop()
	c.conn.Close()
}

// version is the highest version of req both sides speak, or an error if none.
func (c *leaderConn) version(req kmsg.Request) (int16, error) {
	theirs, ok := c.versions[req.Key()]
	if !ok {
		return 0, fmt.Errorf("leader does not support API %d", req.Key())
	}
	v := min(theirs, req.MaxVersion())
	if v < 0 {
		return 0, fmt.Errorf("no common version of API %d", req.Key())
	}
	return v, nil
}

// fetch sends req at the highest common version and reads the answer into resp, whose
// byte slices stay valid until the next request on c.
func (c *leaderConn) fetch(req *kmsg.FetchRequest, resp *kmsg.FetchResponse) error {
	v, err := c.version(req)
	if err != nil {
		return err
	}
	if v < 15 && req.ReplicaID < 0 {
		return errors.New("replica fetch below v15 needs ReplicaID")
	}
	if !c.reauthAt.IsZero() && time.Now().After(c.reauthAt) {
		if err := c.authenticate(); err != nil {
			return fmt.Errorf("re-authenticating: %w", err)
		}
	}
	req.Version = v
	return c.roundTrip(req, resp, time.Duration(req.MaxWaitMillis)*time.Millisecond)
}

// roundTrip writes req and reads its response into resp.
func (c *leaderConn) roundTrip(req kmsg.Request, resp kmsg.Response, wait time.Duration) error {
	// The close-on-cancel hook runs on a goroutine of its own, so a request that starts
	// right after the cancel could still get through before it: refuse it here.
	if err := c.ctx.Err(); err != nil {
		return fmt.Errorf("replica fetch: %w", err)
	}
	c.corr++
	c.wbuf = c.format.AppendRequest(c.wbuf[:0], req, c.corr)
	deadline := time.Now().Add(wait + c.overhead)
	if err := c.conn.SetDeadline(deadline); err != nil {
		return err
	}
	if _, err := c.conn.Write(c.wbuf); err != nil {
		return err
	}
	hdr := c.hdr[:]
	if _, err := io.ReadFull(c.conn, hdr); err != nil {
		return err
	}
	size := int(int32(binary.BigEndian.Uint32(hdr[:4])))
	if size < 4 || size > 1<<30 {
		return fmt.Errorf("invalid response size %d", size)
	}
	if got := int32(binary.BigEndian.Uint32(hdr[4:])); got != c.corr {
		return fmt.Errorf("response correlation id %d, want %d", got, c.corr)
	}
	body := size - 4
	if cap(c.rbuf) < body {
		c.rbuf = make([]byte, body)
	}
	buf := c.rbuf[:body]
	if _, err := io.ReadFull(c.conn, buf); err != nil {
		return err
	}
	if cap(c.rbuf) > c.maxRetain {
		c.rbuf = nil // an outsized answer: the next one gets its own buffer
	}
	// ApiVersions answers with header v0 even when flexible; every other flexible
	// response's header ends in tagged fields.
	if req.IsFlexible() && req.Key() != 18 {
		n, err := skipTags(buf)
		if err != nil {
			return err
		}
		buf = buf[n:]
	}
	resp.SetVersion(req.GetVersion())
	return resp.ReadFrom(buf)
}

// skipTags is the length of the tagged fields at the start of b.
func skipTags(b []byte) (int, error) {
	num, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, errors.New("truncated response header tags")
	}
	pos := n
	for range num {
		_, n = binary.Uvarint(b[pos:]) // tag
		if n <= 0 {
			return 0, errors.New("truncated response header tag")
		}
		pos += n
		size, n := binary.Uvarint(b[pos:])
		if n <= 0 || uint64(len(b)-pos-n) < size {
			return 0, errors.New("truncated response header tag")
		}
		pos += n + int(size)
	}
	return pos, nil
}
