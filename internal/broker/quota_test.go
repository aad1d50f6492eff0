package broker_test

// Client quotas end to end: AlterClientQuotas and DescribeClientQuotas through kadm, kept
// across a restart; a franz-go producer over its byte rate is throttled and held to it;
// a raw client that ignores throttle_time_ms is held anyway because its connection is
// not read.

import (
	"encoding/binary"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/brokertest"
	"github.com/nagare-dev/nagare/internal/quota"
)

// shortWindows makes rates converge in seconds: 2 samples of 1 s (span at least 1 s).
var shortWindows = map[string]string{"quota.window.num": "2", "quota.window.size.seconds": "1"}

func clientIDEntity(name *string) kadm.ClientQuotaEntity {
	return kadm.ClientQuotaEntity{{Type: "client-id", Name: name}}
}

func alterQuota(t *testing.T, adm *kadm.Client, entity kadm.ClientQuotaEntity, ops ...kadm.AlterClientQuotaOp) {
	t.Helper()
	res, err := adm.AlterClientQuotas(testContext(t), []kadm.AlterClientQuotaEntry{{Entity: entity, Ops: ops}})
	if err != nil || len(res) != 1 || res[0].Err != nil {
		t.Fatalf("alter %v: %v %+v", entity, err, res)
	}
}

func TestClientQuotasAdmin(t *testing.T) {
	b := brokertest.Start(t)
	adm := b.Admin()
	ctx := testContext(t)
	app, alice := "app", "alice"

	// validate_only changes nothing; a bad key is refused per entry.
	res, err := adm.ValidateAlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{
		{Entity: clientIDEntity(&app), Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 1000}}},
		{Entity: clientIDEntity(&app), Ops: []kadm.AlterClientQuotaOp{{Key: "no_such_quota", Value: 1}}},
		{Entity: clientIDEntity(&app), Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 1.5}}},
	})
	if err != nil || res[0].Err != nil || res[1].Err == nil || res[2].Err == nil {
		t.Fatalf("validate: %v %+v", err, res)
	}
	if got, _ := adm.DescribeClientQuotas(ctx, false, nil); len(got) != 0 {
		t.Fatalf("validate_only stored %+v", got)
	}

	alterQuota(t, adm, clientIDEntity(&app), kadm.AlterClientQuotaOp{Key: "producer_byte_rate", Value: 1000},
		kadm.AlterClientQuotaOp{Key: "request_percentage", Value: 25})
	alterQuota(t, adm, clientIDEntity(nil), kadm.AlterClientQuotaOp{Key: "consumer_byte_rate", Value: 5000})
	alterQuota(t, adm, kadm.ClientQuotaEntity{{Type: "user", Name: &alice}, {Type: "client-id", Name: &app}},
		kadm.AlterClientQuotaOp{Key: "request_percentage", Value: 10})

	count := func(strict bool, comps ...kadm.DescribeClientQuotaComponent) int {
		got, err := adm.DescribeClientQuotas(ctx, strict, comps)
		if err != nil {
			t.Fatal(err)
		}
		return len(got)
	}
	exact := kadm.DescribeClientQuotaComponent{Type: "client-id", MatchName: &app, MatchType: kmsg.QuotasMatchTypeExact}
	def := kadm.DescribeClientQuotaComponent{Type: "client-id", MatchType: kmsg.QuotasMatchTypeDefault}
	anyClient := kadm.DescribeClientQuotaComponent{Type: "client-id", MatchType: kmsg.QuotasMatchTypeAny}
	for _, c := range []struct {
		name   string
		strict bool
		comps  []kadm.DescribeClientQuotaComponent
		want   int
	}{
		{"all", false, nil, 3},
		{"exact", false, []kadm.DescribeClientQuotaComponent{exact}, 2},
		{"exact strict", true, []kadm.DescribeClientQuotaComponent{exact}, 1},
		{"default", false, []kadm.DescribeClientQuotaComponent{def}, 1},
		{"any strict", true, []kadm.DescribeClientQuotaComponent{anyClient}, 2},
	} {
		if got := count(c.strict, c.comps...); got != c.want {
			t.Errorf("%s: %d entities, want %d", c.name, got, c.want)
		}
	}
	if limit, _ := b.Quotas().Limit(quota.RequestPercentage, "ANONYMOUS", app); limit != 25 {
		t.Fatalf("in force: request_percentage %v, want 25", limit)
	}

	alterQuota(t, adm, clientIDEntity(&app), kadm.AlterClientQuotaOp{Key: "request_percentage", Remove: true})
	b.Restart()
	adm = b.Admin()
	got, err := adm.DescribeClientQuotas(testContext(t), true, []kadm.DescribeClientQuotaComponent{exact})
	if err != nil || len(got) != 1 || len(got[0].Values) != 1 || got[0].Values[0] != (kadm.ClientQuotaValue{Key: "producer_byte_rate", Value: 1000}) {
		t.Fatalf("after restart: %v %+v", err, got)
	}
	if limit, _ := b.Quotas().Limit(quota.ProducerByteRate, "ANONYMOUS", app); limit != 1000 {
		t.Fatalf("after restart in force: producer_byte_rate %v, want 1000", limit)
	}
	// The static default applies where no entity quota does.
	if limit, ok := b.Quotas().Limit(quota.RequestPercentage, "ANONYMOUS", app); !ok || limit != 100 {
		t.Fatalf("default request quota %v %v, want 100", limit, ok)
	}
}

