package broker_test

// Request metrics end to end: two clients with their own client ids produce and consume;
// /metrics attributes their requests, bytes and connections to each, counts error codes
// and stage latencies per API, and reports partition traffic and group lag; /v1/clients
// serves the same per-client view as JSON; every metric the Grafana dashboard queries
// exists. A storm of 10,000 client ids keeps the client table at its cap.

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/brokertest"
	"github.com/nagare-dev/nagare/internal/stats"
)

// scrape reads /metrics as Prometheus text: series (name{labels} as printed) to value.
func scrape(t *testing.T, b *brokertest.Broker) map[string]float64 {
	t.Helper()
	body := httpGet(t, b, "/metrics")
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

func httpGet(t *testing.T, b *brokertest.Broker, path string) string {
	t.Helper()
	cl := http.Client{Timeout: 10 * time.Second}
	resp, err := cl.Get("http://" + b.HTTPAddr() + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v %s", path, resp.StatusCode, err, body)
	}
	return string(body)
}

// wantSeries checks one series' value with cmp ("=", ">=").
func wantSeries(t *testing.T, m map[string]float64, series, cmp string, want float64) {
	t.Helper()
	got, ok := m[series]
	switch {
	case !ok:
		t.Errorf("missing series %s", series)
	case cmp == "=" && got != want, cmp == ">=" && got < want:
		t.Errorf("%s = %v, want %s %v", series, got, cmp, want)
	}
}

func TestMetricsAttributeTwoClients(t *testing.T) {
	b := brokertest.Start(t, brokertest.WithHTTP())
	ctx := testContext(t)
	adm := b.Admin()
	createTopic(t, adm, "metered", 1, nil)

	producer := b.Client(kgo.ClientID("producer-a"), kgo.DefaultProduceTopic("metered"))
	produce := func(n int) {
		for i := range n {
			if err := producer.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "record-%d", i)}).FirstErr(); err != nil {
				t.Fatalf("produce: %v", err)
			}
		}
	}
	produce(10)
	consumer := b.Client(kgo.ClientID("consumer-b"), kgo.ConsumerGroup("metered-group"), kgo.ConsumeTopics("metered"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(), kgo.FetchMaxWait(100*time.Millisecond))
	for got := 0; got < 10; {
		fs := consumer.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("poll: %v", err)
		}
		got += fs.NumRecords()
	}
	if err := consumer.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	produce(5) // the group now lags by 5
	// A second CreateTopics of the same topic: TOPIC_ALREADY_EXISTS in the response.
	if res, _ := adm.CreateTopics(ctx, 1, 1, nil, "metered"); res["metered"].Err == nil {
		t.Fatalf("re-creating the topic succeeded")
	}

	var m map[string]float64
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		// The writer records a request after its response left, so a client can see a
		// response before it is counted (CI once scraped before the consumer's first
		// Fetch was recorded): wait for the last ones.
		m = scrape(t, b)
		if m[`nagare_request_errors_total{api="CreateTopics",error="TOPIC_ALREADY_EXISTS"}`] == 1 &&
			m[`nagare_request_size_bytes_count{api="Produce"}`] >= 15 &&
			m[`nagare_request_stage_seconds_count{api="Fetch",stage="remote"}`] >= 1 || time.Now().After(deadline) {
			break
		}
	}
	const anon = `principal="ANONYMOUS"`
	wantSeries(t, m, `nagare_client_requests_total{api="Produce",client_id="producer-a",`+anon+`}`, ">=", 15)
	wantSeries(t, m, `nagare_client_requests_total{api="Fetch",client_id="consumer-b",`+anon+`}`, ">=", 1)
	wantSeries(t, m, `nagare_client_requests_total{api="OffsetCommit",client_id="consumer-b",`+anon+`}`, ">=", 1)
	if _, ok := m[`nagare_client_requests_total{api="Produce",client_id="consumer-b",`+anon+`}`]; ok {
		t.Errorf("consumer-b credited with produce requests")
	}
	if _, ok := m[`nagare_client_requests_total{api="Fetch",client_id="producer-a",`+anon+`}`]; ok {
		t.Errorf("producer-a credited with fetch requests")
	}
	wantSeries(t, m, `nagare_client_connections{client_id="producer-a",listener="PLAINTEXT",`+anon+`}`, ">=", 1)
	wantSeries(t, m, `nagare_client_received_bytes_total{client_id="producer-a",`+anon+`}`, ">=", 15*20)
	wantSeries(t, m, `nagare_client_sent_bytes_total{client_id="consumer-b",`+anon+`}`, ">=", 10*10)
	wantSeries(t, m, `nagare_client_broker_time_seconds_total{client_id="producer-a",`+anon+`}`, ">=", 1e-9)
	var produced float64
	for series, v := range m {
		if strings.HasPrefix(series, `nagare_requests_total{api="Produce",`) {
			produced += v
		}
	}
	if want := m[`nagare_client_requests_total{api="Produce",client_id="producer-a",`+anon+`}`]; produced != want {
		t.Errorf("nagare_requests_total for Produce = %v, producer-a's = %v", produced, want)
	}
	infoFound := false
	for series := range m {
		infoFound = infoFound || strings.HasPrefix(series, `nagare_client_info{client_id="producer-a",`+anon+`,software_name="kgo"`)
	}
	if !infoFound {
		t.Errorf("no nagare_client_info with producer-a's software")
	}
	wantSeries(t, m, `nagare_request_errors_total{api="CreateTopics",error="TOPIC_ALREADY_EXISTS"}`, "=", 1)
	wantSeries(t, m, `nagare_request_stage_seconds_count{api="Fetch",stage="remote"}`, ">=", 1)
	wantSeries(t, m, `nagare_request_stage_seconds_bucket{api="Produce",stage="local",le="+Inf"}`, ">=", 15)
	wantSeries(t, m, `nagare_request_size_bytes_count{api="Produce"}`, ">=", 15)
	wantSeries(t, m, `nagare_partition_received_records_total{partition="0",topic="metered"}`, "=", 15)
	wantSeries(t, m, `nagare_partition_log_end_offset{partition="0",topic="metered"}`, "=", 15)
	wantSeries(t, m, `nagare_partition_sent_bytes_total{partition="0",topic="metered"}`, ">=", 1)
	wantSeries(t, m, `nagare_group_lag_records{group="metered-group",topic="metered"}`, "=", 5)
	wantSeries(t, m, `nagare_group_max_lag_records{group="metered-group",topic="metered"}`, "=", 5)
	wantSeries(t, m, `nagare_group_lag_omitted_groups`, "=", 0)
	wantSeries(t, m, `go_threads`, ">=", 1)

	// /v1/clients: the same clients as JSON.
	var view stats.ClientsView
	if err := json.Unmarshal([]byte(httpGet(t, b, "/v1/clients")), &view); err != nil {
		t.Fatalf("/v1/clients: %v", err)
	}
	byID := map[string]stats.ClientView{}
	for _, c := range view.Clients {
		byID[c.ClientID] = c
	}
	if a := byID["producer-a"]; a.Requests < 15 || a.SoftwareName != "kgo" || a.Principal != "ANONYMOUS" || a.Connections < 1 || a.BytesIn == 0 {
		t.Errorf("/v1/clients producer-a = %+v", a)
	}
	if c := byID["consumer-b"]; c.Requests == 0 || c.BytesOut == 0 {
		t.Errorf("/v1/clients consumer-b = %+v", c)
	}
	if view.MaxClients != stats.DefaultMaxClients {
		t.Errorf("max_clients = %d", view.MaxClients)
	}

	checkDashboard(t, m)
}

