package broker_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// fuzzTopicID stands for the fuzz topic's id in seeds: the broker gives the topic a new
// id in every process (each fuzz worker starts its own), so the fuzz body swaps these 16
// bytes for the real id before decoding, and requests that name topics by id (Produce
// v13, Fetch v13+, ShareFetch, ...) reach a real partition.
var fuzzTopicID = [16]byte{'n', 'a', 'g', 'a', 'r', 'e', '-', 'f', 'u', 'z', 'z', '-', 't', 'o', 'p', 'c'}

const fuzzTopic = "fuzz"

// servedAPI is one API key the broker serves, with the versions both it and kmsg know.
type servedAPI struct{ key, min, max int16 }

// FuzzRequests sends arbitrary (but decodable) requests of every API the broker
// advertises in ApiVersions, at versions within the advertised range, to a real broker.
// Each input must get its response (or a close) within a deadline, followed on the same
// connection by an ApiVersions that is answered (or a close); no handler may panic, on
// the connection's reader or off it (the server recovers both and would only close the
// connection); and a fresh connection is served afterwards. SaslHandshake and
// SaslAuthenticate are also sent to a SASL_PLAINTEXT listener, where they change the
// connection's state, to check the request after them is still handled or refused; every
// other request is sent there too, authenticated as carol, whom the ACLs leave out, so
// that each handler's authorization failures are fuzzed as strictly.
func FuzzRequests(f *testing.F) {
	panics := &panicLog{}
	b := brokertest.Start(f, brokertest.WithLogger(func(string) *slog.Logger { return slog.New(panics) }),
		brokertest.WithProperties(map[string]string{
			"listeners":               "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
			"sasl.enabled.mechanisms": "SCRAM-SHA-256,PLAIN",
			"sasl.jaas.config":        `org.apache.kafka.common.security.plain.PlainLoginModule required user_carol="` + carolPassword + `";`,
			// The SASL listener turns ACLs on; these leave them open, so that handlers go
			// past their authorization checks.
			"allow.everyone.if.no.acl.found":            "true",
			"super.users":                               "User:ANONYMOUS",
			"connection.failed.authentication.delay.ms": "100",
		}))
	apis := servedAPIs(f, b)
	topicID := createFuzzTopic(f, b)
	denyCarol(f, b)
	for _, s := range fuzzSeeds(apis) {
		f.Add(s.Key(), s.GetVersion(), s.AppendTo(nil))
	}
	plain, sasl := listenerAddr(f, b, "PLAINTEXT"), listenerAddr(f, b, "SASL_PLAINTEXT")
	f.Fuzz(func(t *testing.T, key, version int16, body []byte) {
		api := pickAPI(apis, key)
		if version < api.min || version > api.max {
			version = api.min + int16(uint16(version)%uint16(api.max-api.min+1))
		}
		req := kmsg.RequestForKey(api.key)
		req.SetVersion(version)
		body = bytes.ReplaceAll(body, fuzzTopicID[:], topicID[:])
		if req.ReadFrom(body) != nil {
			return // not a request: decoding is fuzzed elsewhere (internal/api)
		}
		boundWaits(req)
		counted, logged := panics.count(t, b)
		defer func() { // also when an exchange failed: a panic explains a missing response
			if c, l := panics.count(t, b); c != counted || l != logged {
				t.Errorf("%s v%d: handler_panics_total %v -> %v, logged panics %d -> %d:\n%s",
					kmsg.NameForKey(api.key), req.GetVersion(), counted, c, logged, l, panics.String())
			}
		}()
		exchangeThen(t, dialTo(plain), req, apiVersionsProbe(), true)
		if api.key == saslHandshakeKey || api.key == saslAuthenticateKey {
			// On the SASL listener they change the connection's state; a close is allowed.
			exchangeThen(t, dialTo(sasl), req, apiVersionsProbe(), false)
		} else {
			// Authenticated as carol, whom every ACL leaves out: the handlers' authorization
			// failures, as strictly (a denial is an error code, never a close).
			exchangeThen(t, dialAsCarol(sasl), req, apiVersionsProbe(), true)
		}
		// The broker still serves a new connection.
		exchange(t, plain, apiVersionsProbe(), false)
	})
}