type throttleHook struct{ max atomic.Int64 }

func (h *throttleHook) OnBrokerThrottle(_ kgo.BrokerMetadata, d time.Duration, _ bool) {
	for {
		cur := h.max.Load()
		if int64(d) <= cur || h.max.CompareAndSwap(cur, int64(d)) {
			return
		}
	}
}

func TestQuotaProducerConvergesToByteRate(t *testing.T) {
	b := brokertest.Start(t, brokertest.WithProperties(shortWindows))
	adm := b.Admin()
	createTopic(t, adm, "metered", 1, nil)
	const bound = 200_000.0
	slow := "slow"
	alterQuota(t, adm, clientIDEntity(&slow), kadm.AlterClientQuotaOp{Key: "producer_byte_rate", Value: bound})

	hook := &throttleHook{}
	cl := b.Client(kgo.ClientID(slow), kgo.WithHooks(hook), kgo.DefaultProduceTopic("metered"),
		kgo.MaxBufferedRecords(64), kgo.ProducerLinger(0),
		kgo.ProducerBatchCompression(kgo.NoCompression())) // the quota counts wire bytes
	ctx := testContext(t)
	value := make([]byte, 2000)
	var acked atomic.Int64
	var mu sync.Mutex
	type mark struct {
		at    time.Time
		bytes int64
	}
	var marks []mark // acked bytes, about once a second (Produce blocks on a full buffer)
	start := time.Now()
	stop := start.Add(14 * time.Second) // long enough that burst edges average out
	next := start.Add(time.Second)
	for time.Now().Before(stop) {
		cl.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
			if err == nil {
				acked.Add(int64(len(value)))
			}
		})
		if now := time.Now(); now.After(next) {
			mu.Lock()
			marks = append(marks, mark{now, acked.Load()})
			mu.Unlock()
			next = next.Add(time.Second)
		}
	}
	cl.Flush(ctx)
	if hook.max.Load() <= 0 {
		t.Fatal("no response carried throttle_time_ms")
	}
	// Steady state: from the second mark to the last, past the first window's allowance,
	// over the time that really passed between them. The quota must hold (at most 15%
	// over); falling short is allowed a little more, since on a loaded machine (-race, other
	// packages' tests) the producer itself can be slower than its quota.
	first, last := marks[1], marks[len(marks)-1]
	rate := float64(last.bytes-first.bytes) / last.at.Sub(first.at).Seconds()
	if rate > bound*1.15 || rate < bound*0.75 {
		t.Fatalf("achieved %.0f B/s of records, want within 15%% over (25%% under) %.0f (marks %v)", rate, bound, marks)
	}
	t.Logf("achieved %.0f B/s against %.0f; largest throttle %v", rate, bound, time.Duration(hook.max.Load()))
}

// rawClient speaks the protocol over a plain connection and never backs off.
type rawClient struct {
	conn net.Conn
	f    *kmsg.RequestFormatter
	corr int32
}