// checkDashboard parses the Grafana dashboard and checks that every metric it queries
// is in the scrape.
func checkDashboard(t *testing.T, scraped map[string]float64) {
	t.Helper()
	raw, err := os.ReadFile("../../deploy/grafana/nagare.json")
	if err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard is not valid JSON: %v", err)
	}
	names := map[string]bool{}
	for series := range scraped {
		name, _, _ := strings.Cut(series, "{")
		names[name] = true
	}
	metric := regexp.MustCompile(`\b(?:nagare|go|process)_[a-zA-Z0-9_]+`)
	queried := 0
	for _, p := range dash.Panels {
		for _, target := range p.Targets {
			for _, name := range metric.FindAllString(target.Expr, -1) {
				queried++
				if !names[name] {
					t.Errorf("dashboard panel %q queries %s, which /metrics does not have", p.Title, name)
				}
			}
		}
	}
	if queried < 20 {
		t.Errorf("dashboard queries only %d metrics", queried)
	}
}

// A client id that is not UTF-8 or is 32 KiB long, and a group id that is not UTF-8,
// must not take /metrics down (client_golang rejects such label values, failing the
// whole scrape): they are exported sanitised next to everything else. Group lag is per
// group and topic, for at most nagare.metrics.max.groups groups.
func TestMetricsSurviveUnfitLabels(t *testing.T) {
	b := brokertest.Start(t, brokertest.WithHTTP(),
		brokertest.WithProperties(map[string]string{"nagare.metrics.max.groups": "2"}))
	ctx := testContext(t)
	adm := b.Admin()
	createTopic(t, adm, "lagged", 2, nil)
	producer := b.Client(kgo.ClientID("producer-ok"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range 14 {
		r := &kgo.Record{Topic: "lagged", Partition: int32(i % 2), Value: []byte("v")}
		if i >= 8 {
			r.Partition = 0 // 10 records in partition 0, 4 in partition 1
		}
		if err := producer.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	commit := func(group string, offsets ...int64) {
		var os kadm.Offsets
		for p, at := range offsets {
			os.Add(kadm.Offset{Topic: "lagged", Partition: int32(p), At: at, LeaderEpoch: -1})
		}
		if err := adm.CommitAllOffsets(ctx, group, os); err != nil {
			t.Fatalf("commit %q: %v", group, err)
		}
	}
	commit("g-a", 3, 1)  // lag 7 + 3
	commit("g-b\xff", 0) // lag 10, one partition
	commit("g-c", 0, 0)  // beyond the cap of 2 groups

	conn, err := net.DialTimeout("tcp", b.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	long := strings.Repeat("x", 32<<10-1) // the longest a request header carries
	for i, id := range []string{"bad\xff", long} {
		req := kmsg.NewPtrApiVersionsRequest()
		frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID(id)).AppendRequest(nil, req, int32(i))
		if _, err := conn.Write(frame); err != nil {
			t.Fatal(err)
		}
		var size [4]byte
		if _, err := io.ReadFull(conn, size[:]); err != nil {
			t.Fatal(err)
		}
		if _, err := io.CopyN(io.Discard, conn, int64(binary.BigEndian.Uint32(size[:]))); err != nil {
			t.Fatal(err)
		}
	}

	const anon = `,principal="ANONYMOUS"}`
	truncated := `nagare_client_requests_total{api="ApiVersions",client_id="` + long[:stats.MaxLabelBytes] + `"` + anon
	var m map[string]float64
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		m = scrape(t, b) // fails unless 200
		if _, ok := m[truncated]; ok || time.Now().After(deadline) {
			break
		}
	}
	wantSeries(t, m, `nagare_client_requests_total{api="ApiVersions",client_id="bad`+"\uFFFD"+`"`+anon, "=", 1)
	wantSeries(t, m, truncated, "=", 1)
	wantSeries(t, m, `nagare_client_requests_total{api="Produce",client_id="producer-ok"`+anon, "=", 14)
	wantSeries(t, m, `nagare_partition_log_end_offset{partition="0",topic="lagged"}`, "=", 10)
	wantSeries(t, m, `nagare_group_lag_records{group="g-a",topic="lagged"}`, "=", 10)
	wantSeries(t, m, `nagare_group_max_lag_records{group="g-a",topic="lagged"}`, "=", 7)
	wantSeries(t, m, `nagare_group_lag_records{group="g-b`+"\uFFFD"+`",topic="lagged"}`, "=", 10)
	wantSeries(t, m, `nagare_group_lag_omitted_groups`, "=", 1)
	for series := range m {
		if strings.Contains(series, `group="g-c"`) {
			t.Errorf("group beyond nagare.metrics.max.groups exported: %s", series)
		}
	}
}

// TestClientCapUnderStorm sends 10,000 requests, each with a new random client id, on
// one connection: the broker tracks at most nagare.metrics.max.clients of them and
// counts the rest as "other".
func TestClientCapUnderStorm(t *testing.T) {
	const maxClients, requests = 50, 10_000
	b := brokertest.Start(t, brokertest.WithHTTP(),
		brokertest.WithProperties(map[string]string{"nagare.metrics.max.clients": strconv.Itoa(maxClients)}))
	conn, err := net.DialTimeout("tcp", b.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	done := make(chan error, 1)
	go func() { // read every response, so the broker keeps reading requests
		var size [4]byte
		for range requests {
			if _, err := io.ReadFull(conn, size[:]); err != nil {
				done <- err
				return
			}
			if _, err := io.CopyN(io.Discard, conn, int64(binary.BigEndian.Uint32(size[:]))); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	w := bufio.NewWriter(conn)
	for i := range requests {
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = 0
		f := kmsg.NewRequestFormatter(kmsg.FormatterClientID(fmt.Sprintf("storm-%d-%x", i, time.Now().UnixNano())))
		frame := f.AppendRequest(nil, req, int32(i))
		if _, err := w.Write(frame); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("reading responses: %v", err)
	}
	var view stats.ClientsView
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if err := json.Unmarshal([]byte(httpGet(t, b, "/v1/clients")), &view); err != nil {
			t.Fatal(err)
		}
		var total uint64
		for _, c := range view.Clients {
			total += c.Requests
		}
		if total >= requests || time.Now().After(deadline) {
			if total != requests {
				t.Errorf("requests across clients = %d, want %d", total, requests)
			}
			break
		}
	}
	if view.Tracked > maxClients || len(view.Clients) > maxClients+1 {
		t.Errorf("tracked %d clients (%d in view), cap %d", view.Tracked, len(view.Clients), maxClients)
	}
	if got := b.Stats().Tracked(); got > maxClients {
		t.Errorf("Stats.Tracked = %d, cap %d", got, maxClients)
	}
	m := scrape(t, b)
	series := 0
	for s := range m {
		if strings.HasPrefix(s, "nagare_client_requests_total{") {
			series++
		}
	}
	if series > maxClients+1 {
		t.Errorf("%d nagare_client_requests_total series, want at most %d", series, maxClients+1)
	}
	wantSeries(t, m, `nagare_client_requests_total{api="ApiVersions",client_id="other",principal="other"}`, ">=", requests-maxClients)
}