// dialTo dials addr for one exchange.
func dialTo(addr string) func(*testing.T) net.Conn {
	return func(t *testing.T) net.Conn { return dialFuzz(t, addr) }
}

// dialAsCarol dials the SASL listener at addr and authenticates as carol with PLAIN
// (SaslHandshake v1, SaslAuthenticate v2) before the exchange.
func dialAsCarol(addr string) func(*testing.T) net.Conn {
	return func(t *testing.T) net.Conn {
		t.Helper()
		conn := dialFuzz(t, addr)
		handshake := kmsg.NewPtrSASLHandshakeRequest()
		handshake.Version, handshake.Mechanism = 1, "PLAIN"
		authenticate := kmsg.NewPtrSASLAuthenticateRequest()
		authenticate.Version, authenticate.SASLAuthBytes = 2, []byte("\x00carol\x00"+carolPassword)
		format := kmsg.NewRequestFormatter(kmsg.FormatterClientID("fuzz"))
		for i, req := range []kmsg.Request{handshake, authenticate} {
			if _, err := conn.Write(format.AppendRequest(nil, req, int32(100+i))); err != nil {
				t.Fatalf("authenticating as carol: %v", err)
			}
			_, body, err := readResponse(conn)
			var resp kmsg.Response
			if err == nil {
				resp, err = readResponseAs(req, body)
			}
			if err == nil {
				switch r := resp.(type) {
				case *kmsg.SASLHandshakeResponse:
					err = kerr.ErrorForCode(r.ErrorCode)
				case *kmsg.SASLAuthenticateResponse:
					err = kerr.ErrorForCode(r.ErrorCode)
				}
			}
			if err != nil {
				t.Fatalf("authenticating as carol (%s): %v", kmsg.NameForKey(req.Key()), err)
			}
		}
		return conn
	}
}

// denyCarol gives every kind of resource an ACL for another principal, so that carol,
// who has none, is denied everything: allow.everyone.if.no.acl.found covers only
// resources without ACLs.
func denyCarol(t testing.TB, b *brokertest.Broker) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	acls := kadm.NewACLs().Allow("User:nobody").AllowHosts().
		Topics("*").Groups("*").TransactionalIDs("*").Clusters().
		Operations(kadm.OpAll).ResourcePatternType(kadm.ACLPatternLiteral)
	results, err := b.Admin().CreateACLs(ctx, acls)
	if err != nil {
		t.Fatalf("ACLs that leave carol out: %v", err)
	}
	for _, r := range results {
		if r.Err != nil {
			t.Fatalf("ACLs that leave carol out: %v", r.Err)
		}
	}
}

// pickAPI is the served API with key, or one chosen by it when none has it.
func pickAPI(apis []servedAPI, key int16) servedAPI {
	for _, api := range apis {
		if api.key == key {
			return api
		}
	}
	return apis[int(uint16(key))%len(apis)]
}

const (
	saslHandshakeKey    = 17
	saslAuthenticateKey = 36
)

func apiVersionsProbe() kmsg.Request {
	return &kmsg.ApiVersionsRequest{Version: 3, ClientSoftwareName: "fuzz", ClientSoftwareVersion: "1"}
}

// servedAPIs asks the broker what it serves, limited to what kmsg can encode.
func servedAPIs(t testing.TB, b *brokertest.Broker) []servedAPI {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, b.Client())
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		t.Fatalf("ApiVersions: %v", err)
	}
	var apis []servedAPI
	for _, k := range resp.ApiKeys {
		req := kmsg.RequestForKey(k.ApiKey)
		if req == nil || k.MinVersion > req.MaxVersion() {
			t.Logf("%s (key %d) v%d-%d: kmsg cannot encode it; not fuzzed", kmsg.NameForKey(k.ApiKey), k.ApiKey, k.MinVersion, k.MaxVersion)
			continue
		}
		apis = append(apis, servedAPI{key: k.ApiKey, min: k.MinVersion, max: min(k.MaxVersion, req.MaxVersion())})
	}
	if len(apis) < 50 {
		t.Fatalf("ApiVersions lists %d APIs kmsg knows; expected the broker's whole table", len(apis))
	}
	return apis
}