func (c *rawClient) apiVersions(t *testing.T) (throttle time.Duration) {
	t.Helper()
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName, req.ClientSoftwareVersion = "raw", "1"
	c.corr++
	if _, err := c.conn.Write(c.f.AppendRequest(nil, req, c.corr)); err != nil {
		t.Fatal(err)
	}
	var size [4]byte
	if _, err := io.ReadFull(c.conn, size[:]); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c.conn, body); err != nil {
		t.Fatal(err)
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 3
	if err := resp.ReadFrom(body[4:]); err != nil { // ApiVersions answers with header v0
		t.Fatal(err)
	}
	return time.Duration(resp.ThrottleMillis) * time.Millisecond
}

func TestQuotaHoldsClientIgnoringThrottle(t *testing.T) {
	b := brokertest.Start(t, brokertest.WithProperties(shortWindows))
	abuser := "abuser"
	const percent = 1.0 // 10 ms of broker time per second
	alterQuota(t, b.Admin(), clientIDEntity(&abuser), kadm.AlterClientQuotaOp{Key: "request_percentage", Value: percent})

	conn, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := &rawClient{conn: conn, f: kmsg.NewRequestFormatter(kmsg.FormatterClientID(abuser))}
	start := time.Now()
	var throttled, held int
	for time.Since(start) < 3*time.Second {
		throttle := c.apiVersions(t)
		if throttle <= 0 {
			continue
		}
		throttled++
		// Ignore it: ask again at once. The answer cannot come before the mute ends.
		sent := time.Now()
		c.apiVersions(t)
		if waited := time.Since(sent); waited >= throttle-10*time.Millisecond {
			held++
		} else {
			t.Errorf("throttled %v, yet the next request was answered in %v", throttle, waited)
		}
	}
	elapsed := time.Since(start)
	if throttled == 0 || held == 0 {
		t.Fatalf("never throttled (%d) or held (%d)", throttled, held)
	}
	var used time.Duration
	for _, u := range b.Quotas().Usage() {
		if u.ClientID == abuser {
			used = u.TimeUsed
		}
	}
	// Allowed: the quota over the run plus one span's allowance at the start.
	allowed := time.Duration(percent / 100 * float64(elapsed+time.Second))
	if used > allowed*3/2 {
		t.Fatalf("abuser used %v of broker time in %v; quota allows about %v", used, elapsed, allowed)
	}
	t.Logf("abuser used %v in %v (allowed ~%v); throttled %d times", used, elapsed, allowed, throttled)
}

// TestQuotaExemptsFollowerFetch: a follower's fetch (the replica id of a registered
// broker, CLUSTER_ACTION) is charged to no client and never throttled, as in Kafka, where a
// consumer's fetch from the same client-id under the same quota is, and so is one naming
// a replica id no broker has.
func TestQuotaExemptsFollowerFetch(t *testing.T) {
	b := brokertest.Start(t, brokertest.WithProperties(shortWindows))
	id := "fetcher"
	alterQuota(t, b.Admin(), clientIDEntity(&id), kadm.AlterClientQuotaOp{Key: "request_percentage", Value: 0.01})
	cl := b.Client(kgo.ClientID(id))
	defer cl.Close()
	ctx := testContext(t)
	fetch := func(replica int32) *kmsg.FetchResponse {
		req := fetchPartition0("no-such-topic", [16]byte{})
		req.ReplicaID, req.ReplicaState.ID = replica, replica
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for range 50 {
		if resp := fetch(1); resp.ThrottleMillis != 0 {
			t.Fatalf("a follower fetch was throttled %d ms", resp.ThrottleMillis)
		}
	}
	for _, u := range b.Quotas().Usage() {
		if u.ClientID == id && u.TimeUsed > 0 {
			t.Fatalf("follower fetches charged %v to client %s", u.TimeUsed, id)
		}
	}
	// A consumer's fetches, and fetches naming a replica id no broker has, are held to
	// the quota.
	for _, replica := range []int32{-1, 99} {
		var throttled bool
		for i := 0; i < 50 && !throttled; i++ {
			throttled = fetch(replica).ThrottleMillis > 0
		}
		if !throttled {
			t.Fatalf("fetches with replica id %d were never throttled: exempt, or the quota not in force", replica)
		}
	}
}
