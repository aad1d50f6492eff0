package metadata

import (
	"bufio"
	"bytes"
	"slices"
	"testing"
)

// TestRegisterBrokerEpochs: a new incarnation gets its registration's index as broker
// epoch and the fencing it asks for; a retry of the same incarnation keeps both; a
// snapshot keeps epoch, incarnation and listeners; a version 0 record (written before
// epochs) still reads, with its index as epoch.
func TestRegisterBrokerEpochs(t *testing.T) {
	plain := []Endpoint{{Name: "PLAINTEXT", Host: "h", Port: 9092, SecurityProtocol: "PLAINTEXT"},
		{Name: "SSL", Host: "h", Port: 9093, SecurityProtocol: "SSL"}}
	first := RegisterBroker{NodeID: 1, Host: "h", Port: 9092, IncarnationID: "a", Fenced: true, Listeners: plain}
	img := mustApply(t, emptyImage, SetClusterID{ID: "c"}, first)
	b, _ := img.Broker(1)
	if b.Epoch != 2 || !b.Fenced || b.IncarnationID != "a" || !slices.Equal(b.Listeners, plain) {
		t.Fatalf("first registration: %+v", b)
	}
	img = mustApply(t, img, UnfenceBroker{NodeID: 1}, first) // a retry of incarnation a
	if b, _ := img.Broker(1); b.Epoch != 2 || b.Fenced {
		t.Fatalf("retry of the same incarnation: %+v, want epoch 2 unfenced", b)
	}
	restarted := first
	restarted.IncarnationID = "b"
	img = mustApply(t, img, restarted)
	if b, _ := img.Broker(1); b.Epoch != int64(img.Index()) || !b.Fenced {
		t.Fatalf("new incarnation: %+v, want epoch %d fenced", b, img.Index())
	}
	if host, port, ok := (Broker{Listeners: plain}).Endpoint("ssl"); !ok || host != "h" || port != 9093 {
		t.Fatalf("Endpoint(ssl) = %s %d %v", host, port, ok)
	}
	if _, _, ok := (Broker{Listeners: plain}).Endpoint("SASL_SSL"); ok {
		t.Fatal("Endpoint of an unregistered listener")
	}

	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	if err := writeSnapshot(w, img); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	got, err := readSnapshot(bufio.NewReader(&buf))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Broker(1)
	if b, _ := got.Broker(1); b.Epoch != want.Epoch || b.IncarnationID != "b" || !b.Fenced || !slices.Equal(b.Listeners, plain) {
		t.Fatalf("snapshot: %+v, want %+v", b, want)
	}
}

// TestRegisterBrokerVersion0: a registration without epochs is written and read as
// version 0, so nodes predating broker epochs read it, and logs they wrote still apply.
func TestRegisterBrokerVersion0(t *testing.T) {
	old := RegisterBroker{NodeID: 3, Host: "h", Port: 1}
	data, err := EncodeRecord(old)
	if err != nil {
		t.Fatal(err)
	}
	if data[1] != 0 {
		t.Fatalf("version %d, want 0", data[1])
	}
	legacy := append([]byte{byte(RecordRegisterBroker), 0}, `{"nodeId":3,"host":"h","port":1,"rack":""}`...)
	rec, err := DecodeRecord(legacy)
	if err != nil {
		t.Fatal(err)
	}
	img := mustApply(t, emptyImage, rec)
	if b, _ := img.Broker(3); b.Epoch != 1 || b.Fenced || b.Listeners != nil {
		t.Fatalf("legacy registration: %+v", b)
	}
	if host, port, ok := mustBroker(t, img, 3).Endpoint("ANY"); !ok || host != "h" || port != 1 {
		t.Fatalf("legacy Endpoint = %s %d %v", host, port, ok)
	}
	data, _ = EncodeRecord(RegisterBroker{NodeID: 3, Host: "h", Port: 1, IncarnationID: "x"})
	if data[1] != 1 {
		t.Fatalf("version %d, want 1", data[1])
	}
}

func mustBroker(t *testing.T, img *Image, id int32) Broker {
	t.Helper()
	b, ok := img.Broker(id)
	if !ok {
		t.Fatalf("broker %d not registered", id)
	}
	return b
}