// createFuzzTopic creates the topic the seeds name, with a few records in partition 0 so
// that reads have something to return, and returns its id.
func createFuzzTopic(t testing.TB, b *brokertest.Broker) [16]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := b.Client()
	create := kmsg.NewPtrCreateTopicsRequest()
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = fuzzTopic, 3, 1
	create.Topics = append(create.Topics, ct)
	created, err := create.RequestWith(ctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(created.Topics[0].ErrorCode)
	}
	if err != nil {
		t.Fatalf("create %s: %v", fuzzTopic, err)
	}
	produce := produceRequest(-1, recordBatch("a", "b", "c"))
	produce.Topics[0].TopicID = created.Topics[0].TopicID
	resp, err := cl.Request(ctx, produce)
	if err == nil {
		err = kerr.ErrorForCode(resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode)
	}
	if err != nil {
		t.Fatalf("produce to %s: %v", fuzzTopic, err)
	}
	return created.Topics[0].TopicID
}

// recordBatch is a v2 batch of one record per value, each with a key and a header, from
// no producer, as franz-go's producer would send it uncompressed.
func recordBatch(values ...string) []byte {
	var records []byte
	for i, v := range values {
		r := kmsg.Record{OffsetDelta: int32(i), TimestampDelta64: int64(i), Key: []byte("k"), Value: []byte(v),
			Headers: []kmsg.Header{{Key: "h", Value: []byte("v")}}}
		r.Length = int32(len(r.AppendTo(nil)) - 1) // less the one-byte varint of 0
		records = r.AppendTo(records)
	}
	now := time.Now().UnixMilli()
	batch := kmsg.RecordBatch{Magic: 2, LastOffsetDelta: int32(len(values) - 1), FirstTimestamp: now,
		MaxTimestamp: now + int64(len(values)-1), ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1,
		NumRecords: int32(len(values)), Records: records}
	batch.Length = int32(len(batch.AppendTo(nil)) - 12) // less base offset and length
	raw := batch.AppendTo(nil)
	batch.CRC = int32(crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return batch.AppendTo(nil)
}

// produceRequest sends batch to the fuzz topic's partition, named both ways (name
// before v13, id from it).
func produceRequest(acks int16, batch []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = acks, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic, rt.TopicID = fuzzTopic, fuzzTopicID
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// fuzzSeeds are a request of every served API with kmsg's defaults at its highest
// version, and realistic ones of the APIs with the most to do.
func fuzzSeeds(apis []servedAPI) []kmsg.Request {
	var seeds []kmsg.Request
	maxVersion := map[int16]int16{}
	for _, api := range apis {
		req := kmsg.RequestForKey(api.key)
		req.SetVersion(api.max)
		seeds = append(seeds, req)
		maxVersion[api.key] = api.max
	}
	at := func(version int16, req kmsg.Request) kmsg.Request {
		if version < 0 {
			version = maxVersion[req.Key()]
		}
		req.SetVersion(min(version, maxVersion[req.Key()]))
		return req
	}
	str := func(s string) *string { return &s }
	topic := fuzzTopic

	produce := produceRequest(-1, recordBatch("one", "two"))
	fetch := kmsg.NewPtrFetchRequest()
	fetch.MaxWaitMillis, fetch.MinBytes, fetch.MaxBytes = 100, 1, 1<<20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic, ft.TopicID = fuzzTopic, fuzzTopicID
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes, fp.CurrentLeaderEpoch = 1<<20, -1
	ft.Partitions = append(ft.Partitions, fp)
	fetch.Topics = append(fetch.Topics, ft)
	fetchByName := *fetch

	metadata := kmsg.NewPtrMetadataRequest()
	metadata.Topics = []kmsg.MetadataRequestTopic{{Topic: &topic, TopicID: fuzzTopicID}, {Topic: str("auto")}}
	metadata.AllowAutoTopicCreation = true

	create := kmsg.NewPtrCreateTopicsRequest()
	create.TimeoutMillis = 5000
	create.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: "compacted", NumPartitions: 2, ReplicationFactor: 1,
		Configs: []kmsg.CreateTopicsRequestTopicConfig{{Name: "cleanup.policy", Value: str("compact")}}}}

	initPID := kmsg.NewPtrInitProducerIDRequest()
	initPID.TransactionalID, initPID.TransactionTimeoutMillis = str("tx"), 60000

	addParts := kmsg.NewPtrAddPartitionsToTxnRequest()
	addParts.TransactionalID, addParts.ProducerID, addParts.ProducerEpoch = "tx", 0, 0
	addParts.Topics = []kmsg.AddPartitionsToTxnRequestTopic{{Topic: fuzzTopic, Partitions: []int32{0, 1}}}
	addPartsBatch := kmsg.NewPtrAddPartitionsToTxnRequest()
	addPartsBatch.Transactions = []kmsg.AddPartitionsToTxnRequestTransaction{{TransactionalID: "tx", ProducerID: 0,
		VerifyOnly: true, Topics: []kmsg.AddPartitionsToTxnRequestTransactionTopic{{Topic: fuzzTopic, Partitions: []int32{0}}}}}

	endTxn := kmsg.NewPtrEndTxnRequest()
	endTxn.TransactionalID, endTxn.Commit = "tx", true

	shareHeartbeat := kmsg.NewPtrShareGroupHeartbeatRequest()
	shareHeartbeat.GroupID, shareHeartbeat.MemberID = "share", "AAAAAAAAAAAAAAAAAAAAAA"
	shareHeartbeat.SubscribedTopicNames = []string{fuzzTopic}
	shareFetch := kmsg.NewPtrShareFetchRequest()
	shareFetch.GroupID, shareFetch.MemberID = str("share"), str("AAAAAAAAAAAAAAAAAAAAAA")
	shareFetch.MaxWaitMillis, shareFetch.MinBytes, shareFetch.MaxBytes, shareFetch.MaxRecords, shareFetch.BatchSize = 100, 1, 1<<20, 100, 10
	shareFetch.Topics = []kmsg.ShareFetchRequestTopic{{TopicID: fuzzTopicID, Partitions: []kmsg.ShareFetchRequestTopicPartition{
		{Partition: 0, AcknowledgementBatches: []kmsg.ShareFetchRequestTopicPartitionAcknowledgementBatch{
			{FirstOffset: 0, LastOffset: 1, AcknowledgeTypes: []int8{1}}}}}}}
	shareAck := kmsg.NewPtrShareAcknowledgeRequest()
	shareAck.GroupID, shareAck.MemberID, shareAck.ShareSessionEpoch = str("share"), str("AAAAAAAAAAAAAAAAAAAAAA"), 1
	shareAck.Topics = []kmsg.ShareAcknowledgeRequestTopic{{TopicID: fuzzTopicID, Partitions: []kmsg.ShareAcknowledgeRequestTopicPartition{
		{Partition: 0, AcknowledgementBatches: []kmsg.ShareAcknowledgeRequestTopicPartitionAcknowledgementBatch{
			{FirstOffset: 0, LastOffset: 2, AcknowledgeTypes: []int8{2}}}}}}}

	describeConfigs := kmsg.NewPtrDescribeConfigsRequest()
	describeConfigs.IncludeSynonyms, describeConfigs.IncludeDocumentation = true, true
	describeConfigs.Resources = []kmsg.DescribeConfigsRequestResource{
		{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: fuzzTopic},
		{ResourceType: kmsg.ConfigResourceTypeBroker, ResourceName: "1", ConfigNames: []string{"log.retention.ms"}}}
	alterConfigs := kmsg.NewPtrIncrementalAlterConfigsRequest()
	alterConfigs.Resources = []kmsg.IncrementalAlterConfigsRequestResource{{ResourceType: kmsg.ConfigResourceTypeTopic,
		ResourceName: fuzzTopic, Configs: []kmsg.IncrementalAlterConfigsRequestResourceConfig{
			{Name: "retention.ms", Op: kmsg.IncrementalAlterConfigOpSet, Value: str("3600000")}}}}

	listOffsets := kmsg.NewPtrListOffsetsRequest()
	listOffsets.ReplicaID = -1
	listOffsets.Topics = []kmsg.ListOffsetsRequestTopic{{Topic: fuzzTopic, Partitions: []kmsg.ListOffsetsRequestTopicPartition{
		{Partition: 0, CurrentLeaderEpoch: -1, Timestamp: -1}, {Partition: 1, CurrentLeaderEpoch: -1, Timestamp: -3}}}}
	leaderEpoch := kmsg.NewPtrOffsetForLeaderEpochRequest()
	leaderEpoch.ReplicaID = -1
	leaderEpoch.Topics = []kmsg.OffsetForLeaderEpochRequestTopic{{Topic: fuzzTopic,
		Partitions: []kmsg.OffsetForLeaderEpochRequestTopicPartition{{Partition: 0, CurrentLeaderEpoch: -1, LeaderEpoch: 0}}}}
	deleteRecords := kmsg.NewPtrDeleteRecordsRequest()
	deleteRecords.TimeoutMillis = 5000
	deleteRecords.Topics = []kmsg.DeleteRecordsRequestTopic{{Topic: fuzzTopic,
		Partitions: []kmsg.DeleteRecordsRequestTopicPartition{{Partition: 2, Offset: -1}}}}
	createPartitions := kmsg.NewPtrCreatePartitionsRequest()
	createPartitions.TimeoutMillis = 5000
	createPartitions.Topics = []kmsg.CreatePartitionsRequestTopic{{Topic: "compacted", Count: 3}}

	txnCommit := kmsg.NewPtrTxnOffsetCommitRequest()
	txnCommit.TransactionalID, txnCommit.Group, txnCommit.Generation = "tx", "g", -1
	txnCommit.Topics = []kmsg.TxnOffsetCommitRequestTopic{{Topic: fuzzTopic,
		Partitions: []kmsg.TxnOffsetCommitRequestTopicPartition{{Partition: 0, Offset: 1, LeaderEpoch: -1}}}}
	markers := kmsg.NewPtrWriteTxnMarkersRequest()
	markers.Markers = []kmsg.WriteTxnMarkersRequestMarker{{ProducerID: 0, Committed: true, CoordinatorEpoch: 0,
		Topics: []kmsg.WriteTxnMarkersRequestMarkerTopic{{Topic: fuzzTopic, Partitions: []int32{0}}}}}

	handshake := kmsg.NewPtrSASLHandshakeRequest()
	handshake.Mechanism = "PLAIN"
	handshakeV1 := *handshake
	authenticate := kmsg.NewPtrSASLAuthenticateRequest()
	authenticate.SASLAuthBytes = []byte("\x00carol\x00" + carolPassword)

	seeds = append(seeds,
		at(-1, produce), at(9, produceRequest(-1, recordBatch("x"))), at(-1, produceRequest(0, recordBatch("y"))),
		at(-1, fetch), at(12, &fetchByName),
		at(-1, metadata), at(-1, create), at(-1, initPID), at(3, addParts), at(-1, addPartsBatch), at(-1, endTxn),
		at(-1, shareHeartbeat), at(-1, shareFetch), at(-1, shareAck),
		at(-1, describeConfigs), at(-1, alterConfigs), at(-1, listOffsets), at(-1, leaderEpoch),
		at(-1, deleteRecords), at(-1, createPartitions), at(-1, txnCommit), at(-1, markers),
		at(0, handshake), at(1, &handshakeV1), at(-1, authenticate),
	)
	for _, r := range hostileSeeds() {
		version := r.GetVersion() // a version the seed chose, else the highest
		if version == 0 {
			version = -1
		}
		seeds = append(seeds, at(version, r))
	}
	return seeds
}

