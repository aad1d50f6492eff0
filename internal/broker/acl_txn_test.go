package broker_test

// ACL enforcement of the exactly-once and admin APIs, as Kafka's KafkaApis authorizes
// them. Set up as in TestACLEnforcement: a first start with ANONYMOUS a super user lays
// down the ACLs (and one transaction), a restart without super users holds ANONYMOUS
// to them. Requests go straight to the one broker, so each handler's own check is what
// answers (the client would otherwise fail earlier, in FindCoordinator or Metadata).

import (
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

func TestACLTransactionsAndAdmin(t *testing.T) {
	dir := t.TempDir()
	props := map[string]string{"authorizer.class.name": standardAuthorizer}
	for k, v := range txnProps {
		props[k] = v
	}
	// One coordinator partition: once tx-ok's loaded, so is tx-hidden's.
	props["transaction.state.log.num.partitions"] = "1"
	first := brokertest.Start(t, brokertest.WithDataDir(dir), brokertest.WithProperties(withProp(props, "super.users", anonymous)))
	adm := first.Admin()
	for _, topic := range []string{"txn.write", "txn.denied", "txn.read"} {
		createTopic(t, adm, topic, 1, nil)
	}
	mustCreateACLs(t, adm, kadm.NewACLs().Allow(anonymous).TransactionalIDs("tx-ok").Operations(kadm.OpWrite))
	mustCreateACLs(t, adm, kadm.NewACLs().Allow(anonymous).Topics("txn.write").Operations(kadm.OpWrite))
	mustCreateACLs(t, adm, kadm.NewACLs().Allow(anonymous).Topics("txn.read").Operations(kadm.OpRead))
	// A transactional id ANONYMOUS will not be allowed to see.
	if code := aclInitProducerID(t, first.Client(), "tx-hidden"); code != 0 {
		t.Fatalf("InitProducerId as a super user: %v", kerr.ErrorForCode(code))
	}
	if ids := listTransactionIDs(t, first.Client()); !slices.Equal(ids, []string{"tx-hidden"}) {
		t.Fatalf("ListTransactions as a super user: %v", ids)
	}
	first.Stop()

	b := brokertest.Start(t, brokertest.WithDataDir(dir), brokertest.WithProperties(props))
	cl := b.Client()

	if code := aclInitProducerID(t, cl, "tx-denied"); code != kerr.TransactionalIDAuthorizationFailed.Code {
		t.Fatalf("InitProducerId without WRITE on the transactional id: %v", kerr.ErrorForCode(code))
	}
	if code := aclInitProducerID(t, cl, "tx-ok"); code != 0 {
		t.Fatalf("InitProducerId with WRITE: %v", kerr.ErrorForCode(code))
	}
	add := addPartitionsCodes(t, cl, "tx-ok", "txn.write", "txn.denied")
	if want := []int16{kerr.OperationNotAttempted.Code, kerr.TopicAuthorizationFailed.Code}; !slices.Equal(add, want) {
		t.Fatalf("AddPartitionsToTxn codes %v, want %v", add, want)
	}
	if code := writeMarkersCode(t, cl, "txn.write"); code != kerr.ClusterAuthorizationFailed.Code {
		t.Fatalf("WriteTxnMarkers without CLUSTER_ACTION: %v", kerr.ErrorForCode(code))
	}
	if code := describeProducersCode(t, cl, "txn.write"); code != kerr.TopicAuthorizationFailed.Code {
		t.Fatalf("DescribeProducers without READ: %v", kerr.ErrorForCode(code))
	}
	if code := describeProducersCode(t, cl, "txn.read"); code != 0 {
		t.Fatalf("DescribeProducers with READ: %v", kerr.ErrorForCode(code))
	}
	if ids := listTransactionIDs(t, cl); !slices.Equal(ids, []string{"tx-ok"}) {
		t.Fatalf("ListTransactions shows %v, want only tx-ok (DESCRIBE, implied by WRITE)", ids)
	}
	desc := kmsg.NewPtrDescribeTransactionsRequest()
	desc.TransactionalIDs = []string{"tx-hidden", "tx-ok"}
	if resp := direct(t, cl, desc).(*kmsg.DescribeTransactionsResponse); resp.TransactionStates[0].ErrorCode != kerr.TransactionalIDAuthorizationFailed.Code ||
		resp.TransactionStates[1].ErrorCode != 0 {
		t.Fatalf("DescribeTransactions: %+v", resp.TransactionStates)
	}
	elect := kmsg.NewPtrElectLeadersRequest()
	et := kmsg.NewElectLeadersRequestTopic()
	et.Topic, et.Partitions = "txn.write", []int32{0}
	elect.Topics = append(elect.Topics, et)
	if resp := direct(t, cl, elect).(*kmsg.ElectLeadersResponse); resp.ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Fatalf("ElectLeaders without ALTER on the cluster: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	dirs := kmsg.NewPtrDescribeLogDirsRequest()
	if resp := direct(t, cl, dirs).(*kmsg.DescribeLogDirsResponse); resp.ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Fatalf("DescribeLogDirs without DESCRIBE on the cluster: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
}

func withProp(props map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for pk, pv := range props {
		out[pk] = pv
	}
	return out
}

// direct sends req to the broker itself, without the client's routing; opts make a
// client of the same broker for it (a version cap).
func direct(t *testing.T, cl *kgo.Client, req kmsg.Request, opts ...kgo.Opt) kmsg.Response {
	t.Helper()
	if len(opts) > 0 {
		var err error
		if cl, err = kgo.NewClient(append(cl.Opts(), opts...)...); err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
	}
	meta, err := kmsg.NewPtrMetadataRequest().RequestWith(testContext(t), cl)
	if err != nil || len(meta.Brokers) == 0 {
		t.Fatalf("metadata: %v %+v", err, meta)
	}
	resp, err := cl.Broker(int(meta.Brokers[0].NodeID)).Request(testContext(t), req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// initProducerID asks for a producer id for a transactional id, retrying while the
// coordinator loads, and returns the error code.
func aclInitProducerID(t *testing.T, cl *kgo.Client, id string) int16 {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionalID, req.TransactionTimeoutMillis = kmsg.StringPtr(id), 60000
		req.ProducerID, req.ProducerEpoch = -1, -1
		code := direct(t, cl, req).(*kmsg.InitProducerIDResponse).ErrorCode
		retriable := code == kerr.CoordinatorLoadInProgress.Code || code == kerr.NotCoordinator.Code ||
			code == kerr.CoordinatorNotAvailable.Code || code == kerr.ConcurrentTransactions.Code
		if !retriable || time.Now().After(deadline) {
			return code
		}
		// FindCoordinator creates __transaction_state on first use.
		fc := kmsg.NewPtrFindCoordinatorRequest()
		fc.CoordinatorType, fc.CoordinatorKey, fc.CoordinatorKeys = 1, id, []string{id}
		direct(t, cl, fc)
		time.Sleep(100 * time.Millisecond)
	}
}

// addPartitionsCodes adds partition 0 of each topic to id's transaction (the client's
// v3 form, with producer id and epoch -1: authorization comes first) and returns the
// codes in topic order.
func addPartitionsCodes(t *testing.T, cl *kgo.Client, id string, topics ...string) []int16 {
	t.Helper()
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch = id, -1, -1
	for _, topic := range topics {
		rt := kmsg.NewAddPartitionsToTxnRequestTopic()
		rt.Topic, rt.Partitions = topic, []int32{0}
		req.Topics = append(req.Topics, rt)
	}
	v3 := kversion.Stable()
	v3.SetMaxKeyVersion(kmsg.AddPartitionsToTxn.Int16(), 3)
	resp := direct(t, cl, req, kgo.MaxVersions(v3)).(*kmsg.AddPartitionsToTxnResponse)
	var codes []int16
	for _, topic := range topics {
		for _, rt := range resp.Topics {
			if rt.Topic == topic {
				codes = append(codes, rt.Partitions[0].ErrorCode)
			}
		}
	}
	return codes
}

func writeMarkersCode(t *testing.T, cl *kgo.Client, topic string) int16 {
	t.Helper()
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	m := kmsg.NewWriteTxnMarkersRequestMarker()
	m.ProducerID, m.ProducerEpoch, m.Committed, m.CoordinatorEpoch = 1, 0, true, 0
	mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
	mt.Topic, mt.Partitions = topic, []int32{0}
	m.Topics = append(m.Topics, mt)
	req.Markers = append(req.Markers, m)
	resp := direct(t, cl, req).(*kmsg.WriteTxnMarkersResponse)
	return resp.Markers[0].Topics[0].Partitions[0].ErrorCode
}

func describeProducersCode(t *testing.T, cl *kgo.Client, topic string) int16 {
	t.Helper()
	req := kmsg.NewPtrDescribeProducersRequest()
	rt := kmsg.NewDescribeProducersRequestTopic()
	rt.Topic, rt.Partitions = topic, []int32{0}
	req.Topics = append(req.Topics, rt)
	resp := direct(t, cl, req).(*kmsg.DescribeProducersResponse)
	return resp.Topics[0].Partitions[0].ErrorCode
}

func listTransactionIDs(t *testing.T, cl *kgo.Client) []string {
	t.Helper()
	resp := direct(t, cl, kmsg.NewPtrListTransactionsRequest()).(*kmsg.ListTransactionsResponse)
	if resp.ErrorCode != 0 {
		t.Fatalf("ListTransactions: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	var ids []string
	for _, s := range resp.TransactionStates {
		ids = append(ids, s.TransactionalID)
	}
	slices.Sort(ids)
	return ids
}
