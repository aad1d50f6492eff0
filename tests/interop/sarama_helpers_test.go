package interop

// Helpers for the sarama tests (IBM/sarama, the other widely used pure-Go client). Unlike
// kcat and kafka-python it runs in process, so each test builds its clients here; every
// connection sarama opens goes through a recording dialer, so a test can say which API
// versions sarama actually sent (its choice depends on Config.Version, clamped to what
// ApiVersions advertised).

import (
	"encoding/binary"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// saramaVersions are the Config.Version values the tests run with: the default (Kafka
// 2.8, so older request versions: Produce v9, Fetch v12) and the newest sarama knows.
var saramaVersions = []struct {
	name    string
	version sarama.KafkaVersion
}{
	{"default", sarama.DefaultVersion},
	{"newest", sarama.MaxVersion},
}

// apiRecorder records the API key and version of every request sarama writes.
type apiRecorder struct {
	mu   sync.Mutex
	seen map[int16]map[int16]bool // guarded by mu
	// dialed are the addresses sarama connected to; guarded by mu.
	dialed map[string]bool
}

// Dial is sarama's Net.Proxy.Dialer: a plain dial whose connection records requests.
func (r *apiRecorder) Dial(network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{Timeout: 5 * time.Second}).Dial(network, addr)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.dialed[addr] = true
	r.mu.Unlock()
	return &recordingConn{Conn: c, rec: r}, nil
}

func (r *apiRecorder) add(key, version int16) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen[key] == nil {
		r.seen[key] = map[int16]bool{}
	}
	r.seen[key][version] = true
}

// versions returns the versions sent of one API, ascending.
func (r *apiRecorder) versions(key int16) []int16 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(maps.Keys(r.seen[key]))
}

// String lists every API sent with its versions: "Produce v9, Fetch v12, ...".
func (r *apiRecorder) String() string {
	r.mu.Lock()
	keys := slices.Sorted(maps.Keys(r.seen))
	r.mu.Unlock()
	var parts []string
	for _, k := range keys {
		var vs []string
		for _, v := range r.versions(k) {
			vs = append(vs, fmt.Sprintf("v%d", v))
		}
		parts = append(parts, fmt.Sprintf("%s(%d) %s", kmsg.NameForKey(k), k, strings.Join(vs, ",")))
	}
	return strings.Join(parts, "; ")
}

// wantVersion fails unless sarama sent API key with at least version min: the check
// that Config.Version really moved sarama onto the newer request versions.
func (r *apiRecorder) wantVersion(t *testing.T, key, min int16) {
	t.Helper()
	vs := r.versions(key)
	if len(vs) == 0 || vs[len(vs)-1] < min {
		t.Errorf("sarama sent %s versions %v, want one at least v%d (all: %s)", kmsg.NameForKey(key), vs, min, r)
	}
}

// recordingConn parses the request stream it writes: each request is a 4-byte size,
// then the header's api key and version.
type recordingConn struct {
	net.Conn
	rec  *apiRecorder
	buf  []byte // the start of a request whose key and version are not yet written
	skip int    // bytes of the current request still to pass
}

func (c *recordingConn) Write(p []byte) (int, error) {
	for rest := p; len(rest) > 0; {
		if c.skip > 0 {
			n := min(c.skip, len(rest))
			c.skip -= n
			rest = rest[n:]
			continue
		}
		n := min(8-len(c.buf), len(rest))
		c.buf = append(c.buf, rest[:n]...)
		rest = rest[n:]
		if len(c.buf) == 8 {
			size := int(binary.BigEndian.Uint32(c.buf))
			c.rec.add(int16(binary.BigEndian.Uint16(c.buf[4:])), int16(binary.BigEndian.Uint16(c.buf[6:])))
			c.skip = size - 4
			c.buf = c.buf[:0]
		}
	}
	return c.Conn.Write(p)
}

// saramaConfig is a sarama config for a test: the given version, short timeouts and
// backoffs (a loopback broker answers at once), and the recording dialer.
// idempotent makes cfg's producer idempotent, with what sarama requires for it: acks=all
// and one request in flight per connection.
func idempotent(cfg *sarama.Config) *sarama.Config {
	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Net.MaxOpenRequests = 1
	return cfg
}

func saramaConfig(version sarama.KafkaVersion, rec *apiRecorder) *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = version
	cfg.ClientID = "nagare-interop-sarama"
	cfg.Net.DialTimeout = 5 * time.Second
	cfg.Net.ReadTimeout = 10 * time.Second
	cfg.Net.WriteTimeout = 5 * time.Second
	cfg.Net.Proxy.Enable = true
	cfg.Net.Proxy.Dialer = rec
	cfg.Metadata.Retry.Backoff = 50 * time.Millisecond
	cfg.Producer.Retry.Backoff = 50 * time.Millisecond
	cfg.Producer.Return.Successes = true
	// A test that sets Flush.Messages gets batches of that size; the frequency flushes
	// the rest instead of waiting for a batch to fill.
	cfg.Producer.Flush.Frequency = 10 * time.Millisecond
	cfg.Consumer.Retry.Backoff = 50 * time.Millisecond
	cfg.Consumer.MaxWaitTime = 100 * time.Millisecond
	cfg.Consumer.Return.Errors = true
	cfg.Admin.Retry.Backoff = 50 * time.Millisecond
	return cfg
}

func newAPIRecorder() *apiRecorder {
	return &apiRecorder{seen: map[int16]map[int16]bool{}, dialed: map[string]bool{}}
}

// addrs returns the addresses sarama connected to, sorted.
func (r *apiRecorder) addrs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(maps.Keys(r.dialed))
}

// saramaClient starts a sarama client bootstrapped from addrs, closed at cleanup.
func saramaClient(t *testing.T, cfg *sarama.Config, addrs ...string) sarama.Client {
	t.Helper()
	cl, err := sarama.NewClient(addrs, cfg)
	if err != nil {
		t.Fatalf("sarama client (version %s): %v", cfg.Version, err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

// saramaSyncProducer is a SyncProducer on its own client, closed at cleanup.
func saramaSyncProducer(t *testing.T, cfg *sarama.Config, addrs ...string) sarama.SyncProducer {
	t.Helper()
	p, err := sarama.NewSyncProducer(addrs, cfg)
	if err != nil {
		t.Fatalf("sarama sync producer (version %s): %v", cfg.Version, err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// saramaConsume reads partition from offset with sarama's partition consumer until it
// has n messages, failing on a consumer error or after 15 s; then it waits briefly
// and fails if any more arrive.
func saramaConsume(t *testing.T, c sarama.Consumer, topic string, partition int32, offset int64, n int) []*sarama.ConsumerMessage {
	t.Helper()
	pc, err := c.ConsumePartition(topic, partition, offset)
	if err != nil {
		t.Fatalf("ConsumePartition %s/%d at %d: %v", topic, partition, offset, err)
	}
	defer pc.AsyncClose()
	var out []*sarama.ConsumerMessage
	timeout := time.After(15 * time.Second)
	for len(out) < n {
		select {
		case m := <-pc.Messages():
			out = append(out, m)
		case err := <-pc.Errors():
			t.Fatalf("consume %s/%d: %v", topic, partition, err)
		case <-timeout:
			t.Fatalf("consume %s/%d from %d: %d of %d messages after 15s", topic, partition, offset, len(out), n)
		}
	}
	select {
	case m := <-pc.Messages():
		t.Fatalf("consume %s/%d: message at offset %d past the %d expected (value %q)", topic, partition, m.Offset, n, m.Value)
	case <-time.After(200 * time.Millisecond):
	}
	return out
}