// boundWaits caps the fields with which a request asks the broker to wait: waiting as
// long as asked is right (a Fetch may long-poll for days), but the fuzzer's deadline is
// seconds.
func boundWaits(req kmsg.Request) {
	const most = 3000
	switch r := req.(type) {
	case *kmsg.FetchRequest:
		r.MaxWaitMillis = min(r.MaxWaitMillis, most)
	case *kmsg.ShareFetchRequest:
		r.MaxWaitMillis = min(r.MaxWaitMillis, most)
	case *kmsg.JoinGroupRequest:
		// A rebalance waits for the members to rejoin up to their rebalance timeout, and a
		// follower's SyncGroup for its leader up to its session timeout.
		r.RebalanceTimeoutMillis = min(r.RebalanceTimeoutMillis, most)
		r.SessionTimeoutMillis = min(r.SessionTimeoutMillis, 6000)
	}
}

// exchangeThen sends req and then next on one fresh connection, without waiting
// between them, and waits for next's response. When strict, both must be answered in
// order (req not at all if it is an acks=0 Produce), and req's response must decode as
// its version of the response: a handler that closes the connection instead of
// answering, or answers what a client cannot read, fails. Otherwise a close is allowed
// and anything read before next's response is skipped (after a v0 SaslHandshake the
// frames are bare SASL tokens).
func exchangeThen(t *testing.T, dial func(*testing.T) net.Conn, req, next kmsg.Request, strict bool) {
	t.Helper()
	conn := dial(t)
	defer conn.Close()
	format := kmsg.NewRequestFormatter(kmsg.FormatterClientID("fuzz"))
	// AppendRequest writes the size at dst[0:4]: each frame needs a buffer of its own.
	frames := append(format.AppendRequest(nil, req, 1), format.AppendRequest(nil, next, 2)...)
	name := fmt.Sprintf("%s v%d", kmsg.NameForKey(req.Key()), req.GetVersion())
	if _, err := conn.Write(frames); err != nil {
		if !strict && !isTimeout(err) {
			return // closed after the first
		}
		t.Fatalf("%s: write: %v", name, err)
	}
	want, mayClose := int32(1), !strict
	if produce, ok := req.(*kmsg.ProduceRequest); ok && produce.Acks == 0 {
		// acks=0: no response; one that failed closes the connection, as in Kafka.
		want, mayClose = 2, true
	}
	for {
		correlationID, body, err := readResponse(conn)
		switch {
		case err != nil && mayClose && !isTimeout(err):
			return
		case err != nil:
			t.Fatalf("%s then %s: no response (waiting for correlation id %d): %v", name, kmsg.NameForKey(next.Key()), want, err)
		case correlationID == 2 && (!strict || want == 2):
			return
		case !strict:
		case correlationID != want:
			t.Fatalf("%s: response with correlation id %d, want %d", name, correlationID, want)
		default:
			if err := decodeResponse(req, body); err != nil {
				t.Fatalf("%s: response does not decode: %v", name, err)
			}
			want = 2
		}
	}
}

// decodeResponse reads body, a response after its correlation id, as req's response.
func decodeResponse(req kmsg.Request, body []byte) error {
	_, err := readResponseAs(req, body)
	return err
}

// readResponseAs decodes body, a response after its correlation id, as req's response.
func readResponseAs(req kmsg.Request, body []byte) (kmsg.Response, error) {
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if resp.IsFlexible() && req.Key() != 18 { // ApiVersions keeps response header v0
		var err error
		if body, err = skipTags(body); err != nil {
			return nil, fmt.Errorf("response header: %w", err)
		}
	}
	return resp, resp.ReadFrom(body)
}

// skipTags skips a tagged field section.
func skipTags(b []byte) ([]byte, error) {
	uvarint := func() uint64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			b = nil
			return 0
		}
		b = b[n:]
		return v
	}
	for n := uvarint(); n > 0 && b != nil; n-- {
		uvarint()
		size := uvarint()
		if size > uint64(len(b)) {
			return nil, io.ErrUnexpectedEOF
		}
		b = b[size:]
	}
	if b == nil {
		return nil, io.ErrUnexpectedEOF
	}
	return b, nil
}

// panicLog is a slog handler that keeps the panics the broker logs (the server's
// recovery on the reader, the dispatcher's off it) and drops everything else.
type panicLog struct {
	mu      sync.Mutex
	records []string
}

func (p *panicLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }
func (p *panicLog) WithAttrs([]slog.Attr) slog.Handler           { return p }
func (p *panicLog) WithGroup(string) slog.Handler                { return p }

func (p *panicLog) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	found := strings.Contains(r.Message, "nil reply")
	fmt.Fprintf(&b, "%s", r.Message)
	r.Attrs(func(a slog.Attr) bool {
		found = found || a.Key == "panic"
		fmt.Fprintf(&b, "\n%s: %s", a.Key, a.Value)
		return true
	})
	if found {
		p.mu.Lock()
		p.records = append(p.records, b.String())
		p.mu.Unlock()
	}
	return nil
}

func (p *panicLog) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.records, "\n\n")
}

// count is the handler panics so far: handler_panics_total (the server's count, of
// panics on the reader), and the logged panics and nil replies, which also cover
// goroutines a handler started.
func (p *panicLog) count(t *testing.T, b *brokertest.Broker) (counted float64, logged int) {
	t.Helper()
	counted = gatherCounter(t, b.MetricsRegistry(), "nagare_server_handler_panics_total")
	p.mu.Lock()
	defer p.mu.Unlock()
	return counted, len(p.records)
}

// gatherCounter sums a counter's series in r.
func gatherCounter(t *testing.T, r prometheus.Gatherer, name string) float64 {
	t.Helper()
	families, err := r.Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
			return sum
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// hostileSeeds are requests that are valid on the wire but ask for what no broker
// should do as asked: huge partition counts, negative and far-out offsets and epochs,
// invalid configs, duplicate replicas, a regular expression that cannot compile. Each
// must be answered with an error code, quickly (CreateTopics of 1<<20 partitions once
// held the broker for minutes).
func hostileSeeds() []kmsg.Request {
	str := func(s string) *string { return &s }
	var reqs []kmsg.Request
	{
		r := kmsg.NewPtrCreateTopicsRequest()
		r.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: "huge", NumPartitions: 1 << 20, ReplicationFactor: 1}}
		reqs = append(reqs, r)
	}
	{
		r := kmsg.NewPtrCreateTopicsRequest()
		r.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: "manual", NumPartitions: -1, ReplicationFactor: -1,
			ReplicaAssignment: []kmsg.CreateTopicsRequestTopicReplicaAssignment{{Partition: 5, Replicas: []int32{1}}, {Partition: 1 << 30, Replicas: []int32{1, 1}}}}}
		reqs = append(reqs, r)
	}
	{
		r := kmsg.NewPtrCreatePartitionsRequest()
		r.Topics = []kmsg.CreatePartitionsRequestTopic{{Topic: fuzzTopic, Count: 1 << 20}}
		reqs = append(reqs, r)
	}
	{
		r := kmsg.NewPtrCreatePartitionsRequest()
		r.Topics = []kmsg.CreatePartitionsRequestTopic{{Topic: fuzzTopic, Count: 5, Assignment: []kmsg.CreatePartitionsRequestTopicAssignment{{Replicas: []int32{1}}}}}
		reqs = append(reqs, r)
	}
	for _, cfg := range [][2]string{{"segment.bytes", "1"}, {"segment.bytes", "-5"}, {"max.message.bytes", "-1"}, {"segment.index.bytes", "1"}, {"retention.ms", "-9"}, {"min.insync.replicas", "9"}, {"segment.ms", "0"}, {"message.timestamp.type", "x"}, {"cleanup.policy", ""}, {"compression.type", "zstd"}, {"compression.zstd.level", "99"}, {"segment.index.bytes", "0"}, {"index.interval.bytes", "-1"}, {"segment.jitter.ms", "-1"}} {
		r := kmsg.NewPtrIncrementalAlterConfigsRequest()
		r.ValidateOnly = true
		r.Resources = []kmsg.IncrementalAlterConfigsRequestResource{{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: fuzzTopic,
			Configs: []kmsg.IncrementalAlterConfigsRequestResourceConfig{{Name: cfg[0], Op: kmsg.IncrementalAlterConfigOpSet, Value: str(cfg[1])}}}}
		reqs = append(reqs, r)
		r2 := kmsg.NewPtrCreateTopicsRequest()
		r2.ValidateOnly = true
		r2.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: "cfg", NumPartitions: 1, ReplicationFactor: 1, Configs: []kmsg.CreateTopicsRequestTopicConfig{{Name: cfg[0], Value: str(cfg[1])}}}}
		reqs = append(reqs, r2)
	}
	{
		r := kmsg.NewPtrFetchRequest()
		r.MaxWaitMillis, r.MaxBytes = 10, -1
		r.Topics = []kmsg.FetchRequestTopic{{Topic: fuzzTopic, Partitions: []kmsg.FetchRequestTopicPartition{{Partition: -1, FetchOffset: -5, PartitionMaxBytes: -1}, {Partition: 0, FetchOffset: 1 << 62, PartitionMaxBytes: 1 << 30, LogStartOffset: 1 << 62}, {Partition: 0, FetchOffset: 0, PartitionMaxBytes: -1}}}}
		r.SetVersion(12)
		reqs = append(reqs, r)
	}
	{
		r := kmsg.NewPtrDeleteRecordsRequest()
		r.Topics = []kmsg.DeleteRecordsRequestTopic{{Topic: fuzzTopic, Partitions: []kmsg.DeleteRecordsRequestTopicPartition{{Partition: 0, Offset: 1 << 62}, {Partition: 1, Offset: -7}, {Partition: 99, Offset: 1}}}}
		reqs = append(reqs, r)
	}
	{
		r := kmsg.NewPtrOffsetForLeaderEpochRequest()
		r.ReplicaID = -1
		r.Topics = []kmsg.OffsetForLeaderEpochRequestTopic{{Topic: fuzzTopic, Partitions: []kmsg.OffsetForLeaderEpochRequestTopicPartition{{Partition: 0, CurrentLeaderEpoch: 1 << 30, LeaderEpoch: 1 << 30}, {Partition: 0, CurrentLeaderEpoch: -1, LeaderEpoch: -5}}}}
		reqs = append(reqs, r)
	}
	{
		r := kmsg.NewPtrListOffsetsRequest()
		r.ReplicaID = -1
		r.Topics = []kmsg.ListOffsetsRequestTopic{{Topic: fuzzTopic, Partitions: []kmsg.ListOffsetsRequestTopicPartition{{Partition: 0, Timestamp: -4, CurrentLeaderEpoch: -1}, {Partition: 0, Timestamp: -5}, {Partition: 0, Timestamp: -99}, {Partition: 0, Timestamp: 1 << 62}, {Partition: -1, Timestamp: -1}}}}
		reqs = append(reqs, r)
	}
	{
		r := kmsg.NewPtrAlterPartitionAssignmentsRequest()
		r.Topics = []kmsg.AlterPartitionAssignmentsRequestTopic{{Topic: fuzzTopic, Partitions: []kmsg.AlterPartitionAssignmentsRequestTopicPartition{{Partition: 0, Replicas: []int32{1, 1}}, {Partition: 1, Replicas: []int32{}}, {Partition: 2, Replicas: []int32{-1}}, {Partition: 77, Replicas: []int32{1}}}}}
		reqs = append(reqs, r)
	}
	{
		r := kmsg.NewPtrElectLeadersRequest()
		r.ElectionType = 9
		r.Topics = []kmsg.ElectLeadersRequestTopic{{Topic: fuzzTopic, Partitions: []int32{-1, 0, 99}}}
		reqs = append(reqs, r)
	}
	{
		r := kmsg.NewPtrDescribeProducersRequest()
		r.Topics = []kmsg.DescribeProducersRequestTopic{{Topic: fuzzTopic, Partitions: []int32{-1, 0, 99, 0, 0}}}
		reqs = append(reqs, r)
	}
	{
		r := kmsg.NewPtrInitProducerIDRequest()
		r.TransactionalID, r.TransactionTimeoutMillis = str("tx2"), -1
		reqs = append(reqs, r)
		r2 := kmsg.NewPtrInitProducerIDRequest()
		r2.TransactionalID, r2.TransactionTimeoutMillis = str("tx3"), 1<<31-1
		reqs = append(reqs, r2)
		r3 := kmsg.NewPtrInitProducerIDRequest()
		r3.ProducerID, r3.ProducerEpoch = 1<<62, 32767
		reqs = append(reqs, r3)
	}
	{
		r := kmsg.NewPtrAlterClientQuotasRequest()
		r.Entries = []kmsg.AlterClientQuotasRequestEntry{{Entity: []kmsg.AlterClientQuotasRequestEntryEntity{{Type: "client-id"}}, Ops: []kmsg.AlterClientQuotasRequestEntryOp{{Key: "request_percentage", Value: -1}, {Key: "producer_byte_rate", Value: 1e300}}}}
		reqs = append(reqs, r)
	}
	{
		r := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
		r.Upsertions = []kmsg.AlterUserSCRAMCredentialsRequestUpsertion{{Name: "u", Mechanism: 1, Iterations: 1 << 30, Salt: []byte("s"), SaltedPassword: []byte("p")}}
		reqs = append(reqs, r)
	}
	{
		r := kmsg.NewPtrOffsetCommitRequest()
		r.Group, r.Generation = "g", -1
		r.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: fuzzTopic, Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: -5, Metadata: str(string(make([]byte, 100000)))}}}}
		reqs = append(reqs, r)
	}
	{
		r := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		r.Group, r.MemberEpoch, r.RebalanceTimeoutMillis = "cg", 0, 1000
		r.SubscribedTopicRegex = str("(((a*)*)*)*b[")
		reqs = append(reqs, r)
	}
	return reqs
}
